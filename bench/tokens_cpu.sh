#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 6, must-show 2: decode at batch 1 on this machine's CPU reaches >= 60 % of its bandwidth
# roofline measured in the same run.
#
# Each round is one `accelbench run --suite tokens.decode` (llama3-1b shape, f32, batch 1,
# context 1k by default): inside that run the suite measures membw's read and triad kernels on
# the device (their better median is the roofline bandwidth), then the decode step, and records
# achieved tokens/s / (bandwidth / bytes per token) in extra.roofline.measured.fraction. The
# script prints every round and the median of the rounds.
#   bench/tokens_cpu.sh [rounds] [model] [context]        (default 5, llama3-1b, 1024)
source "$(dirname "$0")/common.sh"
rounds=${1:-5}
model=${2:-llama3-1b}
ctx=${3:-1024}
echo "# $(date -u +%FT%TZ) $(hostname): tokens.decode $model f32 batch 1 context $ctx, $rounds rounds; flags: $(ab_cflags)"
for r in $(seq 1 "$rounds"); do
  "$AB" run --suite tokens.decode --device cpu --model "$model" --batch 1 --context "$ctx" \
    --profile quick --quiet --out "$TMP/runs" --run-id "r$r" > /dev/null
  "$PY" - "$TMP/runs/r$r/run.json" "$r" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
r = [x for x in d["results"] if x["key"] == "tokens.decode"][0]
if r["status"] != "pass":
    sys.exit("round %s: %s %s" % (sys.argv[2], r["status"], r.get("reason")))
m = r["extra"]["roofline"]["measured"]
tps = [x for x in r["metrics"] if x["name"] == "tokens_per_s"][0]["stats"]["median"]
bpt = r["extra"]["roofline"]["bytes_per_step"]
print("round %s: %.3f tok/s (TPOT %.1f ms) = %.2f GB/s effective | roofline %.2f GB/s (%s) -> "
      "%.3f tok/s | fraction %.3f | %s"
      % (sys.argv[2], tps, 1e3 / tps, tps * bpt / 1e9, m["bandwidth_Bps"] / 1e9,
         m["bandwidth_source"], m["sol_tokens_per_s"], m["fraction"], r["extra"]["scaling"]))
PYEOF
done | tee "$TMP/rounds"
med=$(sed -n 's/.*fraction \([0-9.]*\).*/\1/p' "$TMP/rounds" | median)
"$PY" -c "import sys; f=float(sys.argv[1]); print('decode b1 / bandwidth roofline (median of %s rounds): %.3f  target >= 0.60  %s' % (sys.argv[2], f, 'ok' if f >= 0.6 else 'BELOW'))" "$med" "$rounds"
