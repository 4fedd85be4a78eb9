/* SPDX-License-Identifier: MIT */
/*
 * Cloud provider and instance type from DMI strings and local files alone: no metadata
 * server, no network. Each provider is recognised by the DMI strings its hypervisor sets:
 *
 *   AWS    sys_vendor / bios_vendor "Amazon EC2" (Nitro); bios_version "*amazon" (Xen era).
 *          Nitro puts the instance type in product_name ("p5.48xlarge").
 *   GCP    sys_vendor "Google", product_name "Google Compute Engine".
 *   Azure  sys_vendor "Microsoft Corporation", product_name "Virtual Machine" and the chassis
 *          asset tag every Azure VM carries, 7783-7084-3265-9085-8269-3286-77.
 *   OCI    chassis_asset_tag "OracleCloud.com".
 *   also   Alibaba ("Alibaba Cloud"), DigitalOcean, Hetzner, OpenStack (generic).
 *
 * GCP, Azure and OCI keep the machine type out of DMI; where cloud-init cached the metadata it
 * read at boot (/run/cloud-init/instance-data.json, world-readable) it is taken from there, and
 * otherwise the field says where it would have to come from.
 */
#include "probe.h"

#include "../core/ab.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct dmi {
    char sys_vendor[128], product_name[128], product_version[128], bios_vendor[128],
        bios_version[128], chassis_asset_tag[128], board_asset_tag[128], chassis_vendor[128];
    bool any; /* at least one DMI string was readable */
    char why[AB_ERRLEN];
} dmi;

static void dmi_read(const ab_probe_opts *o, dmi *d)
{
    memset(d, 0, sizeof(*d));
    struct {
        const char *name;
        char *buf;
    } f[] = {{"sys_vendor", d->sys_vendor},           {"product_name", d->product_name},
             {"product_version", d->product_version}, {"bios_vendor", d->bios_vendor},
             {"bios_version", d->bios_version},       {"chassis_asset_tag", d->chassis_asset_tag},
             {"board_asset_tag", d->board_asset_tag}, {"chassis_vendor", d->chassis_vendor}};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        char path[96], why[AB_ERRLEN];
        snprintf(path, sizeof(path), "/sys/class/dmi/id/%s", f[i].name);
        if (ab_probe_read(o, path, f[i].buf, 128, why) == 0)
            d->any = true;
        else if (!*d->why)
            ab_strlcpy(d->why, why, sizeof(d->why));
    }
}

/* A value from cloud-init's cached instance data: the first of the dotted key paths found. */
static int cloud_init_get(const ab_probe_opts *o, const char *const *paths, char *out, size_t len,
                          const char **used)
{
    char file[4096];
    ab_probe_path(o, "/run/cloud-init/instance-data.json", file, sizeof(file));
    char *text, why[AB_ERRLEN];
    size_t tlen;
    if (ab_read_input(file, AB_MAX_PROBE_BYTES, "cloud-init instance data", &text, &tlen, why))
        return -1;
    json_error_t je;
    json_t *doc = json_loadb(text, tlen, 0, &je);
    free(text);
    if (!doc) return -1;
    int rc = -1;
    for (size_t i = 0; paths[i] && rc; i++) {
        char p[256];
        ab_strlcpy(p, paths[i], sizeof(p));
        json_t *cur = doc;
        for (char *save = NULL, *tok = strtok_r(p, ".", &save); tok && cur;
             tok = strtok_r(NULL, ".", &save))
            cur = json_object_get(cur, tok);
        if (json_is_string(cur) && *json_string_value(cur)) {
            ab_strlcpy(out, json_string_value(cur), len);
            *used = paths[i];
            rc = 0;
        }
    }
    json_decref(doc);
    return rc;
}

static bool ieq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

/* the cloud provider the DMI strings name (NULL: none we know), *evidence which strings */
static const char *dmi_provider(const dmi *d, const char **evidence)
{
    if (ieq(d->sys_vendor, "Amazon EC2") || ieq(d->bios_vendor, "Amazon EC2")) {
        *evidence = "DMI sys_vendor/bios_vendor 'Amazon EC2'";
        return "aws";
    } else if (strcasestr(d->bios_version, "amazon") || strcasestr(d->product_version, "amazon")) {
        *evidence = "DMI bios_version '*amazon' (Xen-based EC2)";
        return "aws";
    } else if (ieq(d->sys_vendor, "Google") || ieq(d->product_name, "Google Compute Engine")) {
        *evidence = "DMI sys_vendor 'Google' / product_name 'Google Compute Engine'";
        return "gcp";
    } else if (strcmp(d->chassis_asset_tag, "7783-7084-3265-9085-8269-3286-77") == 0) {
        *evidence = "DMI chassis_asset_tag 7783-7084-3265-9085-8269-3286-77 (Azure)";
        return "azure";
    } else if (ieq(d->chassis_asset_tag, "OracleCloud.com")) {
        *evidence = "DMI chassis_asset_tag 'OracleCloud.com'";
        return "oci";
    } else if (strcasestr(d->sys_vendor, "Alibaba") || strcasestr(d->product_name, "Alibaba")) {
        *evidence = "DMI sys_vendor/product_name 'Alibaba Cloud'";
        return "alibaba";
    } else if (ieq(d->sys_vendor, "DigitalOcean")) {
        *evidence = "DMI sys_vendor 'DigitalOcean'";
        return "digitalocean";
    } else if (ieq(d->sys_vendor, "Hetzner")) {
        *evidence = "DMI sys_vendor 'Hetzner'";
        return "hetzner";
    } else if (strcasestr(d->sys_vendor, "OpenStack") || strcasestr(d->product_name, "OpenStack")) {
        *evidence = "DMI 'OpenStack' (provider-neutral)";
        return "openstack";
    }
    return NULL;
}

