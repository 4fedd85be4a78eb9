#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A single-node Slurm on this machine, for trying `srun accelbench run` and for CI
# (scripts/slurm/ci-check.sh): Debian's munge, slurmctld and slurmd, configured for localhost
# with the CPUs and memory `slurmd -C` reports. Needs root (munge key, daemons).
#
#   scripts/slurm/start-local.sh          configure and start (idempotent: running daemons stay)
#   scripts/slurm/start-local.sh --stop   stop the daemons this script started
#
# Everything lives under $AB_SLURM_DIR (default /tmp/accelbench-slurm): slurm.conf, state,
# spool, logs, pid files. Clients find it through SLURM_CONF=$AB_SLURM_DIR/slurm.conf (printed
# at the end). The munge key is /etc/munge/munge.key (created when missing).
set -euo pipefail
dir=${AB_SLURM_DIR:-/tmp/accelbench-slurm}
conf=$dir/slurm.conf

stop() {
  for d in slurmd slurmctld; do
    if [ -f "$dir/$d.pid" ] && kill -0 "$(cat "$dir/$d.pid")" 2>/dev/null; then
      kill "$(cat "$dir/$d.pid")"
    fi
  done
  # munged only when this script started it (its pid file is munge's: /run/munge)
  if [ -f "$dir/munged.started" ] && [ -f /run/munge/munged.pid ] &&
     kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; then
    kill "$(cat /run/munge/munged.pid)"
    rm -f "$dir/munged.started"
  fi
}
if [ "${1:-}" = "--stop" ]; then stop; exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "start-local.sh: needs root (munge key, slurmctld, slurmd)" >&2
  exit 1
fi
for p in munged slurmctld slurmd sinfo; do
  command -v "$p" >/dev/null || { echo "start-local.sh: $p not found (scripts/install-deps.sh --slurm)" >&2; exit 1; }
done
mkdir -p "$dir/state" "$dir/spool" /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true

# munge: the key, then the daemon (its socket is what slurm authenticates through)
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
fi
if ! munge -n </dev/null >/dev/null 2>&1; then
  runuser -u munge -- munged --pid-file=/run/munge/munged.pid 2>/dev/null ||
    runuser -u munge -- munged --pid-file=/run/munge/munged.pid --force
  touch "$dir/munged.started"
  for _ in $(seq 50); do munge -n </dev/null >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n </dev/null | unmunge >/dev/null

host=$(hostname -s)
node=$(slurmd -C | head -1) # NodeName=<host> CPUs=... RealMemory=...
cat >"$conf" <<CONF
# written by accelbench scripts/slurm/start-local.sh: one node, this machine
ClusterName=accelbench
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=${AB_SLURM_CTLD_PORT:-6817}
SlurmdPort=${AB_SLURM_D_PORT:-6818}
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
ReturnToService=2
KillWait=5
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF=$conf
running() { [ -f "$dir/$1.pid" ] && kill -0 "$(cat "$dir/$1.pid")" 2>/dev/null; }
running slurmctld || slurmctld -f "$conf"
running slurmd || slurmd -f "$conf"
for _ in $(seq 100); do
  state=$(sinfo -h -n "$host" -o %t 2>/dev/null || true)
  case "$state" in idle*|mix*|alloc*) break ;; esac
  sleep 0.2
done
if ! sinfo -h -n "$host" -o %t | grep -Eq 'idle|mix|alloc'; then
  echo "start-local.sh: node $host is not up (state '$(sinfo -h -n "$host" -o %t 2>&1)'); logs in $dir" >&2
  exit 1
fi
echo "start-local.sh: Slurm up on $host ($node); export SLURM_CONF=$conf"
