#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The test command (README): installs what the tests need, builds every backend this machine can
# compile with warnings as errors (CPU, OpenCL; CUDA and HIP compile-only without a GPU), and runs
# the whole test suite through CTest. Chromium is installed for the HTML report test.
#   scripts/test.sh              build in build-test/ and run the tests
#   scripts/test.sh --sanitize   the same with AddressSanitizer + UBSan, in build-asan/
#   scripts/test.sh --tsan       ThreadSanitizer on the sampler thread (tests/sampler_threads.c)
#                                and run --concurrent's threads (tests/concurrent_threads.c), in
#                                build-tsan/ (only those: libgomp is not instrumented, so the
#                                OpenMP kernels would report false races)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --hip --browser
if [ "${1:-}" = "--tsan" ]; then
  cmake -S . -B build-tsan -G Ninja -DAB_WERROR=ON -DCMAKE_BUILD_TYPE=Debug -DAB_SANITIZE=thread \
    -DAB_OPENCL=OFF -DAB_CUDA=OFF -DAB_HIP=OFF >/dev/null
  cmake --build build-tsan --target sampler_threads concurrent_threads fake_gpumgmt
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    ctest --test-dir build-tsan --output-on-failure -R '^(sampler_threads|concurrent_threads)$'
  exit
fi
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  cfg=(-DCMAKE_BUILD_TYPE=Debug -DAB_SANITIZE=address,undefined -DAB_CUDA=OFF -DAB_HIP=OFF)
else
  dir=build-test
  cfg=(-DCMAKE_BUILD_TYPE=Release)
fi
# AB_CMAKE_ARGS: extra configure options (CI makes the OpenCL, CUDA and HIP backends required)
# shellcheck disable=SC2086
cmake -S . -B "$dir" -G Ninja -DAB_WERROR=ON "${cfg[@]}" ${AB_CMAKE_ARGS:-} >/dev/null
cmake --build "$dir"
ctest --test-dir "$dir" --output-on-failure
