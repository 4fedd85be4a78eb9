#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One command on a fresh machine: install dependencies, build with every toolchain present,
# probe, run the default profile on every device, and leave results/<run-id>/ with the run
# document, results.csv and summary.md (results/latest points at it).
#   ./run_all.sh                      standard profile, all suites, all devices
#   ./run_all.sh --profile quick      any 'accelbench run' option is passed through
# Exit code: that of 'accelbench run' (README, "Exit codes").
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build >&2
mkdir -p results
set +e
./build/accelbench run --out results "$@"
rc=$?
set -e
exit $rc
