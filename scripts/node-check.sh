#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole-node check of issue 15, for a machine with two or more NVIDIA GPUs (never run yet:
# no multi-GPU machine has been available). Builds the CUDA backend, runs the node suites over
# every GPU, then the peers when they are on PATH, in the same script, and prints the targets'
# ratios:
#   all_reduce busbw at the largest common size / nccl-tests all_reduce_perf's     (>= 0.97)
#   p2p.ce_unidir per pair / nvbandwidth device_to_device_memcpy_read_ce's         (>= 0.97)
# (read: the copy issued by the destination, as accelbench's is)
#   bash scripts/node-check.sh            (OUT=dir for the run folder and logs, default ./node-check-out)
# Peers: nccl-tests (all_reduce_perf, built against the same NCCL) and nvbandwidth; a missing
# peer is reported and its ratio skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/node-check-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/node-check.log") 2>&1
log() { echo "== $*"; }
log "nvidia-smi topo -m"
nvidia-smi topo -m || true
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d .)
cmake -S . -B build-node -G Ninja -DCMAKE_BUILD_TYPE=Release -DAB_CUDA=ON -DAB_HIP=OFF \
  -DAB_OPENCL=OFF -DAB_TESTS=OFF -DAB_CUDA_ARCHITECTURES="${arch:-90}-real" 2>&1 | tail -3
cmake --build build-node 2>&1 | tail -2
AB=build-node/accelbench
log "accelbench: collectives and p2p over every GPU (standard profile)"
env | grep -E '^NCCL_' || true
$AB run --suite collectives,p2p --device all --out "$OUT/results" --run-id node --quiet \
  > "$OUT/summary.md"
echo "exit $?"
RUN="$OUT/results/node/run.json"
ngpu=$(nvidia-smi -L 2>/dev/null | wc -l)
if command -v all_reduce_perf >/dev/null; then
  log "nccl-tests all_reduce_perf -g $ngpu (8 B to 4 GiB, x4, float sum)"
  all_reduce_perf -b 8 -e 4G -f 4 -g "$ngpu" -d float -o sum | tee "$OUT/all_reduce_perf.txt"
else
  echo "all_reduce_perf not on PATH: no nccl-tests ratio"
fi
if command -v nvbandwidth >/dev/null; then
  log "nvbandwidth -t device_to_device_memcpy_read_ce"
  nvbandwidth -t device_to_device_memcpy_read_ce | tee "$OUT/nvbandwidth.txt"
else
  echo "nvbandwidth not on PATH: no nvbandwidth ratio"
fi
log "ratios"
/usr/bin/python3 - "$RUN" "$OUT/all_reduce_perf.txt" "$OUT/nvbandwidth.txt" <<'PYEOF'
import json, os, re, sys
run, nccl, nvb = sys.argv[1:4]
res = json.load(open(run))["results"]
def med(r, name):
    for m in r.get("metrics", []):
        if m["name"] == name:
            return m["stats"]["median"]
ours = {r["params"]["bytes"]: med(r, "busbw") for r in res
        if r["key"] == "collectives.all_reduce" and r["status"] == "pass"}
if os.path.exists(nccl) and ours:
    theirs = {}
    for line in open(nccl):
        f = line.split()
        # size count type redop root time algbw busbw #wrong (out of place) ...
        if len(f) >= 9 and f[0].isdigit() and f[2] == "float":
            theirs[int(f[0])] = float(f[7]) * 1e9
    common = sorted(set(ours) & set(theirs))
    if common:
        s = common[-1]
        print("all_reduce busbw at %d B: accelbench %.2f GB/s, nccl-tests %.2f GB/s, ratio %.3f"
              % (s, ours[s] / 1e9, theirs[s] / 1e9, ours[s] / theirs[s]))
    else:
        print("all_reduce: no size in common with all_reduce_perf")
pairs = {(r["params"]["src"], r["params"]["dst"]): med(r, "bandwidth") for r in res
         if r["key"] == "p2p.ce_unidir" and r["status"] == "pass"}
if os.path.exists(nvb) and pairs:
    rows, ratios, row_is_src = [], [], True
    for line in open(nvb):
        if "GPU(row)" in line:  # "GPU(row) -> GPU(column)" or "GPU(row) <- GPU(column)"
            row_is_src = "<-" not in line
        m = re.match(r"^\s*(\d+)((?:\s+(?:[\d.]+|N/A))+)\s*$", line)
        if m:
            rows.append((int(m.group(1)), m.group(2).split()))
    for r, vals in rows:  # oriented by the matrix's own header line
        for c, v in enumerate(vals):
            src, dst = (r, c) if row_is_src else (c, r)
            key = ("cuda:%d" % src, "cuda:%d" % dst)
            if v != "N/A" and key in pairs and float(v) > 0:
                ratios.append(pairs[key] / (float(v) * 1e9))
    if ratios:
        ratios.sort()
        print("p2p.ce_unidir / nvbandwidth read CE over %d pairs: min %.3f, median %.3f"
              % (len(ratios), ratios[0], ratios[len(ratios) // 2]))
    else:
        print("p2p: no pair in common with nvbandwidth's matrix")
PYEOF
