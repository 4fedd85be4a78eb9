# SPDX-License-Identifier: MIT
# Shared by the bench/*.sh scripts: a Release build of accelbench, and small helpers.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
PY=/usr/bin/python3   # Debian's python (numpy, torch); a pyenv shim on PATH may lack them
if [ ! -x "$BUILD/accelbench" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" >/dev/null
AB="$BUILD/accelbench"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# the C flags accelbench's kernels were compiled with
ab_cflags() { sed -n 's/^const char ab_build_flags\[\] = "\(.*\)";$/\1/p' "$BUILD/gen/build_info.c"; }
# median of the numbers on stdin
median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
# median (in units of 1e9) of metric rows in a results.csv: csv_median FILE KEY IMPL
csv_median() {
  "$PY" - "$@" <<'PYEOF'
import csv, sys
path, key, impl = sys.argv[1:4]
for row in csv.DictReader(open(path)):
    if row["key"] == key and row["impl"] == impl and row["status"] == "pass" and row["median"]:
        print("%.4f" % (float(row["median"]) / 1e9)); break
else:
    sys.exit("no passing %s/%s in %s" % (key, impl, path))
PYEOF
}
