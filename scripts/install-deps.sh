#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what accelbench needs to build, run and test. Idempotent: when everything is there it
# prints nothing and installs nothing. apt on Debian/Ubuntu, dnf on RHEL-like systems.
#
#   scripts/install-deps.sh           build + run + tests (CPU, OpenCL via PoCL, hwloc, PAPI, ...)
#   scripts/install-deps.sh --hip     also hipcc + HIP headers (compiles the AMD backend): the
#                                     distribution's, e.g. Debian 12's ROCm 5.2 (no gfx942);
#                                     nothing when AMD's ROCm is installed (/opt/rocm/bin/hipcc)
#   scripts/install-deps.sh --bench   also the peers the benchmark scripts measure beside us
#                                     (clpeak, numpy, PyTorch CPU, likwid)
#   scripts/install-deps.sh --browser also Chromium (the HTML report test)
#   scripts/install-deps.sh --fuzz    also clang with libFuzzer (scripts/fuzz.sh)
#   scripts/install-deps.sh --slurm   also Slurm and munge (scripts/slurm/ci-check.sh: a
#                                     single-node Slurm running an sbatch job of srun)
#
# The CUDA toolkit is not installed here (it is not in Debian's archive): with nvcc on PATH or at
# /usr/local/cuda the CUDA backend is built, otherwise it is reported as not built with the reason.
set -euo pipefail

want_hip=0 want_bench=0 want_browser=0 want_fuzz=0 want_slurm=0
for a in "$@"; do
  case "$a" in
    --hip) want_hip=1 ;;
    --bench) want_bench=1 ;;
    --browser) want_browser=1 ;;
    --fuzz) want_fuzz=1 ;;
    --slurm) want_slurm=1 ;;
    --all) want_hip=1 want_bench=1 want_browser=1 want_fuzz=1 want_slurm=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$a'" >&2; exit 2 ;;
  esac
done

# AMD's ROCm (repo.radeon.com, in /opt/rocm) has its own hipcc; the distribution's packages would
# only add an older second HIP beside it
[ $want_hip = 1 ] && [ -x /opt/rocm/bin/hipcc ] && want_hip=0

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
    echo "install-deps.sh: not root and no sudo: install the packages listed in this script" >&2
    exit 1
  fi
fi

if command -v apt-get >/dev/null 2>&1; then
  pkgs=(build-essential cmake ninja-build pkg-config git
        libjansson-dev libcsv-dev libhwloc-dev hwloc libpapi-dev papi-tools libopenblas-dev
        ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo
        libcriterion-dev gnuplot-nox libsqlite3-dev sqlite3 libxml2-utils
        python3-jsonschema   # the manifest schema test (probe_manifest)
        mlir-16-tools        # mlir-opt-16: syntax of the pjrt backend's StableHLO (test_pjrt)
        openmpi-bin libopenmpi-dev) # AB_MPI: MPI jobs, the fabric suite, test_cluster (mpirun)
  [ $want_hip = 1 ] && pkgs+=(hipcc libamdhip64-dev)
  [ $want_bench = 1 ] && pkgs+=(clpeak python3-numpy python3-torch likwid)
  [ $want_browser = 1 ] && pkgs+=(chromium)
  [ $want_fuzz = 1 ] && pkgs+=(clang libclang-rt-dev)
  [ $want_slurm = 1 ] && pkgs+=(slurm-wlm slurmctld slurmd slurm-client munge)
  missing=()
  for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && exit 0
  echo "install-deps.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
elif command -v dnf >/dev/null 2>&1; then
  pkgs=(gcc gcc-c++ make cmake ninja-build pkgconf-pkg-config git
        jansson-devel libcsv-devel hwloc-devel hwloc papi-devel openblas-devel
        ocl-icd-devel opencl-headers pocl clinfo criterion-devel gnuplot sqlite-devel libxml2
        python3-jsonschema openmpi-devel)
  [ $want_hip = 1 ] && pkgs+=(hipcc rocm-hip-devel)
  [ $want_bench = 1 ] && pkgs+=(clpeak python3-numpy python3-torch likwid)
  [ $want_browser = 1 ] && pkgs+=(chromium)
  [ $want_fuzz = 1 ] && pkgs+=(clang compiler-rt)
  [ $want_slurm = 1 ] && pkgs+=(slurm slurm-slurmctld slurm-slurmd munge)
  missing=()
  for p in "${pkgs[@]}"; do rpm -q "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && exit 0
  echo "install-deps.sh: installing ${missing[*]} (criterion and clpeak may need EPEL)" >&2
  "${sudo_cmd[@]}" dnf install -y -q --skip-broken "${missing[@]}"
else
  echo "install-deps.sh: neither apt-get nor dnf found; install the packages listed in this script" >&2
  exit 1
fi
