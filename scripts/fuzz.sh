#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fuzzes the run-document reader (fuzz/fuzz_rundoc.c) with libFuzzer for a bounded time.
#   scripts/fuzz.sh [SECONDS]     default 60
# Builds build-fuzz/ with clang (-fsanitize=fuzzer,address,undefined), starts from the seed
# corpus fuzz/corpus (read-only) plus build-fuzz/corpus (what earlier runs found), and fails on
# any crash, sanitizer report, leak or timeout; the reproducer is left in build-fuzz/ (add it to
# fuzz/corpus once fixed, so CTest replays it).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
case "$secs" in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a number" >&2; exit 2 ;; esac
command -v clang >/dev/null || { echo "fuzz.sh: clang not found (apt-get install clang)" >&2; exit 2; }
cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DAB_FUZZ=ON \
  -DAB_TESTS=OFF -DAB_OPENCL=OFF -DAB_CUDA=OFF -DAB_HIP=OFF -DAB_OPENMP=OFF -DAB_NATIVE=OFF \
  -DAB_WERROR=ON >/dev/null
cmake --build build-fuzz --target fuzz_rundoc >&2
mkdir -p build-fuzz/corpus
echo "== fuzzing the run-document reader for ${secs} s" >&2
./build-fuzz/fuzz_rundoc -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -dict=fuzz/rundoc.dict -artifact_prefix=build-fuzz/ -print_final_stats=1 \
  build-fuzz/corpus fuzz/corpus
