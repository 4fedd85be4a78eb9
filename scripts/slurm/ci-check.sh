#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CI: a single-node Slurm (start-local.sh), an sbatch job of `srun -n 2 accelbench run`
# (accelbench.sbatch), and the gathered run document checked: one job of 2 ranks launched by
# srun, a result of each rank from membw, the fabric suite's results from rank 0, all passing.
#   scripts/slurm/ci-check.sh [BUILD_DIR]     (default build-test)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(realpath "${1:-build-test}")
scripts/slurm/start-local.sh
export SLURM_CONF=${AB_SLURM_DIR:-/tmp/accelbench-slurm}/slurm.conf
out=$(mktemp -d /tmp/accelbench-slurm-ci.XXXXXX)
export ACCELBENCH=$build/accelbench AB_OUT=$out/results
export AB_RUN_ARGS="--suite fabric,membw.triad --profile quick -r 3 -t 0.005 --dtype f64 --sizes 1MiB --msg-sizes 64KiB --p2p-size 64KiB --window 4 -q"
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
job=$(timeout 600 sbatch --parsable --wait --time=10 --ntasks=2 --chdir="$out" --output="$out/slurm-%j.out" \
  scripts/slurm/accelbench.sbatch) || { cat "$out"/slurm-*.out >&2; exit 1; }
doc=$out/results/slurm-$job/run.json
python3 - "$doc" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
job = d["job"]
assert job["launcher"] == "srun (Slurm)" and job["size"] == 2, job
assert [r["status"] for r in job["ranks"]] == ["reported", "reported"], job["ranks"]
res = d["results"]
bad = [(r["key"], r.get("rank"), r["status"], r["reason"]) for r in res if r["status"] != "pass"]
assert not bad, bad
ranks = {r["rank"] for r in res if r["suite"] == "membw"}
assert ranks == {0, 1}, ranks
fab = [r for r in res if r["suite"] == "fabric"]
assert len(fab) == 8 and all(r["job_wide"] and r["rank"] == 0 for r in fab), fab
print(f"slurm ci-check: job {d['id']}: {len(res)} results, ranks {sorted(ranks)}, "
      f"{len(fab)} fabric results, all pass")
PY
rm -rf "$out"
