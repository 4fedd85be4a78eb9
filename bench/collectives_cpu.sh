#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The collectives suite's CPU all_reduce (the ring over host threads, ab_coll_threads) beside a
# plain reference all_reduce over the same number of pthreads (direct reduce of each rank's
# chunk, then copies), alternating in one process, both checked against the exact sum every
# round (bench/collectives_cpu_bench.c). Prints the median busbw of each and the ratio.
#   bench/collectives_cpu.sh [bytes] [ranks] [rounds]   (default 64 MiB, 2 ranks, 11 rounds)
# Then the same size through `accelbench run` itself, for the figure the suite records.
source "$(dirname "$0")/common.sh"
bytes=${1:-$((64 << 20))}
ranks=${2:-2}
rounds=${3:-11}
echo "flags: $(ab_cflags)"
"$BUILD/collectives_cpu_bench" "$bytes" "$ranks" "$rounds"
"$AB" run --out "$TMP" --run-id bench --suite collectives.all_reduce --device cpu -q \
  --ranks "$ranks" --coll-sizes "$bytes" >/dev/null
echo "accelbench run: all_reduce busbw median $(csv_median "$TMP/bench/results.csv" collectives.all_reduce threads) GB/s"
