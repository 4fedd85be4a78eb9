/* SPDX-License-Identifier: MIT */
/* accelbench probe: the machine manifest, readable or as JSON (the same object every run
 * document embeds as "manifest"). */
#include "../core/ab.h"
#include "../probes/probe.h"
#include "../probes/topo.h"
#include "commands.h"

#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>

static void probe_usage(FILE *f)
{
    fputs("usage: accelbench probe [--json] [--root DIR] [--topology FILE.xml]\n"
          "\n"
          "Probes this machine: CPU, caches, NUMA, memory, OS, firmware (DMI), virtualisation,\n"
          "cloud provider and instance type (DMI and local files only, no network), GPUs with\n"
          "their PCIe link and nearest cores, NVML, ROCm SMI, OpenCL, PAPI counters and the\n"
          "power/clock sources the sampler uses. Every fact is ok, unavailable (why) or\n"
          "error (why). Layout: results/MANIFEST.md; schema: results/manifest.schema.json.\n"
          "\n"
          "  --json            the manifest as JSON on stdout\n"
          "  --root DIR        read /sys, /proc, /etc, /run below DIR (replays fixtures; vendor\n"
          "                    libraries and system calls are then not probed)\n"
          "  --topology FILE   use an hwloc XML export instead of this machine's topology\n"
          "  --help            this text\n"
          "\n"
          "environment: ACCELBENCH_PROBE_ROOT, ACCELBENCH_PROBE_TOPOLOGY (as the options),\n"
          "ACCELBENCH_NVML_LIB, ACCELBENCH_ROCM_SMI_LIB (library to dlopen), ACCELBENCH_PAPI=0\n"
          "(no counters)\n",
          f);
}

int ab_cmd_probe(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"root", required_argument, NULL, 'r'},
                                         {"topology", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    ab_probe_opts o;
    ab_probe_opts_env(&o);
    bool as_json = false;
    int c;
    opterr = 0;
    optind = 1;
    ab_optseen seen = {0};
    while ((c = ab_getopt(argc, argv, ":h", opts, NULL, &seen)) != -1) {
        switch (c) {
        case AB_OPT_TWICE: return ab_usage_error("probe", "%s given twice", seen.name);
        case 'j':
            as_json = true;
            break;
        case 'r':
            o.root = optarg;
            break;
        case 't':
            o.topology = optarg;
            break;
        case 'h':
            probe_usage(stdout);
            return AB_EXIT_OK;
        case ':':
            return ab_usage_error("probe", "option '%s' needs a value", argv[optind - 1]);
        default:
            return ab_usage_error("probe", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return ab_usage_error("probe", "unexpected argument '%s'", argv[optind]);
    struct stat st;
    if (o.root && (stat(o.root, &st) != 0 || !S_ISDIR(st.st_mode)))
        return ab_usage_error("probe", "--root: '%s' is not a directory", o.root);
    if (o.topology && (stat(o.topology, &st) != 0 || !S_ISREG(st.st_mode)))
        return ab_usage_error("probe", "--topology: '%s' is not a readable file", o.topology);
    if (o.topology) {
        char why[AB_ERRLEN];
        ab_topo *t = ab_topo_load(o.topology, why);
        if (!t) return ab_usage_error("probe", "--topology: %s", why);
        ab_topo_free(t);
    }
    json_t *m = ab_manifest(&o);
    if (!m) {
        fprintf(stderr, "accelbench probe: out of memory\n");
        return AB_EXIT_FAIL;
    }
    if (as_json) {
        json_dumpf(m, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        fputc('\n', stdout);
    } else {
        ab_manifest_print(m, stdout);
    }
    json_decref(m);
    return AB_EXIT_OK;
}
