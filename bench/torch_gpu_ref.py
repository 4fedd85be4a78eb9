# SPDX-License-Identifier: MIT
"""PyTorch reference figures on the GPU, measured the way accelbench counts them.

d2d copy: dst.copy_(src) on 1 GiB, bytes counted as read plus written (2 x size), CUDA events,
median of 20 timed copies after 3 warm-ups.
"""
import statistics
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


def main():
    if not torch.cuda.is_available():
        print("torch: no CUDA device")
        return
    print("device:", torch.cuda.get_device_name(0))
    n = 1 << 30
    src = torch.empty(n, dtype=torch.uint8, device="cuda").fill_(1)
    dst = torch.empty_like(src)
    t = timed(lambda: dst.copy_(src))
    print("torch d2d copy 1 GiB: %.1f GB/s (read + write)" % (2 * n / t / 1e9))


if __name__ == "__main__":
    main()
