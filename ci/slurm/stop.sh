#!/usr/bin/env bash
# Stop the one-node cluster that ci/slurm/start.sh started in DIR (default
# $HAMSHAM_SLURM_DIR or /tmp/hamsham-slurm): cancel its jobs, then stop exactly the
# daemons whose PIDs start.sh recorded in DIR/pids, and the job step daemons
# (slurmstepd) of that cluster still alive, and remove the /etc/slurm/slurm.conf link
# that start.sh made. Safe to run twice, or with nothing running.
#
#   sudo bash ci/slurm/stop.sh [DIR]
set -uo pipefail

DIR=${1:-${HAMSHAM_SLURM_DIR:-/tmp/hamsham-slurm}}
say() { echo "ci/slurm/stop.sh: $*"; }

if [[ ! -f $DIR/pids ]]; then
  say "nothing to stop ($DIR/pids does not exist)"
  exit 0
fi
export SLURM_CONF=$DIR/slurm.conf

# Is PID still the daemon NAME that we started (not a recycled PID)?
ours() {
  local pid=$1 name=$2
  [[ -n $pid && -d /proc/$pid ]] || return 1
  local exe
  exe=$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")
  [[ $exe == "$name" || $exe == "$name-wlm" ]]  # Debian's binaries are slurmctld-wlm, slurmd-wlm
}

# Processes of this cluster's jobs: the step daemons (slurmstepd, started by our
# slurmd with its SLURM_CONF) and what runs in a job (SLURM_JOB_ID, and our SLURM_CONF
# or cluster name).
stepds() {
  local pid
  for pid in $(pgrep -x slurmstepd 2>/dev/null); do
    tr '\0' '\n' 2>/dev/null < "/proc/$pid/environ" | grep -qx "SLURM_CONF=$DIR/slurm.conf" && echo "$pid"
  done
}
job_processes() {
  local env pid
  for env in /proc/[0-9]*/environ; do
    pid=${env#/proc/}
    pid=${pid%/environ}
    [[ $pid == "$$" ]] && continue
    env=$(tr '\0' '\n' 2>/dev/null < "$env") || continue
    grep -q "^SLURM_JOB_ID=" <<<"$env" || continue
    grep -qx -e "SLURM_CONF=$DIR/slurm.conf" -e "SLURM_CLUSTER_NAME=hamsham" <<<"$env" && echo "$pid"
  done
}

stop_pid() {  # TERM, wait up to 10 s, then KILL
  local pid=$1 name=$2
  ours "$pid" "$name" || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 100); do
    ours "$pid" "$name" || return 0
    sleep 0.1
  done
  say "$name ($pid) did not stop on TERM: KILL"
  kill -KILL "$pid" 2>/dev/null
}

declare -A pids=()
while read -r name pid; do
  [[ -n ${name:-} ]] && pids[$name]=$pid
done < "$DIR/pids"

# Cancel the cluster's jobs while slurmctld still runs, and give them a moment.
if ours "${pids[slurmctld]:-}" slurmctld; then
  scancel --full --quiet $(squeue -h -o %i 2>/dev/null) 2>/dev/null || true
  for _ in $(seq 50); do
    [[ -z $(squeue -h -t running,completing -o %i 2>/dev/null) && -z $(stepds) ]] && break
    sleep 0.2
  done
fi

for name in slurmd slurmctld; do
  stop_pid "${pids[$name]:-}" "$name"
done
for pid in $(stepds); do
  stop_pid "$pid" slurmstepd
done
left=$(job_processes)
if [[ -n $left ]]; then
  say "killing processes of this cluster's jobs still alive: $left"
  kill -KILL $left 2>/dev/null
fi
stop_pid "${pids[munged]:-}" munged

rm -f "$DIR/pids"
if [[ -L /etc/slurm/slurm.conf && $(readlink /etc/slurm/slurm.conf) == "$DIR/slurm.conf" ]]; then
  rm -f /etc/slurm/slurm.conf
fi
say "stopped (logs kept in $DIR/log)"
