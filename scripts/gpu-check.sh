#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole GPU check, run on a machine with an NVIDIA GPU (see ../shared/device/README.md):
#   source .device/env.sh && bash scripts/gpu-check.sh
# Builds the CUDA backend for the GPU at hand, runs the GPU suites and the PyTorch references in
# the same script, and copies the run folder and logs to $OUT (or ./gpu-check-out).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUT"
log() { echo "== $*" | tee -a "$OUT/gpu-check.log"; }
exec > >(tee -a "$OUT/gpu-check.log") 2>&1
log "nvidia-smi"
nvidia-smi || true
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d .)
arch=${arch:-90}
log "configure for sm_$arch"
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DAB_CUDA=ON -DAB_HIP=OFF \
  -DAB_OPENCL=OFF -DAB_TESTS=OFF -DAB_CUDA_ARCHITECTURES="${arch}-real" 2>&1 | tail -15
cmake --build build-gpu 2>&1 | tail -5
AB=build-gpu/accelbench
log "accelbench list"
$AB list
log "membw on cuda:0 (standard profile)"
$AB run --device cuda:0 --suite membw --profile standard --out "$OUT/results" --run-id gpu \
  --quiet > "$OUT/summary-membw.md"
echo "exit $?"
log "probes (issue 7): manifest, per-result energy / clocks / throttling"
$AB probe > "$OUT/probe.txt" 2>&1; echo "probe exit $?"
sed -n '/^Accelerators/,/^OpenCL/p' "$OUT/probe.txt" | head -80
$AB probe --json > "$OUT/manifest.json"
python3 scripts/gpu-probe-check.py "$OUT/results/gpu/run.json" 2>&1 | tee "$OUT/probe-check.txt"
log "PyTorch references (same script)"
python3 bench/torch_gpu_ref.py 2>&1 | tee "$OUT/torch-ref.txt"
cp "$OUT/results/gpu/run.json" "$OUT/run.json" 2>/dev/null
grep -E "membw.(triad|d2d|h2d|d2h|copy)" "$OUT/summary-membw.md" | head -20
