/* SPDX-License-Identifier: MIT */
/* NVML loading (nvml_lib.h). */
#include "nvml_lib.h"

#include "gpumgmt.h"
#include "probe.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *lib_name(void)
{
    const char *e = getenv("ACCELBENCH_NVML_LIB");
    return e && *e ? e : "libnvidia-ml.so.1";
}

/* Symbol lookup: the newest versioned name first (NVML keeps old names for old ABIs). */
static void *sym(void *dl, const char *a, const char *b)
{
    void *p = dlsym(dl, a);
    if (!p && b) p = dlsym(dl, b);
    return p;
}

int ab_nvml_lib_open(nvml_lib *l, char *why)
{
    memset(l, 0, sizeof(*l));
    ab_strlcpy(l->path, lib_name(), sizeof(l->path));
    l->dl = dlopen(l->path, RTLD_NOW | RTLD_LOCAL);
    if (!l->dl) {
        const char *e = dlerror();
        return ab_err(why, "%s (no NVIDIA driver installed)", e ? e : l->path);
    }
#define REQ(field, a, b)                                                                           \
    do {                                                                                           \
        *(void **)&l->field = sym(l->dl, a, b);                                                    \
        if (!l->field) {                                                                           \
            ab_err(why, "%s has no %s", l->path, a);                                               \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)
#define OPT(field, a, b) (*(void **)&l->field = sym(l->dl, a, b))
    REQ(Init, "nvmlInit_v2", "nvmlInit");
    REQ(Shutdown, "nvmlShutdown", NULL);
    REQ(ErrorString, "nvmlErrorString", NULL);
    REQ(DeviceGetCount, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
    REQ(DeviceGetHandleByIndex, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
    REQ(DeviceGetPciInfo, "nvmlDeviceGetPciInfo_v3", NULL);
    OPT(SystemGetDriverVersion, "nvmlSystemGetDriverVersion", NULL);
    OPT(SystemGetNVMLVersion, "nvmlSystemGetNVMLVersion", NULL);
    OPT(SystemGetCudaDriverVersion, "nvmlSystemGetCudaDriverVersion_v2",
        "nvmlSystemGetCudaDriverVersion");
    OPT(DeviceGetName, "nvmlDeviceGetName", NULL);
    OPT(DeviceGetUUID, "nvmlDeviceGetUUID", NULL);
    OPT(DeviceGetVbiosVersion, "nvmlDeviceGetVbiosVersion", NULL);
    OPT(DeviceGetInforomImageVersion, "nvmlDeviceGetInforomImageVersion", NULL);
    OPT(DeviceGetInforomVersion, "nvmlDeviceGetInforomVersion", NULL);
    OPT(DeviceGetEccMode, "nvmlDeviceGetEccMode", NULL);
    OPT(DeviceGetTotalEccErrors, "nvmlDeviceGetTotalEccErrors", NULL);
    OPT(DeviceGetPersistenceMode, "nvmlDeviceGetPersistenceMode", NULL);
    OPT(DeviceGetPowerManagementLimit, "nvmlDeviceGetPowerManagementLimit", NULL);
    OPT(DeviceGetPowerManagementDefaultLimit, "nvmlDeviceGetPowerManagementDefaultLimit", NULL);
    OPT(DeviceGetEnforcedPowerLimit, "nvmlDeviceGetEnforcedPowerLimit", NULL);
    OPT(DeviceGetClockInfo, "nvmlDeviceGetClockInfo", NULL);
    OPT(DeviceGetApplicationsClock, "nvmlDeviceGetApplicationsClock", NULL);
    OPT(DeviceGetMaxClockInfo, "nvmlDeviceGetMaxClockInfo", NULL);
    OPT(DeviceGetMigMode, "nvmlDeviceGetMigMode", NULL);
    OPT(DeviceGetNvLinkState, "nvmlDeviceGetNvLinkState", NULL);
    OPT(DeviceGetNvLinkVersion, "nvmlDeviceGetNvLinkVersion", NULL);
    OPT(DeviceGetTemperature, "nvmlDeviceGetTemperature", NULL);
    OPT(DeviceGetPowerUsage, "nvmlDeviceGetPowerUsage", NULL);
    OPT(DeviceGetTotalEnergyConsumption, "nvmlDeviceGetTotalEnergyConsumption", NULL);
    /* renamed "clocks event reasons" in CUDA 12; same bits */
    OPT(DeviceGetThrottleReasons, "nvmlDeviceGetCurrentClocksEventReasons",
        "nvmlDeviceGetCurrentClocksThrottleReasons");
    OPT(DeviceGetCurrPcieLinkGeneration, "nvmlDeviceGetCurrPcieLinkGeneration", NULL);
    OPT(DeviceGetCurrPcieLinkWidth, "nvmlDeviceGetCurrPcieLinkWidth", NULL);
    OPT(DeviceGetMaxPcieLinkGeneration, "nvmlDeviceGetMaxPcieLinkGeneration", NULL);
    OPT(DeviceGetMaxPcieLinkWidth, "nvmlDeviceGetMaxPcieLinkWidth", NULL);
    OPT(DeviceGetMemoryInfo, "nvmlDeviceGetMemoryInfo", NULL);
#undef REQ
#undef OPT
    nvret rc = l->Init();
    if (rc != NV_SUCCESS) {
        ab_err(why, "nvmlInit failed: %s", l->ErrorString(rc));
        goto fail;
    }
    return 0;
fail:
    dlclose(l->dl);
    l->dl = NULL;
    return -1;
}

void ab_nvml_lib_close(nvml_lib *l)
{
    if (!l->dl) return;
    l->Shutdown();
    dlclose(l->dl);
    l->dl = NULL;
}

static const struct {
    unsigned long long bit;
    unsigned ab;
} nv_thr[] = {
    {0x1ull, AB_THR_IDLE},        {0x2ull, AB_THR_APP_CLOCKS},   {0x4ull, AB_THR_SW_POWER},
    {0x8ull, AB_THR_HW_SLOWDOWN}, {0x10ull, AB_THR_SYNC_BOOST},  {0x20ull, AB_THR_SW_THERMAL},
    {0x40ull, AB_THR_HW_THERMAL}, {0x80ull, AB_THR_POWER_BRAKE}, {0x100ull, AB_THR_DISPLAY}};

uint32_t ab_nvml_throttle_bits(unsigned long long r)
{
    uint32_t m = 0;
    for (size_t i = 0; i < sizeof(nv_thr) / sizeof(nv_thr[0]); i++)
        if (r & nv_thr[i].bit) {
            m |= nv_thr[i].ab;
            r &= ~nv_thr[i].bit;
        }
    if (r) m |= AB_THR_OTHER;
    return m;
}
