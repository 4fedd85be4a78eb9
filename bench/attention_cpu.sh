#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 4, must-show 2, in one run on this machine (batch 1, 32 heads, seq 2048, head_dim 128,
# f32):
#   - CPU fused attention's FLOP rate vs the OpenBLAS sgemm rate (>= 60 % non-causal, >= 50 %
#     causal counting the halved FLOPs), both measured in the same process, interleaved;
#   - CPU fused vs PyTorch's CPU attention written naively (matmul, softmax, matmul): speed-up
#     >= 2.5 non-causal, >= 5 causal;
#   - decode with a 32k cache: KV read bandwidth >= 70 % of membw's triad bandwidth (the triad
#     kernel of membw, f32, at its headline working set, in the same process, interleaved).
# The C side (attention_cpu_bench, the suite's own kernels, validated against fp64 before it
# prints) and PyTorch alternate for several outer rounds; every figure is a median of all rounds.
#   bench/attention_cpu.sh [outer rounds] [inner rounds]      (default 5 and 2)
# Needs OpenBLAS (AB_OPENBLAS) and Debian's python3-torch (scripts/install-deps.sh --bench).
source "$(dirname "$0")/common.sh"
outer=${1:-5}
inner=${2:-2}
HEADS=32 SEQ=2048 D=128 KV=32768
"$PY" -c 'import torch' 2>/dev/null || { echo "python3-torch missing: scripts/install-deps.sh --bench" >&2; exit 2; }
grep -q AB_HAVE_OPENBLAS "$BUILD/compile_commands.json" 2>/dev/null ||
  { echo "accelbench built without OpenBLAS: no sgemm reference (install libopenblas-dev)" >&2; exit 2; }
cores=$("$AB" list --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print([x for x in d["devices"] if x["id"]=="cpu"][0]["compute_units"])')
echo "# $(date -u +%FT%TZ) $(hostname): $cores cores for both sides; flags: $(ab_cflags)"
for r in $(seq 1 "$outer"); do
  "$BUILD/attention_cpu_bench" "$inner" $HEADS $SEQ $D $KV > "$TMP/c$r" || { cat "$TMP/c$r"; exit 1; }
  grep '^#' "$TMP/c$r" | sed -n '1,2p;/rows vs fp64/p' | sort -u | sed "s/^/[c$r] /"
  "$PY" "$(dirname "$0")/attention_torch_cpu.py" "$cores" "$inner" $HEADS $SEQ $D > "$TMP/t$r"
done
cat "$TMP"/c* | grep '^round' > "$TMP/rounds"
cat "$TMP"/t* | grep -v '^#' > "$TMP/torch"
"$PY" - "$TMP/rounds" "$TMP/torch" $HEADS $SEQ $D <<'PYEOF'
import statistics as st, sys
rounds = [list(map(float, l.split()[1:])) for l in open(sys.argv[1])]
torch = {}
for l in open(sys.argv[2]):
    k, v = l.split()
    torch.setdefault(k, []).append(float(v))
h, s, d = map(int, sys.argv[3:6])
flop = 4.0 * h * s * s * d
med = lambda xs: st.median(xs)
sg, pf, pc, dec, tord, tnt, rd = (med([r[i] for r in rounds]) for i in range(7))
# membw's headline triad: the store flavour with the better median
ti = 5 if tnt >= tord else 4
tri = max(tnt, tord)
# per-round ratios of the in-process pairs, whose median is robust to drift between rounds
rr = lambda i, j: med([r[i] / r[j] for r in rounds])
t_nc, t_c = med(torch["torch_naive"]), med(torch["torch_naive_causal"])
f_nc, f_c = flop / pf, flop / 2 / pc
rows = [
    ("fused prefill / sgemm (non-causal)", pf / sg, rr(1, 0), 0.60),
    ("fused prefill / sgemm (causal, halved FLOPs)", pc / sg, rr(2, 0), 0.50),
    ("speed-up vs torch naive (non-causal)", t_nc / f_nc, None, 2.5),
    ("speed-up vs torch naive (causal)", t_c / f_c, None, 5.0),
    ("decode KV bandwidth / triad (32k cache)", dec / tri, rr(3, ti), 0.70),
]
print("%d rounds: sgemm %.1f GFLOP/s | fused prefill %.1f GFLOP/s (%.3f s) | causal %.1f GFLOP/s "
      "(%.3f s) | torch naive %.3f s, causal %.3f s | decode %.2f GB/s | triad %.2f GB/s | "
      "membw read %.2f GB/s (decode/read %.2f)"
      % (len(rounds), sg / 1e9, pf / 1e9, f_nc, pc / 1e9, f_c, t_nc, t_c, dec / 1e9, tri / 1e9,
         rd / 1e9, rr(3, 6)))
print("triad store flavour: %s (ordinary %.2f GB/s, streaming %.2f GB/s)"
      % ("streaming" if ti == 5 else "ordinary", tord / 1e9, tnt / 1e9))
bad = 0
for name, v, per_round, target in rows:
    ok = v >= target
    bad += not ok
    extra = "" if per_round is None else "  (median of per-round ratios %.3f)" % per_round
    print("%-46s %7.3f  target >= %.2f  %s%s" % (name, v, target, "ok" if ok else "BELOW", extra))
sys.exit(1 if bad else 0)
PYEOF
