# SPDX-License-Identifier: MIT
"""PyTorch reference figures on the GPU, measured the way accelbench counts them.

d2d copy: dst.copy_(src) on 1 GiB, bytes counted as read plus written (2 x size), CUDA events,
median of 20 timed copies after 3 warm-ups.

gemm (issue 3): torch.matmul in bf16 at 8192^3, as `a @ b` (accelbench layout NN) and as
`x @ w.t()` with w stored [N, K] (layout NT, a linear layer), bf16 out; FP8 (e4m3 x e4m3, bf16
out) through torch._scaled_mm where this torch has it. Inputs uniform in +-[0.25, 1), as
accelbench's (never zero). Each sample is a batch of 10 back-to-back multiplies between CUDA
events (accelbench also times batches); median of 20 samples after warm-up. 2*M*N*K FLOP each.
"""
import statistics
import sys

import torch


def timed(fn, reps=20, warm=3):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        out.append(a.elapsed_time(b) * 1e-3)
    return statistics.median(out)


def inputs(shape, dtype):
    """Uniform magnitudes in [0.25, 1) with random signs, like accelbench's generated inputs."""
    mag = torch.rand(shape, device="cuda") * 0.75 + 0.25
    sign = torch.randint(0, 2, shape, device="cuda") * 2 - 1
    return (mag * sign).to(dtype)


def gemm(size=8192, batch=10):
    m = n = k = size
    flop = 2.0 * m * n * k * batch
    a = inputs((m, k), torch.bfloat16)
    b = inputs((k, n), torch.bfloat16)
    w = inputs((n, k), torch.bfloat16)

    def nn():
        for _ in range(batch):
            torch.matmul(a, b)

    def nt():
        for _ in range(batch):
            torch.matmul(a, w.t())

    for name, fn in (("NN", nn), ("NT", nt)):
        t = timed(fn, warm=2)
        print("torch bf16 matmul %d^3 %s: %.1f TFLOP/s" % (size, name, flop / t / 1e12))
    if not hasattr(torch, "_scaled_mm") or not hasattr(torch, "float8_e4m3fn"):
        print("torch fp8: this torch has no _scaled_mm / float8_e4m3fn")
        return
    try:
        a8 = a.to(torch.float8_e4m3fn)
        w8 = w.to(torch.float8_e4m3fn)  # [N, K] row-major: w8.t() is the column-major B it wants
        one = torch.ones((), device="cuda")

        def f8():
            for _ in range(batch):
                torch._scaled_mm(a8, w8.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)

        t = timed(f8, warm=2)
        print("torch fp8 e4m3 _scaled_mm %d^3 NT: %.1f TFLOP/s" % (size, flop / t / 1e12))
    except (RuntimeError, TypeError) as e:
        print("torch fp8: %s" % str(e).splitlines()[0])


def main():
    if not torch.cuda.is_available():
        print("torch: no CUDA device")
        return
    print("device:", torch.cuda.get_device_name(0))
    what = sys.argv[1:] or ["membw", "gemm"]
    if "membw" in what:
        n = 1 << 30
        src = torch.empty(n, dtype=torch.uint8, device="cuda").fill_(1)
        dst = torch.empty_like(src)
        t = timed(lambda: dst.copy_(src))
        print("torch d2d copy 1 GiB: %.1f GB/s (read + write)" % (2 * n / t / 1e9))
        del src, dst
    if "gemm" in what:
        gemm()


if __name__ == "__main__":
    main()
