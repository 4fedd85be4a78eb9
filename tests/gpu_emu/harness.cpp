// SPDX-License-Identifier: MIT
// The train suite's CUDA kernels under host emulation (run.sh, cuda_runtime.h) against the CPU
// kernels (ab_train_cpu) and, for the attention, the fp64 reference (train_ref.c). Relative
// tolerance 1e-5 of the largest reference value (2e-5 for the attention's gradients); fill and
// the bf16 cast bit for bit. Exit 1 on any failure. Any argument: only one attention case.
#include "backends/gpu/gpu_port.h"
extern "C" {
#include "backends/cpu.h"
#include "suites/attention/attention.h"
#include "suites/train/train.h"
#include "suites/train/train_ref.h"
extern const ab_train_ops ab_train_cpu;
}
#include <cstdio>
#include <cstdlib>
#include <vector>
thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
std::barrier<> *emu_bar;
float emu_slot[1024];
extern const ab_train_ops ab_train_gpu;
static ab_gpu_dev gd;
static ab_cpu_dev cd;
static int fails;
static char err[256];
typedef std::vector<float> V;
static V pat(size_t n, uint64_t s, float amp, float off = 0)
{
    V v(n);
    for (size_t i = 0; i < n; i++) v[i] = off + ab_attn_gen(s, i, amp);
    return v;
}
static void cmp(const char *what, const float *g, const float *c, size_t n, double tol = 1e-5)
{
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)g[i] - c[i]);
        if (!std::isfinite(d)) { e = INFINITY; break; }
        e = d > e ? d : e, m = fabs(c[i]) > m ? fabs(c[i]) : m;
    }
    double r = e / (m > 0 ? m : 1);
    bool ok = r <= tol;
    if (!ok) fails++;
    printf("%-4s %-40s rel %.3g\n", ok ? "ok" : "FAIL", what, r);
}
static void cmpd(const char *what, const float *g, const double *c, size_t n, double tol = 1e-5)
{
    std::vector<float> f(c, c + n);
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)g[i] - c[i]);
        if (!std::isfinite(d)) { e = INFINITY; break; }
        e = d > e ? d : e, m = fabs(c[i]) > m ? fabs(c[i]) : m;
    }
    double r = e / (m > 0 ? m : 1);
    bool ok = r <= tol;
    if (!ok) fails++;
    printf("%-4s %-40s rel %.3g\n", ok ? "ok" : "FAIL", what, r);
}
#define CK(x) do { if ((x) != 0) { printf("FAIL call %s: %s\n", #x, err); fails++; return; } } while (0)

static void attn(int B, int S, int H, int G, int Dh)
{
    ab_train_attn a = {B, S, H, G, Dh, 1.0f / sqrtf((float)Dh)};
    size_t ld = (size_t)(H + 2 * G) * Dh, od = (size_t)H * Dh, T = (size_t)B * S;
    V qkv = pat(T * ld, 1, 1), dout = pat(T * od, 2, 0.25f);
    V o(T * od), lse(T * H), dq(T * ld, 12345.f), w(ab_train_gpu.attn_bwd_work(&gd, &a) / 4);
    V oc(T * od), lc(T * H), dqc(T * ld), wc(ab_train_cpu.attn_bwd_work(&cd, &a) / 4 + 1);
    CK(ab_train_gpu.attn_fwd(&gd, &a, qkv.data(), o.data(), lse.data(), err));
    CK(ab_train_gpu.attn_bwd(&gd, &a, qkv.data(), o.data(), lse.data(), dout.data(), dq.data(), w.data(), err));
    CK(ab_train_cpu.attn_fwd(&cd, &a, qkv.data(), oc.data(), lc.data(), err));
    CK(ab_train_cpu.attn_bwd(&cd, &a, qkv.data(), oc.data(), lc.data(), dout.data(), dqc.data(), wc.data(), err));
    char nm[100];
    snprintf(nm, sizeof nm, "attn o   B%d S%d H%d G%d D%d vs cpu", B, S, H, G, Dh); cmp(nm, o.data(), oc.data(), o.size());
    snprintf(nm, sizeof nm, "attn lse B%d S%d H%d G%d D%d vs cpu", B, S, H, G, Dh); cmp(nm, lse.data(), lc.data(), lse.size());
    snprintf(nm, sizeof nm, "attn dqkv B%d S%d H%d G%d D%d vs cpu", B, S, H, G, Dh); cmp(nm, dq.data(), dqc.data(), dq.size(), 2e-5);
    ab_tref_dims d = {S, 0, H, G, Dh, 0, false};
    std::vector<double> rq(S * ld), ro(S * od), rP((size_t)H * S * S), rdo(S * od), rdq(S * ld);
    for (int b = 0; b < B; b++) {
        for (size_t i = 0; i < S * ld; i++) rq[i] = qkv[b * S * ld + i];
        for (size_t i = 0; i < S * od; i++) rdo[i] = dout[b * S * od + i];
        ab_tref_attn_fwd(&d, rq.data(), ro.data(), rP.data());
        ab_tref_attn_bwd(&d, rq.data(), rP.data(), rdo.data(), rdq.data());
        snprintf(nm, sizeof nm, "attn o    seq %d of %d vs fp64", b, B); cmpd(nm, o.data() + b * S * od, ro.data(), S * od);
        snprintf(nm, sizeof nm, "attn dqkv seq %d of %d vs fp64", b, B); cmpd(nm, dq.data() + b * S * ld, rdq.data(), S * ld, 2e-5);
    }
}