/* the instance_type field of an instance of provider */
static void instance_type_field(const ab_probe_opts *o, const dmi *d, const char *provider,
                                json_t *c)
{
    char it[128];
    const char *used = NULL;
    static const char *const type_keys[] = {
        "ds.meta_data.instance-type",       /* EC2 datasource */
        "ds.meta_data.imds.compute.vmSize", /* Azure IMDS, as cached by cloud-init */
        "ds.meta_data.machine-type",        /* GCE datasource */
        "ds.meta_data.shape",               /* OCI datasource */
        "v1.instance_type",
        NULL};
    bool aws_nitro_name = strcmp(provider, "aws") == 0 && *d->product_name &&
                          strchr(d->product_name, '.') && !strstr(d->product_name, "HVM");
    if (aws_nitro_name) {
        ab_field_set(c, "instance_type", json_string(d->product_name),
                     "/sys/class/dmi/id/product_name (AWS Nitro)");
    } else if (cloud_init_get(o, type_keys, it, sizeof(it), &used) == 0) {
        /* GCE reports "projects/N/machineTypes/a3-highgpu-8g": keep the last component */
        const char *slash = strrchr(it, '/');
        char src[160];
        snprintf(src, sizeof(src), "/run/cloud-init/instance-data.json %s", used);
        ab_field_set(c, "instance_type", json_string(slash ? slash + 1 : it), src);
    } else {
        static const char *const where[] = {
            "aws",
            "the Xen-era DMI product_name is 'HVM domU'; the type is only in the metadata "
            "service (not queried: no network calls)",
            "gcp",
            "GCP keeps the machine type out of DMI; it is only in the metadata server "
            "(not queried: no network calls) or cloud-init's cache, which is absent",
            "azure",
            "Azure keeps the VM size out of DMI; it is only in IMDS (not queried: no "
            "network calls) or cloud-init's cache, which is absent",
            "oci",
            "OCI keeps the shape out of DMI; it is only in the metadata service (not "
            "queried: no network calls) or cloud-init's cache, which is absent",
            NULL};
        const char *why = "the instance type is not in DMI and no cloud-init cache is present";
        for (size_t i = 0; where[i]; i += 2)
            if (strcmp(where[i], provider) == 0) why = where[i + 1];
        ab_field_unavailable(c, "instance_type", "%s", why);
    }
}

json_t *ab_probe_cloud(const ab_probe_opts *o)
{
    json_t *c = json_object();
    dmi d;
    dmi_read(o, &d);
    const char *evidence = NULL;
    const char *provider = dmi_provider(&d, &evidence);
    if (!provider) {
        if (!d.any) {
            ab_field_unavailable(c, "provider", "no DMI strings: %s", d.why);
            ab_field_unavailable(c, "instance_type", "no DMI strings: %s", d.why);
        } else {
            /* DMI is readable and names no cloud we know: an on-premises machine (a value) */
            ab_field_set(c, "provider", json_string("none"),
                         "/sys/class/dmi/id: no known cloud vendor strings");
            ab_field_unavailable(c, "instance_type", "not a recognised cloud instance");
        }
        ab_field_unavailable(c, "region", "not a recognised cloud instance");
        return c;
    }
    ab_field_set(c, "provider", json_string(provider), evidence);
    instance_type_field(o, &d, provider, c);
    static const char *const region_keys[] = {"v1.region", "v1.availability_zone", NULL};
    char region[128];
    const char *used = NULL;
    if (cloud_init_get(o, region_keys, region, sizeof(region), &used) == 0) {
        char src[160];
        snprintf(src, sizeof(src), "/run/cloud-init/instance-data.json %s", used);
        ab_field_set(c, "region", json_string(region), src);
    } else {
        ab_field_unavailable(c, "region",
                             "not in DMI; no cloud-init instance data "
                             "(/run/cloud-init/instance-data.json)");
    }
    return c;
}
