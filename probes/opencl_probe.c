/* SPDX-License-Identifier: MIT */
/* OpenCL in the manifest: every platform's name, vendor and version; every device's name,
 * OpenCL and OpenCL C versions and driver version (what decides which kernels compile). */
#include "probe.h"

#include "../core/ab.h"

#include <stdlib.h>
#include <string.h>

#ifdef AB_HAVE_OPENCL
#include <CL/cl.h>

static void cl_str_p(json_t *o, const char *key, cl_platform_id p, cl_platform_info what)
{
    char buf[512] = "";
    cl_int rc = clGetPlatformInfo(p, what, sizeof(buf), buf, NULL);
    if (rc != CL_SUCCESS)
        ab_field_error(o, key, "clGetPlatformInfo: error %d", (int)rc);
    else
        ab_field_str(o, key, buf, "clGetPlatformInfo", "empty");
}

static void cl_str_d(json_t *o, const char *key, cl_device_id d, cl_device_info what)
{
    char buf[512] = "";
    cl_int rc = clGetDeviceInfo(d, what, sizeof(buf), buf, NULL);
    if (rc != CL_SUCCESS)
        ab_field_error(o, key, "clGetDeviceInfo: error %d", (int)rc);
    else
        ab_field_str(o, key, buf, "clGetDeviceInfo", "empty");
}

json_t *ab_probe_opencl(void)
{
    json_t *o = json_object();
    cl_uint np = 0;
    cl_int rc = clGetPlatformIDs(0, NULL, &np);
    if (rc != CL_SUCCESS || np == 0) {
        /* -1001 is the ICD loader's "no platform found" */
        ab_field_unavailable(o, "platforms", "%s",
                             rc == CL_SUCCESS || rc == -1001
                                 ? "no OpenCL platform (no ICD installed)"
                                 : "clGetPlatformIDs failed");
        return o;
    }
    cl_platform_id *ps = calloc(np, sizeof(*ps));
    if (!ps || clGetPlatformIDs(np, ps, NULL) != CL_SUCCESS) {
        free(ps);
        ab_field_error(o, "platforms", "clGetPlatformIDs failed");
        return o;
    }
    json_t *arr = json_array();
    for (cl_uint i = 0; i < np; i++) {
        json_t *p = json_object();
        cl_str_p(p, "name", ps[i], CL_PLATFORM_NAME);
        cl_str_p(p, "vendor", ps[i], CL_PLATFORM_VENDOR);
        cl_str_p(p, "version", ps[i], CL_PLATFORM_VERSION);
        cl_uint nd = 0;
        json_t *devs = json_array();
        if (clGetDeviceIDs(ps[i], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) == CL_SUCCESS && nd) {
            cl_device_id *ds = calloc(nd, sizeof(*ds));
            if (ds && clGetDeviceIDs(ps[i], CL_DEVICE_TYPE_ALL, nd, ds, NULL) == CL_SUCCESS)
                for (cl_uint k = 0; k < nd; k++) {
                    json_t *d = json_object();
                    cl_str_d(d, "name", ds[k], CL_DEVICE_NAME);
                    cl_str_d(d, "version", ds[k], CL_DEVICE_VERSION);
                    cl_str_d(d, "opencl_c_version", ds[k], CL_DEVICE_OPENCL_C_VERSION);
                    cl_str_d(d, "driver_version", ds[k], CL_DRIVER_VERSION);
                    json_array_append_new(devs, d);
                }
            free(ds);
        }
        json_object_set_new(p, "devices", devs);
        json_array_append_new(arr, p);
    }
    free(ps);
    ab_field_set(o, "platforms", arr, "clGetPlatformIDs");
    return o;
}

#else

json_t *ab_probe_opencl(void)
{
    json_t *o = json_object();
    ab_field_unavailable(o, "platforms",
                         "not built with OpenCL (AB_OPENCL=OFF or no OpenCL "
                         "headers at configure time)");
    return o;
}

#endif
