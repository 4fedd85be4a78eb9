/* SPDX-License-Identifier: MIT */
/*
 * Finding and loading a PJRT plugin: ACCELBENCH_PJRT_PLUGIN (a file; used alone when set), else
 * TPU_LIBRARY_PATH (what JAX honours), else the places pip puts libtpu and the AWS Neuron
 * plugin. Then GetPjrtApi, the version checks, PJRT_Plugin_Initialize, the client and its
 * addressable devices. libtpu is never loaded off Google Compute Engine: there it polls the GCE
 * metadata server and hangs; the DMI product name says where we are (as probes/cloud.c reads it,
 * below ACCELBENCH_PROBE_ROOT so tests can replay a machine).
 */
#include "pjrt.h"

#include <ctype.h>
#include <dlfcn.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* where pip and the AWS Neuron DLAMI install the plugins (python3.N expanded by glob) */
static const char *const default_paths[] = {
    "/usr/local/lib/python3*/dist-packages/libtpu/libtpu.so",
    "/usr/local/lib/python3*/site-packages/libtpu/libtpu.so",
    "/usr/lib/python3/dist-packages/libtpu/libtpu.so",
    "~/.local/lib/python3*/site-packages/libtpu/libtpu.so",
    "/opt/aws_neuronx_venv_*/lib/python3*/site-packages/libneuronxla/libneuronpjrt.so",
    "/usr/local/lib/python3*/dist-packages/libneuronxla/libneuronpjrt.so",
    "/usr/local/lib/python3*/site-packages/libneuronxla/libneuronpjrt.so",
};

static bool is_file(const char *p)
{
    FILE *f = fopen(p, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* The first existing file of the default places, into path. */
static bool find_default(char *path, size_t len)
{
    const char *home = getenv("HOME");
    for (size_t i = 0; i < sizeof(default_paths) / sizeof(default_paths[0]); i++) {
        char pat[512];
        const char *p = default_paths[i];
        if (p[0] == '~') {
            if (!home || !*home) continue;
            snprintf(pat, sizeof(pat), "%s%s", home, p + 1);
        } else {
            snprintf(pat, sizeof(pat), "%s", p);
        }
        glob_t g;
        bool found = glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0;
        if (found)
            snprintf(path, len, "%s", g.gl_pathv[g.gl_pathc - 1]); /* the last in glob order */
        globfree(&g);
        if (found) return true;
    }
    return false;
}

static void read_dmi(const char *name, char *buf, size_t len)
{
    const char *root = getenv("ACCELBENCH_PROBE_ROOT");
    char path[600];
    snprintf(path, sizeof(path), "%s/sys/class/dmi/id/%s", root && *root ? root : "", name);
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (!fgets(buf, (int)len, f)) buf[0] = 0;
    fclose(f);
    size_t n = strlen(buf);
    while (n && isspace((unsigned char)buf[n - 1]))
        buf[--n] = 0;
}

/* libtpu off GCE: the reason it is not loaded, or 0 when it may be. */
static int libtpu_guard(const char *path, char *why)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, "libtpu", 6) != 0) return 0;
    char product[128], vendor[128];
    read_dmi("product_name", product, sizeof(product));
    read_dmi("sys_vendor", vendor, sizeof(vendor));
    if (strcmp(product, "Google Compute Engine") == 0 || strcmp(vendor, "Google") == 0) return 0;
    return ab_pjrt_err(why,
                       "%s not loaded: not a Google Compute Engine VM (DMI product_name '%s'); "
                       "libtpu polls the GCE metadata server and hangs elsewhere",
                       path, product);
}

/* The plugin to load into path, or the reason there is none. */
static int choose(char *path, size_t len, char *why)
{
    const char *env = getenv("ACCELBENCH_PJRT_PLUGIN");
    if (env && *env) {
        if (!is_file(env)) return ab_pjrt_err(why, "ACCELBENCH_PJRT_PLUGIN=%s: no such file", env);
        snprintf(path, len, "%s", env);
    } else if ((env = getenv("TPU_LIBRARY_PATH")) && *env) {
        if (!is_file(env)) return ab_pjrt_err(why, "TPU_LIBRARY_PATH=%s: no such file", env);
        snprintf(path, len, "%s", env);
    } else if (!find_default(path, len)) {
        return ab_pjrt_err(why, "no PJRT plugin found (libtpu.so, libneuronpjrt.so): set "
                                "ACCELBENCH_PJRT_PLUGIN to one");
    }
    return libtpu_guard(path, why);
}

/* The version checks on the plugin's table. */
static int check_api(const PJRT_Api *api, const char *path, char *why)
{
    if (!api) return ab_pjrt_err(why, "%s: GetPjrtApi returned NULL", path);
    const PJRT_Api_Version *v = &api->pjrt_api_version;
    if (v->major_version != AB_PJRT_HEADER_MAJOR)
        return ab_pjrt_err(why, "%s: PJRT API %d.%d, this build speaks major version %d only", path,
                           v->major_version, v->minor_version, AB_PJRT_HEADER_MAJOR);
    if (v->minor_version < AB_PJRT_MIN_MINOR)
        return ab_pjrt_err(why,
                           "%s: PJRT API 0.%d is older than 0.%d, the oldest whose layout "
                           "this build was checked against",
                           path, v->minor_version, AB_PJRT_MIN_MINOR);
    if (api->struct_size < AB_PJRT_API_NEEDED)
        return ab_pjrt_err(why,
                           "%s: function table of %zu bytes, accelbench calls slots up to "
                           "byte %zu",
                           path, api->struct_size, (size_t)AB_PJRT_API_NEEDED);
    return 0;
}

