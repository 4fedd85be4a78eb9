#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 17, targets on the CPU, as same-run ratios. Each round:
#   1. `accelbench run --suite train` (one point; --layers-run 1): the step, validated, and its
#      per-kernel breakdown (3 extra steps with every kernel bracketed by the backend timer,
#      each figure the median over them);
#   2. the step's 15 GEMM products alone through the gemm suite (gemm.custom, same impl, same
#      shapes and layouts, beta 0 where two forward products add into the residual):
#      ratio = time of the products alone / their time inside the step       target >= 0.8
#   3. attention: the step's backward FLOP rate (2.5 x the forward's FLOPs, FlashAttention's
#      convention) / the attention suite's fused forward (attention.prefill, causal, f32) at the
#      same heads, length and head dimension                                  target >= 0.5
#   4. PyTorch's CPU autograd of the same layer (bench/train_torch_cpu.py: forward, backward,
#      AdamW) / accelbench's per-layer time (layers_s / k: forward, backward, AdamW)  >= 1.0
# The sides alternate: odd rounds run 1-2-3-4 (the step first), even rounds 4-3-2-1, so that a
# load drifting within a round (a round of llama3-1b takes minutes) favours neither side.
# 4 reads "torch time / accelbench time": above 1.0, accelbench is the faster.
# Prints every round (with its order and the load average before and after) and the medians;
# then the attention ratio once more from bench/train_attn_cpu_bench and the GEMM ratio from
# bench/train_cpu_bench (both sides interleaved in one process, which the load on a shared VM
# disturbs far less than a ratio of figures taken minutes apart).
#   bench/train_cpu.sh [rounds] [model] [seq]      (default 3, llama3-1b, 256)
source "$(dirname "$0")/common.sh"
rounds=${1:-3}
model=${2:-llama3-1b}
seq=${3:-256}
threads=$(nproc)
echo "# $(date -u +%FT%TZ) $(hostname): train $model f32 seq $seq, 1 layer, $rounds rounds, $threads threads; flags: $(ab_cflags)"
read -r heads kvh hd d ffn <<< "$("$PY" -c "
import sys
p = {'tiny': (4, 2, 64, 256, 688), 'llama3-1b': (32, 8, 64, 2048, 8192),
     'llama3-8b': (32, 8, 128, 4096, 14336)}
print(*p.get(sys.argv[1], (32, 8, 128, 4096, 14336)))" "$model")"
side_train() {
  "$AB" run --suite train --device cpu --model "$model" --seq "$seq" --layers-run 1 \
    --profile quick --steps 3 --quiet --out "$TMP/runs" --run-id "t$r" > /dev/null
  # the products as gemm.custom runs, one per layout (the same in every round: kept from the first)
  [ -s "$TMP/shapes" ] && return 0
  "$PY" - "$TMP/runs/t$r/run.json" > "$TMP/shapes" <<'PYEOF'
import json, sys
r = [x for x in json.load(open(sys.argv[1]))["results"] if x["key"] == "train.step"][0]
if r["status"] != "pass":
    sys.exit("train: %s %s" % (r["status"], r.get("reason")))
by = {}
for g in r["extra"]["breakdown"]["gemm"]:
    by.setdefault(g["layout"], []).append("%dx%dx%d" % (g["m"], g["n"], g["k"]))
for lay, shapes in by.items():
    print(r["impl"], lay, ",".join(sorted(set(shapes))))
PYEOF
}
side_gemm() {
  while read -r impl lay shapes; do
    "$AB" run --suite gemm.custom --device cpu --profile quick --shape "$shapes" --dtype f32 \
      --impl "$impl" --layout "$lay" --quiet --out "$TMP/runs" --run-id "g$r$lay" > /dev/null
  done < "$TMP/shapes"
}
side_attn() {
  "$AB" run --suite attention.prefill --device cpu --profile quick --impl fused --causal yes \
    --dtype f32 --seq "$seq" --heads "$heads" --kv-heads "$kvh" --head-dim "$hd" --batch 1 \
    --quiet --out "$TMP/runs" --run-id "a$r" > /dev/null
}
side_torch() {
  "$PY" "$ROOT/bench/train_torch_cpu.py" "$threads" 3 "$d" "$heads" "$kvh" "$hd" "$ffn" "$seq" \
    > "$TMP/torch$r"
}
for r in $(seq 1 "$rounds"); do
  # the sides alternate: odd rounds the step first, even rounds the references first (round 1
  # takes the step first for the product shapes), so that a load drifting within a round
  # favours each side equally often
  load0=$(cut -d' ' -f1 /proc/loadavg)
  if [ $((r % 2)) = 1 ]; then
    order="step first"; side_train; side_gemm; side_attn; side_torch
  else
    order="refs first"; side_torch; side_attn; side_gemm; side_train
  fi
  load1=$(cut -d' ' -f1 /proc/loadavg)
  "$PY" - "$TMP/runs" "$r" "$TMP/torch$r" "$order, load $load0-$load1" <<'PYEOF'
