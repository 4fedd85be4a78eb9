/* SPDX-License-Identifier: MIT */
/*
 * NVML through dlopen, shared by the manifest probe (nvml.c) and the sampler source
 * (nvml_sampler.c): the few types and entry points used, declared from NVML's documented API
 * (docs.nvidia.com/deploy/nvml-api): every call returns an nvmlReturn_t (0 = success), strings
 * are caller buffers, power in milliwatts, energy in millijoules, clocks in MHz. Not a public
 * interface.
 */
#ifndef AB_NVML_LIB_H
#define AB_NVML_LIB_H

#include <stdint.h>

typedef int nvret;                 /* nvmlReturn_t */
typedef struct nvml_dev_st *nvdev; /* nvmlDevice_t */
enum { NV_SUCCESS = 0, NV_ERR_NOT_SUPPORTED = 3, NV_ERR_NO_PERMISSION = 4 };
enum { NV_CLOCK_GRAPHICS = 0, NV_CLOCK_SM = 1, NV_CLOCK_MEM = 2 };
enum { NV_TEMP_GPU = 0 };
enum { NV_INFOROM_OEM = 0, NV_INFOROM_ECC = 1, NV_INFOROM_POWER = 2 };
enum { NV_MEMORY_ERROR_CORRECTED = 0, NV_MEMORY_ERROR_UNCORRECTED = 1 };
enum { NV_VOLATILE_ECC = 0, NV_AGGREGATE_ECC = 1 };
#define NV_NVLINK_MAX_LINKS 18

typedef struct nvpci { /* nvmlPciInfo_t (v3 layout) */
    char busIdLegacy[16];
    unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvpci;

typedef struct nvmem { /* nvmlMemory_t */
    unsigned long long total, free, used;
} nvmem;

/* The shapes of the per-device getters the manifest table calls (nvml_lib uses them too). */
typedef nvret (*nv_u_fn)(nvdev, unsigned *);
typedef nvret (*nv_tu_fn)(nvdev, int, unsigned *);
typedef nvret (*nv_ull_fn)(nvdev, unsigned long long *);
typedef nvret (*nv_str_fn)(nvdev, char *, unsigned);
typedef nvret (*nv_tstr_fn)(nvdev, int, char *, unsigned);
typedef nvret (*nv_int_fn)(nvdev, int *);
typedef nvret (*nv_imode_fn)(nvdev, int *, int *);
typedef nvret (*nv_umode_fn)(nvdev, unsigned *, unsigned *);
typedef nvret (*nv_ecc_fn)(nvdev, int, int, unsigned long long *);
typedef nvret (*nv_mem_fn)(nvdev, nvmem *);

typedef struct nvml_lib {
    void *dl;
    nvret (*Init)(void);
    nvret (*Shutdown)(void);
    const char *(*ErrorString)(nvret);
    nvret (*SystemGetDriverVersion)(char *, unsigned);
    nvret (*SystemGetNVMLVersion)(char *, unsigned);
    nvret (*SystemGetCudaDriverVersion)(int *);
    nvret (*DeviceGetCount)(unsigned *);
    nvret (*DeviceGetHandleByIndex)(unsigned, nvdev *);
    nv_str_fn DeviceGetName;
    nv_str_fn DeviceGetUUID;
    nvret (*DeviceGetPciInfo)(nvdev, nvpci *);
    nv_str_fn DeviceGetVbiosVersion;
    nv_str_fn DeviceGetInforomImageVersion;
    nv_tstr_fn DeviceGetInforomVersion;
    nv_imode_fn DeviceGetEccMode;
    nv_ecc_fn DeviceGetTotalEccErrors;
    nv_int_fn DeviceGetPersistenceMode;
    nv_u_fn DeviceGetPowerManagementLimit;
    nv_u_fn DeviceGetPowerManagementDefaultLimit;
    nv_u_fn DeviceGetEnforcedPowerLimit;
    nv_tu_fn DeviceGetClockInfo;
    nv_tu_fn DeviceGetApplicationsClock;
    nv_tu_fn DeviceGetMaxClockInfo;
    nv_umode_fn DeviceGetMigMode;
    nvret (*DeviceGetNvLinkState)(nvdev, unsigned, int *);
    nvret (*DeviceGetNvLinkVersion)(nvdev, unsigned, unsigned *);
    nv_tu_fn DeviceGetTemperature;
    nv_u_fn DeviceGetPowerUsage;
    nv_ull_fn DeviceGetTotalEnergyConsumption;
    nv_ull_fn DeviceGetThrottleReasons;
    nv_u_fn DeviceGetCurrPcieLinkGeneration;
    nv_u_fn DeviceGetCurrPcieLinkWidth;
    nv_u_fn DeviceGetMaxPcieLinkGeneration;
    nv_u_fn DeviceGetMaxPcieLinkWidth;
    nv_mem_fn DeviceGetMemoryInfo;
    char path[256];
} nvml_lib;

/* Loads the library ($ACCELBENCH_NVML_LIB or libnvidia-ml.so.1) and runs nvmlInit: 0, or -1
 * with why. */
int ab_nvml_lib_open(nvml_lib *l, char *why);
/* nvmlShutdown and dlclose (nothing when not open). */
void ab_nvml_lib_close(nvml_lib *l);
/* NVML's clocks-event (throttle) reasons as the sampler's AB_THR_* bits. */
uint32_t ab_nvml_throttle_bits(unsigned long long r);

#endif