static void small()
{
    const int T = 37, D = 72;
    V x = pat(T * D, 3, 1), w = pat(D, 5, 0.125f, 1), dy = pat(T * D, 4, 1), res = pat(T * D, 6, 0.5f), dw0 = pat(D, 7, 0.25f);
    V y(T * D), r(T), yc(T * D), rc(T), dx = res, dxc = res, dw = dw0, dwc = dw0;
    CK(ab_train_gpu.rmsnorm_fwd(&gd, T, D, x.data(), w.data(), 1e-5f, y.data(), r.data(), err));
    CK(ab_train_cpu.rmsnorm_fwd(&cd, T, D, x.data(), w.data(), 1e-5f, yc.data(), rc.data(), err));
    cmp("rmsnorm y", y.data(), yc.data(), y.size()); cmp("rmsnorm rstd", r.data(), rc.data(), r.size());
    CK(ab_train_gpu.rmsnorm_bwd(&gd, T, D, x.data(), w.data(), r.data(), dy.data(), dx.data(), dx.data(), dw.data(), err));
    CK(ab_train_cpu.rmsnorm_bwd(&cd, T, D, x.data(), w.data(), rc.data(), dy.data(), dxc.data(), dxc.data(), dwc.data(), err));
    cmp("rmsnorm dx (aliased dres)", dx.data(), dxc.data(), dx.size()); cmp("rmsnorm dw (accumulated)", dw.data(), dwc.data(), dw.size());
    V d2(T * D), d2c(T * D);
    CK(ab_train_gpu.rmsnorm_bwd(&gd, T, D, x.data(), w.data(), r.data(), dy.data(), nullptr, d2.data(), dw.data(), err));
    CK(ab_train_cpu.rmsnorm_bwd(&cd, T, D, x.data(), w.data(), rc.data(), dy.data(), nullptr, d2c.data(), dwc.data(), err));
    cmp("rmsnorm dx (no dres)", d2.data(), d2c.data(), d2.size()); cmp("rmsnorm dw 2", dw.data(), dwc.data(), dw.size());
    // d >= 4096: 1024-thread blocks
    const int T2 = 3, D2 = 4100;
    V x2 = pat(T2 * D2, 30, 1), w2 = pat(D2, 31, 0.125f, 1), y2(T2 * D2), y2c(T2 * D2), r2(T2), r2c(T2);
    CK(ab_train_gpu.rmsnorm_fwd(&gd, T2, D2, x2.data(), w2.data(), 1e-5f, y2.data(), r2.data(), err));
    CK(ab_train_cpu.rmsnorm_fwd(&cd, T2, D2, x2.data(), w2.data(), 1e-5f, y2c.data(), r2c.data(), err));
    cmp("rmsnorm y d=4100", y2.data(), y2c.data(), y2.size());
    // rope
    ab_train_attn a = {2, 9, 4, 2, 32, 0};
    size_t n = 2 * 9 * 8 * 32;
    V q = pat(n, 11, 1), qc = q;
    CK(ab_train_gpu.rope(&gd, &a, q.data(), false, err)); CK(ab_train_cpu.rope(&cd, &a, qc.data(), false, err));
    cmp("rope", q.data(), qc.data(), n);
    CK(ab_train_gpu.rope(&gd, &a, q.data(), true, err)); CK(ab_train_cpu.rope(&cd, &a, qc.data(), true, err));
    cmp("rope inverse", q.data(), qc.data(), n);
    // swiglu
    const int F = 300;
    V gu = pat(5 * 2 * F, 6, 4), da = pat(5 * F, 7, 1), ac(5 * F), ag(5 * F), dg(5 * 2 * F), dgc(5 * 2 * F);
    CK(ab_train_gpu.swiglu_fwd(&gd, 5, F, gu.data(), ag.data(), err)); CK(ab_train_cpu.swiglu_fwd(&cd, 5, F, gu.data(), ac.data(), err));
    cmp("swiglu", ag.data(), ac.data(), ag.size());
    CK(ab_train_gpu.swiglu_bwd(&gd, 5, F, gu.data(), da.data(), dg.data(), err)); CK(ab_train_cpu.swiglu_bwd(&cd, 5, F, gu.data(), da.data(), dgc.data(), err));
    cmp("swiglu bwd", dg.data(), dgc.data(), dg.size());
    // xent
    for (int vocab : {50, 5000}) {
        const int R = 4;
        V lg = pat(R * vocab, 8, 8), lgc = lg, ls(R), lsc(R);
        std::vector<int32_t> tg(R);
        for (int i = 0; i < R; i++) tg[i] = (int32_t)((i * 7919L + 3) % vocab);
        CK(ab_train_gpu.xent(&gd, R, vocab, lg.data(), tg.data(), ls.data(), 0.5f, err));
        CK(ab_train_cpu.xent(&cd, R, vocab, lgc.data(), tg.data(), lsc.data(), 0.5f, err));
        cmp(vocab == 50 ? "xent loss v50" : "xent loss v5000", ls.data(), lsc.data(), R);
        cmp(vocab == 50 ? "xent grad v50" : "xent grad v5000", lg.data(), lgc.data(), lg.size());
    }
    // adamw
    const int N = 1000;
    V pw = pat(N, 9, 0.5f), pg = pat(N, 10, 0.01f), pm = pat(N, 12, 0.001f), pv = pat(N, 13, 1e-5f, 1e-5f);
    V pwc = pw, pmc = pm, pvc = pv;
    ab_train_adamw h = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 3};
    CK(ab_train_gpu.adamw(&gd, N, pw.data(), pg.data(), pm.data(), pv.data(), &h, err));
    CK(ab_train_cpu.adamw(&cd, N, pwc.data(), pg.data(), pmc.data(), pvc.data(), &h, err));
    cmp("adamw w", pw.data(), pwc.data(), N); cmp("adamw m", pm.data(), pmc.data(), N); cmp("adamw v", pv.data(), pvc.data(), N);
    // fill, zero, cast
    V f(100003), fc(100003);
    CK(ab_train_gpu.fill(&gd, f.data(), f.size(), 77, 0.125f, 1.0f, err));
    CK(ab_train_cpu.fill(&cd, fc.data(), fc.size(), 77, 0.125f, 1.0f, err));
    bool same = memcmp(f.data(), fc.data(), f.size() * 4) == 0; fails += !same;
    printf("%-4s fill bits\n", same ? "ok" : "FAIL");
    CK(ab_train_gpu.zero(&gd, f.data(), 100000, err));
    same = f[99999] == 0 && f[0] == 0 && f[100000] == fc[100000]; fails += !same;
    printf("%-4s zero\n", same ? "ok" : "FAIL");
    std::vector<uint16_t> b16(fc.size());
    CK(ab_train_gpu.cast_bf16(&gd, fc.size(), fc.data(), b16.data(), err));
    same = true;
    for (size_t i = 0; i < fc.size(); i++) same = same && b16[i] == ab_f32_to_bf16(fc[i]);
    fails += !same;
    printf("%-4s cast_bf16 bits\n", same ? "ok" : "FAIL");
}

int main(int argc, char **argv)
{
    (void)argv;
    cd.threads = 2;
    printf("warp %d: %s\n", EMU_WARP, ab_train_gpu.describe(&gd));
    if (argc > 1) { attn(1, 33, 4, 1, 32); printf("%d failures\n", fails); return fails != 0; }
    small();
    attn(2, 70, 4, 2, 64);
    attn(1, 33, 4, 1, 32);
    attn(1, 100, 2, 2, 128);
    attn(1, 40, 2, 1, 16);
    printf("%d failures\n", fails);
    return fails != 0;
}
