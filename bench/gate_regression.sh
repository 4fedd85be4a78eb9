#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Must-show 2 of the runners: a real CPU run as the baseline, and a copy of it whose samples for
# one metric are 30 % slower (every sample of that metric x 0.7: 30 % less bandwidth). 'accelbench
# gate' must exit 3, name that metric on stderr, and list it as failed in the JUnit file.
#   bench/gate_regression.sh [KEY IMPL]
# Default metric: the headline whose samples spread least in the baseline. With the quick
# profile's 5 samples a side, the U test needs the two sets almost apart (U <= 2 of 25 pairs for
# p < 0.05); on a busy machine a sample spread of 20 % hides a 30 % shift in a noisy metric, and
# the gate then rightly says "same" (README, "How verdicts are made").
source "$(dirname "$0")/common.sh"
key=${1:-} impl=${2:-}
"$AB" run --device cpu --profile quick --out "$TMP" --run-id base -q >/dev/null
"$PY" - "$TMP/base/run.json" "$TMP/slow.json" "$key" "$impl" <<'PYEOF'
import json, sys
src, dst, key, impl = sys.argv[1:5]
d = json.load(open(src))
d["id"] = "slow"
cands = [r for r in d["results"] if r["headline"] and r["status"] == "pass" and
         (not key or (r["key"] == key and r["impl"] == impl))]
if not cands:
    sys.exit("no passing headline result%s in the run" % (" " + key + " " + impl if key else ""))
r = min(cands, key=lambda r: r["metrics"][0]["stats"]["cv"])
m = r["metrics"][0]
cv = m["stats"]["cv"]
m["samples"] = [s * 0.7 for s in m["samples"]]
m.pop("stats", None)  # the reader recomputes them from the samples
print("slowed %s %s %s (sample CV %.1f %%) by 30 %%" % (r["key"], r["impl"], r["params"], 100 * cv),
      file=sys.stderr)
json.dump(d, open(dst, "w"), indent=1)
PYEOF
set +e
"$AB" gate "$TMP/base" "$TMP/slow.json" --junit "$TMP/junit.xml"
rc=$?
set -e
echo "gate exit code: $rc (3 = regression)"
echo "JUnit failures:"
grep -B1 "<failure" "$TMP/junit.xml"
[ $rc -eq 3 ] && [ "$(grep -c "<failure" "$TMP/junit.xml")" -eq 1 ]
