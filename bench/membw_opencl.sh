#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# accelbench's OpenCL read-only kernel (membw.read, f32, headline working set) on opencl:0 beside
# the best figure of `clpeak --global-bandwidth` (its kernels only read), alternating the two
# for several rounds in the same run. Needs clpeak (scripts/install-deps.sh --bench).
#   bench/membw_opencl.sh [rounds]   (default 3)
# Target (issue 2): accelbench / clpeak best >= 0.9.
source "$(dirname "$0")/common.sh"
rounds=${1:-3}
command -v clpeak >/dev/null || { echo "clpeak not installed: scripts/install-deps.sh --bench" >&2; exit 2; }
clpeak_best() {
  clpeak --global-bandwidth 2>/dev/null |
    awk '/float(2|4|8|16)? *:/ { v = $NF + 0; if (v > best) best = v } END { printf "%.2f\n", best }'
}
run_ab() {
  "$AB" run --suite membw.read --device opencl:0 --dtype f32 --sweep none --repeat 10 \
    --quiet --out "$TMP" --run-id "r$1" >/dev/null
  csv_median "$TMP/r$1/results.csv" membw.read ordinary
}
printf "%-6s %16s %18s\n" round "clpeak best GB/s" "accelbench GB/s"
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then c=$(clpeak_best); a=$(run_ab "$r"); else a=$(run_ab "$r"); c=$(clpeak_best); fi
  printf "%-6s %16s %18s\n" "$r" "$c" "$a"
  echo "$c $a" >> "$TMP/rows"
done
mc=$(cut -d' ' -f1 "$TMP/rows" | median)
ma=$(cut -d' ' -f2 "$TMP/rows" | median)
printf "%-6s %16s %18s\n" median "$mc" "$ma"
awk -v c="$mc" -v a="$ma" 'BEGIN { printf "ratio accelbench/clpeak = %.3f (target >= 0.90) %s\n", a / c, (a / c >= 0.9 ? "ok" : "BELOW") }'