static int create_client(ab_pjrt_be *be, char *why)
{
    const PJRT_Api *api = be->api;
    PJRT_Plugin_Initialize_Args ia = {.struct_size = sizeof(ia)};
    PJRT_Error *e = api->PJRT_Plugin_Initialize ? api->PJRT_Plugin_Initialize(&ia) : NULL;
    if (e) return ab_pjrt_fail(api, e, "PJRT_Plugin_Initialize", why);
    PJRT_Client_Create_Args ca = {.struct_size = sizeof(ca)};
    if ((e = api->PJRT_Client_Create(&ca))) return ab_pjrt_fail(api, e, "PJRT_Client_Create", why);
    be->client = ca.client;
    PJRT_Client_PlatformName_Args pa = {.struct_size = sizeof(pa), .client = be->client};
    if ((e = api->PJRT_Client_PlatformName(&pa)))
        return ab_pjrt_fail(api, e, "PJRT_Client_PlatformName", why);
    ab_pjrt_str(be->platform, sizeof(be->platform), pa.platform_name, pa.platform_name_size);
    PJRT_Client_PlatformVersion_Args va = {.struct_size = sizeof(va), .client = be->client};
    if ((e = api->PJRT_Client_PlatformVersion(&va)))
        return ab_pjrt_fail(api, e, "PJRT_Client_PlatformVersion", why);
    ab_pjrt_str(be->version, sizeof(be->version), va.platform_name, va.platform_name_size);
    PJRT_Client_AddressableDevices_Args da = {.struct_size = sizeof(da), .client = be->client};
    if ((e = api->PJRT_Client_AddressableDevices(&da)))
        return ab_pjrt_fail(api, e, "PJRT_Client_AddressableDevices", why);
    be->devices = da.addressable_devices;
    be->ndevices = (int)da.num_addressable_devices;
    return 0;
}

/* The StableHLO version the plugin's compiler speaks (PJRT_Plugin_Attributes
 * "stablehlo_current_version", three integers), for the record; "" when it does not say. */
static void stablehlo_version(ab_pjrt_be *be)
{
    PJRT_Plugin_Attributes_Args a = {.struct_size = sizeof(a)};
    PJRT_Error *e = be->api->PJRT_Plugin_Attributes ? be->api->PJRT_Plugin_Attributes(&a) : NULL;
    if (e) {
        ab_pjrt_fail(be->api, e, "PJRT_Plugin_Attributes", NULL);
        return;
    }
    for (size_t i = 0; a.attributes && i < a.num_attributes; i++) {
        const PJRT_NamedValue *v = &a.attributes[i];
        if (v->name_size == 25 && strncmp(v->name, "stablehlo_current_version", 25) == 0 &&
            v->type == PJRT_NamedValue_kInt64List && v->value_size == 3)
            snprintf(be->stablehlo, sizeof(be->stablehlo), "%lld.%lld.%lld",
                     (long long)v->int64_array_value[0], (long long)v->int64_array_value[1],
                     (long long)v->int64_array_value[2]);
    }
}

int ab_pjrt_load(ab_pjrt_be *be, char *why)
{
    memset(be, 0, sizeof(*be));
    if (choose(be->path, sizeof(be->path), why) != 0) return -1;
    be->dl = dlopen(be->path, RTLD_NOW | RTLD_LOCAL);
    if (!be->dl) return ab_pjrt_err(why, "cannot load %s: %s", be->path, dlerror());
    const PJRT_Api *(*get)(void) = (const PJRT_Api *(*)(void))dlsym(be->dl, "GetPjrtApi");
    if (!get) {
        ab_pjrt_err(why, "%s has no GetPjrtApi: not a PJRT plugin", be->path);
        dlclose(be->dl);
        be->dl = NULL;
        return -1;
    }
    be->api = get();
    if (check_api(be->api, be->path, why) != 0 || create_client(be, why) != 0) {
        ab_pjrt_unload(be);
        return -1;
    }
    be->api_minor = be->api->pjrt_api_version.minor_version;
    stablehlo_version(be);
    return 0;
}

/* The plugin stays mapped (as the registry keeps backend plugins): its threads and atexit
 * handlers may outlive the client. */
void ab_pjrt_unload(ab_pjrt_be *be)
{
    if (be->client) {
        PJRT_Client_Destroy_Args a = {.struct_size = sizeof(a), .client = be->client};
        PJRT_Error *e = be->api->PJRT_Client_Destroy(&a);
        if (e) ab_pjrt_fail(be->api, e, "PJRT_Client_Destroy", NULL);
    }
    be->client = NULL;
    be->devices = NULL;
    be->ndevices = 0;
}
