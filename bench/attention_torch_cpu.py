# SPDX-License-Identifier: MIT
"""PyTorch's CPU attention written the naive way (matmul, softmax, matmul), the reference
bench/attention_cpu.sh sets accelbench's fused CPU kernel beside.

    attention_torch_cpu.py THREADS REPS [HEADS SEQ HEAD_DIM]

Prints one line per timed call, "torch_naive <seconds>" and "torch_naive_causal <seconds>",
after one untimed warm-up call of each. float32, batch 1, as many query as KV heads, the causal
mask built once outside the timed region (a serving stack caches it too). torch runs on THREADS
threads: the physical cores accelbench's own CPU team uses, so both sides get the same cores.
"""
import math
import sys
import time

import torch


def naive(q, k, v, mask):
    s = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(mask, float("-inf"))
    p = torch.softmax(s, dim=-1)
    return torch.matmul(p, v)


def main():
    threads, reps = int(sys.argv[1]), int(sys.argv[2])
    heads, seq, d = (int(x) for x in (sys.argv[3:6] if len(sys.argv) > 5 else (32, 2048, 128)))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    q = torch.rand(1, heads, seq, d) * 4 - 2
    k = torch.rand(1, heads, seq, d) * 4 - 2
    v = torch.rand(1, heads, seq, d) * 2 - 1
    mask = torch.ones(seq, seq, dtype=torch.bool).triu(1)
    print("# torch %s, %d threads" % (torch.__version__, torch.get_num_threads()))
    for name, m in (("torch_naive", None), ("torch_naive_causal", mask)):
        naive(q, k, v, m)  # warm-up: allocator, thread pool
    for _ in range(reps):
        for name, m in (("torch_naive", None), ("torch_naive_causal", mask)):
            t0 = time.perf_counter()
            o = naive(q, k, v, m)
            dt = time.perf_counter() - t0
            assert torch.isfinite(o).all()
            print("%s %.6f" % (name, dt), flush=True)


if __name__ == "__main__":
    main()
