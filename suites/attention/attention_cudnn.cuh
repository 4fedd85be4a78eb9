/* SPDX-License-Identifier: MIT */
/*
 * The `vendor` implementation on CUDA: cuDNN's fused scaled-dot-product attention, built as an
 * operation graph through cuDNN's C backend API (the graph cudnn-frontend's sdpa node builds for
 * inference) and run by the engine cuDNN's heuristics pick for it. Included by
 * attention_gpu.cu.
 *
 * cuDNN is loaded with dlopen at first use, so the CUDA plugin neither links it nor needs it:
 * without libcudnn the vendor results are skips naming what is missing; a graph no engine
 * supports (a shape, a type or a GPU cuDNN's fused kernels do not cover) is a skip with cuDNN's
 * own message.
 *
 * Graph (tensors [b, h, s, d]; intermediates virtual, f32):
 *   S = Q·Kᵀ  →  S·scale  →  [causal: select(row >= col, S, -inf) by two GEN_INDEX and a CMP_GE]
 *   →  softmax: M = max_j S, E = exp(S - M), Z = Σ_j E, P = E / Z (P in the I/O type)  →  O = P·V
 * K and V keep their kv_heads: cuDNN's fused kernels serve grouped-query attention directly.
 */
#ifndef AB_ATTENTION_CUDNN_CUH
#define AB_ATTENTION_CUDNN_CUH

#if !defined(AB_GPU_HIP) && defined(__has_include)
#if __has_include(<cudnn.h>)
#define AB_HAVE_CUDNN_HEADERS 1
#endif
#endif

#ifdef AB_HAVE_CUDNN_HEADERS
#include <cudnn.h>
#include <dlfcn.h>
#include <stdlib.h>
#endif

namespace {

#ifndef AB_HAVE_CUDNN_HEADERS

int ab_cudnn_supports(ab_gpu_dev *, ab_attn_dtype, const ab_attn_shape *, char *why)
{
#ifdef AB_GPU_HIP
    return gpu_fail(why, "no vendor fused attention wired up for HIP (MIOpen's is not used)");
#else
    return gpu_fail(why, "built without cuDNN headers (cudnn.h)");
#endif
}
size_t ab_cudnn_workspace_hint()
{
    return 0;
}
int ab_cudnn_prepare(ab_gpu_dev *, ab_attn_args *, char *err)
{
    return gpu_fail(err, "cuDNN not available");
}
void ab_cudnn_release(ab_gpu_dev *, ab_attn_args *)
{
}
int ab_cudnn_run(ab_gpu_dev *, const ab_attn_args *, char *err)
{
    return gpu_fail(err, "cuDNN not available");
}

#else

/* the cuDNN entry points used, resolved once */
struct cudnn_api {
    bool tried, ok;
    char why[200];
    void *lib;
    decltype(&cudnnCreate) create;
    decltype(&cudnnDestroy) destroy;
    decltype(&cudnnSetStream) set_stream;
    decltype(&cudnnGetErrorString) error_string;
    decltype(&cudnnGetLastErrorString) last_error; /* may be NULL (older cuDNN) */
    decltype(&cudnnGetVersion) version;
    decltype(&cudnnBackendCreateDescriptor) bcreate;
    decltype(&cudnnBackendDestroyDescriptor) bdestroy;
    decltype(&cudnnBackendSetAttribute) bset;
    decltype(&cudnnBackendGetAttribute) bget;
    decltype(&cudnnBackendFinalize) bfinalize;
    decltype(&cudnnBackendExecute) bexecute;
};

/* Loads once; cudnn() below makes the first call thread-safe (run --concurrent). */
static cudnn_api &cudnn_load()
{
    static cudnn_api api;
    if (api.tried)
        return api;
    api.tried = true;
    const char *names[] = {"libcudnn.so.9", "libcudnn.so"};
    for (const char *n : names)
        if ((api.lib = dlopen(n, RTLD_NOW | RTLD_LOCAL)))
            break;
    if (!api.lib) {
        const char *e = dlerror();
        snprintf(api.why, sizeof(api.why), "cuDNN not found (%s)", e ? e : "libcudnn.so.9");
        return api;
    }
#define SYM(field, name)                                                                           \
    api.field = reinterpret_cast<decltype(api.field)>(dlsym(api.lib, name));                       \
    if (!api.field && strcmp(name, "cudnnGetLastErrorString") != 0) {                              \
        snprintf(api.why, sizeof(api.why), "cuDNN lacks %s", name);                                \
        return api;                                                                                \
    }
    SYM(create, "cudnnCreate")
    SYM(destroy, "cudnnDestroy")
    SYM(set_stream, "cudnnSetStream")
    SYM(error_string, "cudnnGetErrorString")
    SYM(last_error, "cudnnGetLastErrorString")
    SYM(version, "cudnnGetVersion")
    SYM(bcreate, "cudnnBackendCreateDescriptor")
    SYM(bdestroy, "cudnnBackendDestroyDescriptor")
    SYM(bset, "cudnnBackendSetAttribute")
    SYM(bget, "cudnnBackendGetAttribute")
    SYM(bfinalize, "cudnnBackendFinalize")
    SYM(bexecute, "cudnnBackendExecute")
#undef SYM
    if (api.version() < 90000) {
        snprintf(api.why, sizeof(api.why), "cuDNN %zu is older than 9.0", api.version());
        return api;
    }
    api.ok = true;
    return api;
}

cudnn_api &cudnn()
{
    static cudnn_api &api = cudnn_load(); /* C++11: initialised once, other callers wait */
    return api;
}

int ab_cudnn_supports(ab_gpu_dev *d, ab_attn_dtype dt, const ab_attn_shape *s, char *why)
{
    cudnn_api &api = cudnn();
    if (!api.ok)
        return gpu_fail(why, "%s", api.why);
    if (dt == AB_ATTN_F32)
        return gpu_fail(why, "cuDNN's fused attention takes bf16 or f16, not f32");
    if (d->cc_major < 8)
        return gpu_fail(why, "cuDNN's fused attention needs sm_80 or newer");
    if (s->head_dim % 8 != 0 || s->head_dim > 256)
        return gpu_fail(why, "cuDNN's fused attention takes head_dim up to 256, multiple of 8");
    return 0;
}

size_t ab_cudnn_workspace_hint()
{
    return 0; /* the plan's own workspace is allocated in prepare */
}

/* what prepare() builds and run() executes */
struct cudnn_plan {
    cudnnHandle_t handle;
    cudnnBackendDescriptor_t plan, pack;
    void *work;
    float scale, neg_inf;
    void *ptrs[6];
    int64_t uids[6];
};

enum : int64_t { U_Q = 1, U_K, U_V, U_O, U_SCALE, U_NEGINF, U_VIRT = 100 };

struct graph_builder {
    cudnn_api &api;
    cudnnBackendDescriptor_t descs[64];
    int ndesc = 0;
    cudnnStatus_t st = CUDNN_STATUS_SUCCESS;
    char what[96] = "";

