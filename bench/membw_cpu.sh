#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# accelbench's CPU triad (f64, ordinary and streaming stores) beside a plain OpenMP triad built
# with the same flags, interleaved in one process (bench/membw_cpu_bench.c explains why), at the
# headline working set: the smallest power of two >= 4x the last-level cache (at least 64 MiB).
#   bench/membw_cpu.sh [rounds]      (default 21)
# Targets (issue 2): ordinary stores >= 0.97x the plain triad; streaming stores >= 1.2x.
source "$(dirname "$0")/common.sh"
rounds=${1:-21}
llc=$("$AB" list --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print([x for x in d["devices"] if x["id"]=="cpu"][0]["cache_bytes"])')
ws=1; while [ $ws -lt $((4 * llc)) ]; do ws=$((ws * 2)); done
[ $ws -lt $((64 << 20)) ] && ws=$((64 << 20))
echo "LLC $((llc >> 20)) MiB; flags: $(ab_cflags)"
"$BUILD/membw_cpu_bench" "$ws" "$rounds"
