#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Must-show 1 of the runners (README, "How verdicts are made"): back-to-back CPU runs of the quick
# profile, compared pairwise with the default verdict settings. Prints, per pair, the share of
# metrics called "same", the worse verdicts on headline figures, and the noise compare measured.
#   bench/compare_noise.sh [PAIRS] [extra 'accelbench run' options]   (default 3 pairs)
# Target: >= 90 % same and no headline "worse" in every pair.
source "$(dirname "$0")/common.sh"
pairs=${1:-3}
shift || true
fail=0
for p in $(seq 1 "$pairs"); do
  for side in a b; do
    "$AB" run --device cpu --profile quick --out "$TMP" --run-id "p$p$side" -q "$@" >/dev/null
  done
  "$AB" compare "$TMP/p${p}a" "$TMP/p${p}b" -f json >"$TMP/c$p.json"
  "$PY" - "$TMP/c$p.json" "$p" <<'PYEOF' || fail=1
import json, math, sys
c = json.load(open(sys.argv[1]))
v = [r["cells"][1] for r in c["rows"] if r["cells"][1].get("verdict")]
same = sum(x["verdict"] == "same" for x in v)
hw = [r["key"] + " " + (r["impl"] or "") for r in c["rows"]
      if r["headline"] and r["cells"][1].get("verdict") == "worse"]
noise = ", ".join("%s ±%.1f%% (shift %+.1f%%)" % (n["device_name"], 100 * math.expm1(n["sigma_log"] or 0),
                  100 * math.expm1(n["shift_log"] or 0)) for n in c["noise"])
ok = same >= 0.9 * len(v) and not hw
print("pair %s: %d/%d same (%.0f%%), headline worse: %s; noise %s -> %s" % (
    sys.argv[2], same, len(v), 100.0 * same / max(1, len(v)), ", ".join(hw) or "none", noise,
    "ok" if ok else "MISSED"))
sys.exit(0 if ok else 1)
PYEOF
done
exit $fail