    explicit graph_builder(cudnn_api &a) : api(a)
    {
    }
    ~graph_builder()
    {
        for (int i = ndesc - 1; i >= 0; i--)
            api.bdestroy(descs[i]);
    }
    cudnnBackendDescriptor_t make(cudnnBackendDescriptorType_t t)
    {
        cudnnBackendDescriptor_t d = nullptr;
        if (st == CUDNN_STATUS_SUCCESS && ndesc < 64) {
            st = api.bcreate(t, &d);
            if (st == CUDNN_STATUS_SUCCESS)
                descs[ndesc++] = d;
            else
                snprintf(what, sizeof(what), "create descriptor %d", (int)t);
        }
        return d;
    }
    void set(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t n,
             cudnnBackendAttributeType_t t, int64_t count, const void *v)
    {
        if (st == CUDNN_STATUS_SUCCESS && d) {
            st = api.bset(d, n, t, count, v);
            if (st != CUDNN_STATUS_SUCCESS)
                snprintf(what, sizeof(what), "set attribute %d", (int)n);
        }
    }
    void finalize(cudnnBackendDescriptor_t d, const char *name)
    {
        if (st == CUDNN_STATUS_SUCCESS && d) {
            st = api.bfinalize(d);
            if (st != CUDNN_STATUS_SUCCESS)
                snprintf(what, sizeof(what), "finalize %s", name);
        }
    }
    cudnnBackendDescriptor_t tensor(int64_t uid, cudnnDataType_t dt, const int64_t *dims,
                                    const int64_t *strides, bool virt, bool by_value = false)
    {
        cudnnBackendDescriptor_t t = make(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
        int64_t align = 16;
        set(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt);
        set(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims);
        set(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides);
        set(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
        set(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align);
        set(t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &virt);
        if (by_value)
            set(t, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value);
        finalize(t, "tensor");
        return t;
    }
    cudnnBackendDescriptor_t matmul(cudnnBackendDescriptor_t a, cudnnBackendDescriptor_t b,
                                    cudnnBackendDescriptor_t c)
    {
        cudnnBackendDescriptor_t m = make(CUDNN_BACKEND_MATMUL_DESCRIPTOR);
        cudnnDataType_t comp = CUDNN_DATA_FLOAT;
        set(m, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp);
        finalize(m, "matmul descriptor");
        cudnnBackendDescriptor_t op = make(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR);
        set(op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &a);
        set(op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &b);
        set(op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &c);
        set(op, CUDNN_ATTR_OPERATION_MATMUL_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &m);
        finalize(op, "matmul");
        return op;
    }
    /* y = mode(x [, b] [, t]); axis >= 0 for GEN_INDEX */
    cudnnBackendDescriptor_t pointwise(cudnnPointwiseMode_t mode, cudnnBackendDescriptor_t x,
                                       cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t t,
                                       cudnnBackendDescriptor_t y, int64_t axis = -1)
    {
        cudnnBackendDescriptor_t p = make(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
        cudnnDataType_t prec = CUDNN_DATA_FLOAT;
        set(p, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode);
        set(p, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec);
        if (axis >= 0)
            set(p, CUDNN_ATTR_POINTWISE_AXIS, CUDNN_TYPE_INT64, 1, &axis);
        finalize(p, "pointwise descriptor");
        cudnnBackendDescriptor_t op = make(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
        set(op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
            &p);
        set(op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x);
        if (b)
            set(op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &b);
        if (t)
            set(op, CUDNN_ATTR_OPERATION_POINTWISE_TDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &t);
        set(op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y);
        finalize(op, "pointwise");
        return op;
    }
    cudnnBackendDescriptor_t reduction(cudnnReduceTensorOp_t how, cudnnBackendDescriptor_t x,
                                       cudnnBackendDescriptor_t y)
    {
        cudnnBackendDescriptor_t r = make(CUDNN_BACKEND_REDUCTION_DESCRIPTOR);
        cudnnDataType_t comp = CUDNN_DATA_FLOAT;
        set(r, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &how);
        set(r, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp);
        finalize(r, "reduction descriptor");
        cudnnBackendDescriptor_t op = make(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR);
        set(op, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x);
        set(op, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y);
        set(op, CUDNN_ATTR_OPERATION_REDUCTION_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &r);
        finalize(op, "reduction");
        return op;
    }
};

int cudnn_error(cudnn_api &api, cudnnStatus_t st, const char *what, char *err)
{
    char detail[160] = "";
    if (api.last_error)
        api.last_error(detail, sizeof(detail));
    return gpu_fail(err, "cuDNN: %s: %s%s%s", what, api.error_string(st), *detail ? ": " : "",
                    detail);
}

int ab_cudnn_prepare(ab_gpu_dev *d, ab_attn_args *a, char *err)
{
    cudnn_api &api = cudnn();
    if (!api.ok)
        return gpu_fail(err, "%s", api.why);
    const ab_attn_shape *s = &a->s;
    cudnn_plan *p = (cudnn_plan *)calloc(1, sizeof(*p));
    if (!p)
        return gpu_fail(err, "out of memory");
    cudnnStatus_t st = api.create(&p->handle);
    if (st != CUDNN_STATUS_SUCCESS) {
        free(p);
        return cudnn_error(api, st, "cudnnCreate", err);
    }
    api.set_stream(p->handle, d->stream);
    int rc = -1;
    {
        graph_builder gb(api);
        const cudnnDataType_t io = a->dtype == AB_ATTN_BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_HALF;
        const cudnnDataType_t f32 = CUDNN_DATA_FLOAT;
        const int64_t B = s->batch, H = s->heads, HK = s->kv_heads, SQ = s->q_len,
                      SK = s->kv_len, D = s->head_dim;
        int64_t qd[4] = {B, H, SQ, D}, qs[4] = {H * SQ * D, SQ * D, D, 1};
        int64_t ktd[4] = {B, HK, D, SK}, kts[4] = {HK * SK * D, SK * D, 1, D}; /* Kᵀ view */
        int64_t vd[4] = {B, HK, SK, D}, vs[4] = {HK * SK * D, SK * D, D, 1};
        int64_t sd[4] = {B, H, SQ, SK}, ss[4] = {H * SQ * SK, SQ * SK, SK, 1};
        int64_t rd[4] = {B, H, SQ, 1}, rs[4] = {H * SQ, SQ, 1, 1};
        int64_t one[4] = {1, 1, 1, 1};
        int64_t uid = U_VIRT;
        cudnnBackendDescriptor_t tq = gb.tensor(U_Q, io, qd, qs, false);
        cudnnBackendDescriptor_t tk = gb.tensor(U_K, io, ktd, kts, false);
        cudnnBackendDescriptor_t tv = gb.tensor(U_V, io, vd, vs, false);
        cudnnBackendDescriptor_t to = gb.tensor(U_O, io, qd, qs, false);
        cudnnBackendDescriptor_t tscale = gb.tensor(U_SCALE, f32, one, one, false, true);
        cudnnBackendDescriptor_t ops[16];
        int nops = 0;
        cudnnBackendDescriptor_t ts = gb.tensor(uid++, f32, sd, ss, true);
        ops[nops++] = gb.matmul(tq, tk, ts);
        cudnnBackendDescriptor_t tss = gb.tensor(uid++, f32, sd, ss, true);
        ops[nops++] = gb.pointwise(CUDNN_POINTWISE_MUL, ts, tscale, nullptr, tss);
        cudnnBackendDescriptor_t tm = tss;
        if (s->causal) {
            cudnnBackendDescriptor_t tneg = gb.tensor(U_NEGINF, f32, one, one, false, true);
            cudnnBackendDescriptor_t trow = gb.tensor(uid++, CUDNN_DATA_INT32, sd, ss, true);
            cudnnBackendDescriptor_t tcol = gb.tensor(uid++, CUDNN_DATA_INT32, sd, ss, true);
            cudnnBackendDescriptor_t tmask = gb.tensor(uid++, CUDNN_DATA_BOOLEAN, sd, ss, true);
            tm = gb.tensor(uid++, f32, sd, ss, true);
            ops[nops++] = gb.pointwise(CUDNN_POINTWISE_GEN_INDEX, tss, nullptr, nullptr, trow, 2);
            ops[nops++] = gb.pointwise(CUDNN_POINTWISE_GEN_INDEX, tss, nullptr, nullptr, tcol, 3);
            ops[nops++] = gb.pointwise(CUDNN_POINTWISE_CMP_GE, trow, tcol, nullptr, tmask);
            ops[nops++] = gb.pointwise(CUDNN_POINTWISE_BINARY_SELECT, tss, tneg, tmask, tm);
        }
        cudnnBackendDescriptor_t tmax = gb.tensor(uid++, f32, rd, rs, true);
        cudnnBackendDescriptor_t tsub = gb.tensor(uid++, f32, sd, ss, true);
        cudnnBackendDescriptor_t texp = gb.tensor(uid++, f32, sd, ss, true);
        cudnnBackendDescriptor_t tsum = gb.tensor(uid++, f32, rd, rs, true);
        cudnnBackendDescriptor_t tp = gb.tensor(uid++, io, sd, ss, true);
        ops[nops++] = gb.reduction(CUDNN_REDUCE_TENSOR_MAX, tm, tmax);
        ops[nops++] = gb.pointwise(CUDNN_POINTWISE_SUB, tm, tmax, nullptr, tsub);
        ops[nops++] = gb.pointwise(CUDNN_POINTWISE_EXP, tsub, nullptr, nullptr, texp);
        ops[nops++] = gb.reduction(CUDNN_REDUCE_TENSOR_ADD, texp, tsum);
        ops[nops++] = gb.pointwise(CUDNN_POINTWISE_DIV, texp, tsum, nullptr, tp);
        ops[nops++] = gb.matmul(tp, tv, to);

        cudnnBackendDescriptor_t graph = gb.make(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
        gb.set(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, nops, ops);
        gb.set(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &p->handle);
        gb.finalize(graph, "operation graph");
        cudnnBackendDescriptor_t heur = gb.make(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
        cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
        gb.set(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
               &graph);
        gb.set(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
        gb.finalize(heur, "heuristics");
        if (gb.st != CUDNN_STATUS_SUCCESS) {
            cudnn_error(api, gb.st, gb.what, err);
            goto done;
        }
        /* the engine configurations the heuristics propose, best first: the first that
         * finalizes into an execution plan is used */
        cudnnBackendDescriptor_t cfgs[8];
        int ncfg = 0;
        for (; ncfg < 8; ncfg++)
            if (api.bcreate(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &cfgs[ncfg]) !=
                CUDNN_STATUS_SUCCESS)
                break;
        int64_t got = 0;
        st = api.bget(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, ncfg,
                      &got, cfgs);
        cudnnStatus_t last = st;
        for (int64_t i = 0; st == CUDNN_STATUS_SUCCESS && i < got && !p->plan; i++) {
            cudnnBackendDescriptor_t plan = nullptr;
            if (api.bcreate(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan) !=
                CUDNN_STATUS_SUCCESS)
                break;
            last = api.bset(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
                            CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfgs[i]);
            if (last == CUDNN_STATUS_SUCCESS)
                last = api.bset(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1,
                                &p->handle);
            if (last == CUDNN_STATUS_SUCCESS)
                last = api.bfinalize(plan);
            if (last == CUDNN_STATUS_SUCCESS)
                p->plan = plan;
            else
                api.bdestroy(plan);
        }
        for (int i = 0; i < ncfg; i++)
            api.bdestroy(cfgs[i]);
        if (st != CUDNN_STATUS_SUCCESS) {
            cudnn_error(api, st, "heuristics results", err);
            goto done;
        }
        if (!p->plan) {
            if (got == 0)
                gpu_fail(err, "cuDNN: no engine supports this attention graph");
            else
                cudnn_error(api, last, "no proposed engine builds a plan", err);
            goto done;
        }
        int64_t wsize = 0;
        api.bget(p->plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &got,
                 &wsize);
        if (wsize > 0 && gpuMalloc(&p->work, (size_t)wsize) != gpuSuccess) {
            (void)gpuGetLastError();
            gpu_fail(err, "cuDNN: cannot allocate a %lld-byte workspace", (long long)wsize);
            goto done;
        }
        /* the variant pack: device pointers, and host pointers for the by-value scalars */
        p->scale = s->scale;
        p->neg_inf = -INFINITY;
        int n = 0;
        p->uids[n] = U_Q, p->ptrs[n++] = a->q;
        p->uids[n] = U_K, p->ptrs[n++] = a->k;
        p->uids[n] = U_V, p->ptrs[n++] = a->v;
        p->uids[n] = U_O, p->ptrs[n++] = a->o;
        p->uids[n] = U_SCALE, p->ptrs[n++] = &p->scale;
        if (s->causal)
            p->uids[n] = U_NEGINF, p->ptrs[n++] = &p->neg_inf;
        st = api.bcreate(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &p->pack);
        if (st == CUDNN_STATUS_SUCCESS)
            st = api.bset(p->pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, n,
                          p->uids);
        if (st == CUDNN_STATUS_SUCCESS)
            st = api.bset(p->pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, n,
                          p->ptrs);
        if (st == CUDNN_STATUS_SUCCESS)
            st = api.bset(p->pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1,
                          &p->work);
        if (st == CUDNN_STATUS_SUCCESS)
            st = api.bfinalize(p->pack);
        if (st != CUDNN_STATUS_SUCCESS) {
            cudnn_error(api, st, "variant pack", err);
            goto done;
        }
        rc = 0;
    }
done:
    if (rc != 0) {
        if (p->pack)
            api.bdestroy(p->pack);
        if (p->plan)
            api.bdestroy(p->plan);
        if (p->work)
            (void)gpuFree(p->work);
        api.destroy(p->handle);
        free(p);
        return -1;
    }
    a->plan = p;
    return 0;
}

void ab_cudnn_release(ab_gpu_dev *d, ab_attn_args *a)
{
    cudnn_plan *p = (cudnn_plan *)a->plan;
    if (!p)
        return;
    cudnn_api &api = cudnn();
    (void)gpuStreamSynchronize(d->stream);
    api.bdestroy(p->pack);
    api.bdestroy(p->plan);
    if (p->work)
        (void)gpuFree(p->work);
    api.destroy(p->handle);
    free(p);
    a->plan = nullptr;
}

int ab_cudnn_run(ab_gpu_dev *, const ab_attn_args *a, char *err)
{
    cudnn_plan *p = (cudnn_plan *)a->plan;
    if (!p)
        return gpu_fail(err, "cuDNN: no plan (prepare failed)");
    cudnn_api &api = cudnn();
    cudnnStatus_t st = api.bexecute(p->handle, p->plan, p->pack);
    if (st != CUDNN_STATUS_SUCCESS)
        return cudnn_error(api, st, "execute", err);
    return 0;
}

#endif

} // namespace

#endif
