#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The fabric suite beside a plain MPI program (bench/fabric_mpi_ref.c) on this machine: one pair's
# point-to-point bandwidth (window of Isend + ack) and all_reduce busbw, alternating accelbench and
# the reference in the same session, medians over the rounds and their ratios. The reference times
# the batches accelbench timed in the same round (its iters_per_sample), and both launches bind
# the ranks alike (one core each, round robin when there are more ranks than cores: what mpirun
# does for 2 ranks here, and what accelbench does itself for ranks that mpirun left unbound).
#   bench/fabric_mpi.sh [rounds] [ranks]      (default 7 rounds, 2 ranks)
# Target (issue 16): both ratios >= 0.95. Transport: OMPI_MCA_btl (default self,vader).
source "$(dirname "$0")/common.sh"
rounds=${1:-7}
np=${2:-2}
export OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader}
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
p2p=1048576 win=64 ar=1048576
mpi=(mpirun --oversubscribe --bind-to core:overload-allowed -np "$np")
# iterations per sample of a case in a run.json: iters FILE KEY
iters() {
  "$PY" -c 'import json, sys
print(next(r["sampling"]["iters_per_sample"] for r in json.load(open(sys.argv[1]))["results"]
           if r["key"] == sys.argv[2] and r["status"] == "pass"))' "$@"
}
for i in $(seq "$rounds"); do
  "${mpi[@]}" "$AB" run -q --suite fabric.p2p,fabric.all_reduce --p2p-size $p2p --window $win \
    --msg-sizes $ar -p quick -r 5 -o "$TMP" --run-id "r$i" >/dev/null
  ap=$(csv_median "$TMP/r$i/results.csv" fabric.p2p mpi)
  aa=$(csv_median "$TMP/r$i/results.csv" fabric.all_reduce mpi)
  ip=$(iters "$TMP/r$i/run.json" fabric.p2p) ia=$(iters "$TMP/r$i/run.json" fabric.all_reduce)
  "${mpi[@]}" "$BUILD/fabric_mpi_ref" $p2p $win $ar 5 "$ip" "$ia" >"$TMP/ref"
  rp=$(awk '/^p2p_bandwidth/ {printf "%.4f", $2/1e9}' "$TMP/ref")
  ra=$(awk '/^all_reduce_busbw/ {printf "%.4f", $2/1e9}' "$TMP/ref")
  echo "$ap" >>"$TMP/ab_p2p"; echo "$aa" >>"$TMP/ab_ar"
  echo "$rp" >>"$TMP/ref_p2p"; echo "$ra" >>"$TMP/ref_ar"
  echo "round $i: p2p accelbench $ap reference $rp GB/s ($ip iterations per sample)," \
    "all_reduce $aa vs $ra GB/s ($ia)" >&2
done
for m in p2p ar; do
  a=$(median <"$TMP/ab_$m") r=$(median <"$TMP/ref_$m")
  name=$([ $m = p2p ] && echo "p2p bandwidth (1 MiB x 64)" || echo "all_reduce busbw (1 MiB)")
  echo "$name, $np ranks, $rounds rounds: accelbench $a GB/s, reference $r GB/s, ratio $(awk -v a="$a" -v r="$r" 'BEGIN {printf "%.3f", a / r}')"
done
