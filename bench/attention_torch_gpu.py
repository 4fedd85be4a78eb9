# SPDX-License-Identifier: MIT
"""PyTorch's fused attention on the GPU, timed the way accelbench times one attention call.

    attention_torch_gpu.py DTYPE BATCH HEADS KV_HEADS HEAD_DIM SEQ[,SEQ...]

For every sequence length, causal and not: torch.nn.functional.scaled_dot_product_attention on
[batch, heads, seq, head_dim] tensors (K and V with kv_heads heads; enable_gqa where this torch
has it, otherwise K and V repeated to the query heads before timing), 5 warm-up calls, then 30
calls each timed alone with CUDA events. Prints "sdpa seq=<s> causal=<yes|no> <median seconds>
<backend>" per case, where backend is the kernel torch picked when that can be told.
"""
import statistics
import sys

import torch
import torch.nn.functional as F


def timed(fn, reps=30, warm=5):
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
        print("# torch: no CUDA device")
        return
    dt = {"bf16": torch.bfloat16, "f16": torch.float16}[sys.argv[1]]
    b, h, hk, d = (int(x) for x in sys.argv[2:6])
    seqs = [int(x) for x in sys.argv[6].split(",")]
    print("# torch %s on %s" % (torch.__version__, torch.cuda.get_device_name(0)))
    gqa = "enable_gqa" in F.scaled_dot_product_attention.__doc__
    for s in seqs:
        q = torch.rand(b, h, s, d, device="cuda", dtype=dt) * 4 - 2
        k = torch.rand(b, hk, s, d, device="cuda", dtype=dt) * 4 - 2
        v = torch.rand(b, hk, s, d, device="cuda", dtype=dt) * 2 - 1
        kw = {}
        if hk != h:
            if gqa:
                kw["enable_gqa"] = True
            else:
                k = k.repeat_interleave(h // hk, dim=1)
                v = v.repeat_interleave(h // hk, dim=1)
        for causal in (False, True):
            t = timed(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal, **kw))
            flop = 4.0 * b * h * s * s * d / (2 if causal else 1)
            print("sdpa seq=%d causal=%s %.6e %.1f TFLOP/s" % (s, "yes" if causal else "no", t,
                                                              flop / t / 1e12), flush=True)


if __name__ == "__main__":
    main()
