#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Host emulation of the train suite's CUDA kernels (suites/train/train_gpu.cu, train_attn_gpu.cu)
# for machines without a GPU: every GPU thread a std::thread, __syncthreads a std::barrier, a
# shuffle an exchange through a per-block array between barriers (cuda_runtime.h here), kernel
# launches rewritten by perl into emu_launch(grid, block, stream, kernel, args). Checks every op against
# the CPU kernels (ab_train_cpu) and the attention also against the fp64 reference, with warps of
# 32 and of 64 (the HIP wavefront). It proves the indexing, masking, tiling and reductions, not
# what only hardware shows (the memory model, register limits, speed).
#   bash tests/gpu_emu/run.sh [BUILD_DIR]   (a Ninja build with libabcore.a; default build;
#   ctest -R train_gpu_emu runs it)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
# exit 77 (CTest's skip) with the reason when the pieces are not there
[ -f "$BUILD/libabcore.a" ] || { echo "skip: no $BUILD/libabcore.a (build the CPU tree first)"; exit 77; }
[ -f "$BUILD/build.ninja" ] || { echo "skip: $BUILD is not a Ninja build (its link line is read from build.ninja)"; exit 77; }
command -v perl > /dev/null || { echo "skip: no perl (it rewrites the kernel launches)"; exit 77; }
echo '#include <barrier>' | ${CXX:-g++} -std=c++20 -x c++ -fsyntax-only - 2> /dev/null ||
  { echo "skip: ${CXX:-g++} has no C++20 <barrier>"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/suites/train"
ln -s "$PWD/backends" "$T/backends"
for d in attention tokens; do ln -s "$PWD/suites/$d" "$T/suites/$d"; done
for h in suites/train/*.h suites/train/*.cuh; do ln -s "$PWD/$h" "$T/suites/train/"; done
for f in train_gpu train_attn_gpu; do
  perl -0pe 's/([A-Za-z_][A-Za-z_0-9]*(?:<[A-Za-z_0-9]+>)?)<<<([^<>]+?),\s*([^,<>]+?),\s*0,\s*gd->stream>>>\(/emu_launch($2, $3, gd->stream, $1, /g' \
    "suites/train/$f.cu" > "$T/suites/train/$f.cpp"
  ! grep -n '<<<' "$T/suites/train/$f.cpp" || { echo "a launch the rewrite missed" >&2; exit 1; }
done
# the libraries abcore was linked with, from the build's test link line
LIBS=""
for l in $(sed -n '/^build test_train_kernels:/,/LINK_LIBRARIES/p' "$BUILD/build.ninja" |
           sed -n 's/.*LINK_LIBRARIES = //p'); do
  case "$l" in
    *abtesthelpers* | *criterion*) ;;
    -* | /*) LIBS="$LIBS $l" ;;
    *) LIBS="$LIBS $BUILD/$l" ;; # relative to the build directory
  esac
done
# a sanitizer build's libabcore.a needs the same runtime, and the kernels get the same checks
SAN=$(sed -n 's/^AB_SANITIZE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
SANFLAGS=${SAN:+-fsanitize=$SAN -fno-omit-frame-pointer}
rc=0
for w in 32 64; do
  ${CXX:-g++} -std=c++20 -O1 -DEMU_WARP=$w -Itests/gpu_emu -I"$T" -I. -Wall -Wextra -Wno-unknown-pragmas -Werror $SANFLAGS \
    -o "$T/emu$w" tests/gpu_emu/harness.cpp "$T/suites/train/train_gpu.cpp" \
    "$T/suites/train/train_attn_gpu.cpp" $LIBS -lpthread
  "$T/emu$w" || rc=1
done
exit $rc
