#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One command on a fresh machine: install dependencies, build with every toolchain present,
# probe, run the default profile on every device, and leave results/<run-id>/ with the run
# document, results.csv and summary.md (results/latest points at it), charts (plots/: PNG, SVG and
# their .gp/.dat files) and a self-contained report.html; the run is also recorded in
# results/history.sqlite for 'accelbench history trend' and 'gate --baseline-last N'.
#   ./run_all.sh                      standard profile, all suites, all devices, within the
#                                     standard profile's 12-minute time budget (--budget none:
#                                     the whole profile; README, "Progress and the time budget")
#   ./run_all.sh --profile quick      any 'accelbench run' option is passed through, except
#                                     --out (the folder is results/; given, it is exit 2)
# Exit code: that of 'accelbench run' (README, "Exit codes"); 4 when the run passed but its
# report could not be written.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build >&2
mkdir -p results
set +e
./build/accelbench run --out results "$@"
rc=$?
# charts, report and history of the run just made (not after a usage error: nothing was run);
# their progress goes to stderr, stdout keeps the run's summary
if [ $rc -ne 2 ] && [ -f results/latest/run.json ]; then
  ./build/accelbench plot results/latest >&2
  if ./build/accelbench report results/latest --html results/latest/report.html; then
    echo "run_all.sh: report in results/latest/report.html" >&2
  else
    [ $rc -eq 0 ] && rc=4
  fi
  ./build/accelbench history add results/latest --db results/history.sqlite ||
    echo "run_all.sh: the run was not recorded in results/history.sqlite" >&2
fi
set -e
exit $rc