import csv, glob, json, statistics, sys
runs, r, torchf, how = sys.argv[1:5]
t = [x for x in json.load(open("%s/t%s/run.json" % (runs, r)))["results"] if x["key"] == "train.step"][0]
e = t["extra"]
k = t["params"]["layers_run"]
alone = {}
for path in glob.glob("%s/g%s*/results.csv" % (runs, r)):
    for row in csv.DictReader(open(path)):
        if row["key"] != "gemm.custom" or row["metric"] != "throughput" or row["status"] != "pass":
            continue
        p = dict(kv.split("=", 1) for kv in row["params"].split(" ") if "=" in kv)
        alone[(p["layout"], int(p["m"]), int(p["n"]), int(p["k"]))] = float(row["median"])
step_s = alone_s = 0.0
for g in e["breakdown"]["gemm"]:
    key = (g["layout"], g["m"], g["n"], g["k"])
    if key not in alone:
        sys.exit("round %s: no passing gemm.custom for %s" % (r, key))
    step_s += g["seconds"]
    alone_s += g["calls"] * 2.0 * g["m"] * g["n"] * g["k"] / alone[key]
a = [x for x in json.load(open("%s/a%s/run.json" % (runs, r)))["results"]
     if x["key"] == "attention.prefill" and x["impl"] == "fused" and x["status"] == "pass"][0]
fused = [m for m in a["metrics"] if m["name"] == "flops"][0]["stats"]["median"]
ap = a["params"]
fwd_flops = 4.0 * ap["batch"] * ap["heads"] * ap["seq"] ** 2 * ap["head_dim"] / 2
bwd_rate = 2.5 * fwd_flops * k / e["breakdown"]["layers"]["attention_bwd_s"]
fwd_rate = fwd_flops * k / e["breakdown"]["layers"]["attention_fwd_s"]
tl = [float(l.split()[1]) for l in open(torchf) if l.startswith("torch_layer")]
ours = e["step"]["layers_s"] / k
lay = e["breakdown"]["layers"]
print("round %s (%s): layer breakdown (median of %d steps) GEMM %.3f, attention fwd %.3f, bwd %.3f, "
      "other %.3f s" % (r, how, e["breakdown"]["steps"], lay["gemm_s"] / k,
                        lay["attention_fwd_s"] / k, lay["attention_bwd_s"] / k, lay["other_s"] / k))
print("round %s: step %.3f s (p99 %.3f), %.1f train tok/s, MFU(measured GEMM) %.3f | GEMM alone/in-step "
      "%.3f (%.3f / %.3f s) | attention bwd %.2f GFLOP/s, train fwd %.2f, fused fwd %.2f -> bwd/fused "
      "%.3f | layer: accelbench %.3f s, torch %.3f s -> torch/accelbench %.3f | validation %s"
      % (r, e["step"]["p50_s"], e["step"]["p99_s"],
         [m for m in t["metrics"] if m["name"] == "tokens_per_s"][0]["stats"]["median"],
         e["mfu"]["measured"].get("fraction", float("nan")), alone_s / step_s, alone_s, step_s,
         bwd_rate / 1e9, fwd_rate / 1e9, fused / 1e9, bwd_rate / fused, ours,
         statistics.median(tl), statistics.median(tl) / ours,
         "passed" if e["validation"]["passed"] else "FAILED"))
PYEOF
done | tee "$TMP/rounds"
for what in "GEMM alone/in-step:0.8" "bwd/fused:0.5" "torch/accelbench:1.0"; do
  name=${what%:*} target=${what##*:}
  med=$(sed -n "s|.*$name \([0-9.]*\).*|\1|p" "$TMP/rounds" | median)
  "$PY" -c "import sys; f=float(sys.argv[1]); print('%s (median of %s rounds): %.3f  target >= %s  %s' % (sys.argv[2], sys.argv[3], f, sys.argv[4], 'ok' if f >= float(sys.argv[4]) else 'BELOW'))" "$med" "$name" "$rounds" "$target"
done
# The attention ratio again, robust to the load: the backward and the fused forward alone,
# interleaved in one process, one thread timed by its CPU clock (bench/train_attn_cpu_bench.c).
cmake --build "$BUILD" --target train_attn_cpu_bench train_cpu_bench > /dev/null
echo "attention alone, interleaved, 1 thread, 9 rounds:"
OMP_NUM_THREADS=1 "$BUILD/train_attn_cpu_bench" "$seq" "$heads" "$kvh" "$hd" 9 | tail -2
# The GEMM ratio again, robust to the load: an instrumented step and the same products alone
# (own plans and buffers, what gemm.custom runs, but warm: no rotating buffer sets), interleaved
# in one process, GEMM_ROUNDS rounds (default: rounds, at least 5; 41 for tiny, whose products
# take ~0.3 ms and a time slice lost to another job ~20 ms); the headline is the ratio of
# the per-product medians summed (bench/train_cpu_bench.c).
gr=${GEMM_ROUNDS:-$([ "$model" = tiny ] && echo 41 || echo $((rounds < 5 ? 5 : rounds)))}
echo "GEMM in the step vs alone, interleaved, $threads threads, $gr rounds:"
"$BUILD/train_cpu_bench" "$model" "$seq" "$gr" | tail -18
