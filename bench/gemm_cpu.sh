#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# accelbench's CPU GEMM beside direct CBLAS calls, in one run (issue 3, must-show 2):
#   1. vendor sgemm and dgemm at 4096^3 vs cblas_sgemm / cblas_dgemm called directly;
#   2. the portable kernel's sgemm at 2048^3 vs OpenBLAS cblas_sgemm.
# Both sides of each comparison run in one process, alternating, many rounds, and the medians
# compared, pairwise per round (bench/gemm_cpu_bench.c says why); the direct calls use the same OpenBLAS, thread
# pool and thread count as accelbench's vendor path. Then `accelbench run` measures the same
# cases once through the suite (sampling, rotation, validation) for the record.
#   bench/gemm_cpu.sh [rounds]      (default 9)
# Targets: vendor >= 0.97x direct; portable >= 0.40x OpenBLAS.
source "$(dirname "$0")/common.sh"
rounds=${1:-9}
[ -x "$BUILD/gemm_cpu_bench" ] || { echo "gemm_cpu_bench not built (OpenBLAS missing?)" >&2; exit 1; }
echo "flags: $(ab_cflags)"
echo "== interleaved in one process, $rounds rounds"
rc=0
"$BUILD/gemm_cpu_bench" "$rounds" 4096 2048 || rc=$?
echo "== accelbench run (suite sampling and validation), for the record"
"$AB" run --suite gemm.custom --device cpu --profile quick --shape 4096 --dtype f32,f64 \
  --impl vendor --layout NN --out "$TMP" --run-id vendor --quiet >/dev/null || rc=1
"$AB" run --suite gemm.custom --device cpu --profile quick --shape 2048 --dtype f32 \
  --impl portable --layout NN --out "$TMP" --run-id portable --quiet >/dev/null || rc=1
"$PY" - "$TMP/vendor/results.csv" "$TMP/portable/results.csv" <<'PYEOF'
import csv, sys
for path in sys.argv[1:]:
    for row in csv.DictReader(open(path)):
        if row["key"] != "gemm.custom" or row["metric"] != "throughput":
            continue
        params = dict(kv.split("=", 1) for kv in row["params"].split(" ") if "=" in kv)
        print("accelbench run: %-8s %-4s %sx%sx%s %s: %s, median %.1f GFLOP/s (cv %.1f %%)" % (
            row["impl"], params.get("dtype"), params.get("m"), params.get("n"), params.get("k"),
            params.get("layout"), row["status"], float(row["median"]) / 1e9,
            100 * float(row["cv"] or 0)))
PYEOF
exit $rc
