# SPDX-License-Identifier: MIT
"""PyTorch's CPU autograd of the decoder layer accelbench's train suite runs, the reference
bench/train_cpu.sh sets accelbench's per-layer training time beside.

    train_torch_cpu.py THREADS REPS D HEADS KV_HEADS HEAD_DIM FFN TOKENS [profile]

One Llama-style layer, float32, one sequence of TOKENS tokens: RMSNorm, fused QKV projection,
RoPE (rotate-half, theta 500000), causal attention (grouped-query: KV heads repeated), output
projection and residual, RMSNorm, fused gate/up projection, SwiGLU, down projection and
residual; then backward from a fixed upstream gradient and one torch.optim.AdamW step (lr 1e-3,
betas 0.9/0.95, weight decay 0.1) over the layer's weights -- what accelbench's "k layers" time
holds per layer. torch 1.13 (Debian) has no fused scaled_dot_product_attention, so attention is
the autograd of matmul, masked softmax, matmul (its S x S scores in memory).

Prints "torch_layer <seconds>" per timed repetition after two untimed warm-ups; with "profile",
then one more step under torch.profiler: its operators by self CPU time (where torch's time goes,
to set beside accelbench's breakdown).
"""
import math
import sys
import time

import torch


def rope_tables(seq, dh):
    half = dh // 2
    inv = torch.tensor([500000.0 ** (-2.0 * i / dh) for i in range(half)], dtype=torch.float64)
    ang = torch.arange(seq, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def rope(x, cos, sin):
    # x [heads, seq, dh]
    half = x.shape[-1] // 2
    x0, x1 = x[..., :half], x[..., half:]
    return torch.cat((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1)


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w


def layer(x, p, dims, tabs, mask):
    d, h, g, dh, f, t = dims
    cos, sin = tabs
    n1 = rmsnorm(x, p["n1"])
    qkv = n1 @ p["wqkv"].t()
    q = qkv[:, : h * dh].view(t, h, dh).transpose(0, 1)
    k = qkv[:, h * dh : (h + g) * dh].view(t, g, dh).transpose(0, 1)
    v = qkv[:, (h + g) * dh :].view(t, g, dh).transpose(0, 1)
    q, k = rope(q, cos, sin), rope(k, cos, sin)
    k = k.repeat_interleave(h // g, dim=0)
    v = v.repeat_interleave(h // g, dim=0)
    s = (q @ k.transpose(-2, -1)) / math.sqrt(dh)
    o = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1) @ v
    hres = x + o.transpose(0, 1).reshape(t, h * dh) @ p["wo"].t()
    gu = rmsnorm(hres, p["n2"]) @ p["wgu"].t()
    a = torch.nn.functional.silu(gu[:, :f]) * gu[:, f:]
    return hres + a @ p["wd"].t()


def main():
    threads, reps = int(sys.argv[1]), int(sys.argv[2])
    d, h, g, dh, f, t = (int(v) for v in sys.argv[3:9])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    q = (h + 2 * g) * dh
    p = {
        "wqkv": torch.randn(q, d) / math.sqrt(d),
        "wo": torch.randn(d, h * dh) / math.sqrt(h * dh),
        "wgu": torch.randn(2 * f, d) / math.sqrt(d),
        "wd": torch.randn(d, f) / math.sqrt(f),
        "n1": torch.ones(d),
        "n2": torch.ones(d),
    }
    for w in p.values():
        w.requires_grad_(True)
    opt = torch.optim.AdamW(p.values(), lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    x = torch.randn(t, d)
    gout = torch.randn(t, d) / 64
    mask = torch.ones(t, t, dtype=torch.bool).triu(1)
    tabs = rope_tables(t, dh)
    dims = (d, h, g, dh, f, t)
    print("# torch %s, %d threads, layer d=%d heads=%d/%d dh=%d ffn=%d tokens=%d"
          % (torch.__version__, torch.get_num_threads(), d, h, g, dh, f, t))

    def step():
        opt.zero_grad(set_to_none=True)
        layer(x, p, dims, tabs, mask).backward(gout)
        opt.step()

    for _ in range(2):
        step()
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        print("torch_layer %.6f" % (time.perf_counter() - t0), flush=True)
    if len(sys.argv) > 9 and sys.argv[9] == "profile":
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))


if __name__ == "__main__":
    main()
