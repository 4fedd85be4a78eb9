/* SPDX-License-Identifier: MIT */
/*
 * The vendor management libraries, loaded with dlopen so one binary runs without them:
 *   NVML      libnvidia-ml.so.1 (override: $ACCELBENCH_NVML_LIB)
 *   ROCm SMI  librocm_smi64.so  (override: $ACCELBENCH_ROCM_SMI_LIB)
 * Their manifest sections are ab_probe_nvml() / ab_probe_rocm_smi() (probe.h); here are the
 * sampler sources for one GPU, found by PCI bus id. The prototypes and types these files use
 * are declared in them from the libraries' documented C APIs (no vendor header is needed to
 * build).
 */
#ifndef AB_GPUMGMT_H
#define AB_GPUMGMT_H

#include "sampler.h"

/* A sampler source for the NVIDIA GPU at pci_bus_id (any common bus-id spelling). 0, or -1
 * with why (library missing, no such device). The source owns its own library reference. */
int ab_nvml_source(const char *pci_bus_id, ab_sample_source *src, char *why);
/* The same for an AMD GPU through ROCm SMI. */
int ab_rsmi_source(const char *pci_bus_id, ab_sample_source *src, char *why);

#endif
