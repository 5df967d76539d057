#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for trying profiles/slurm and for CI.
#
#   sudo bash ci/slurm/start.sh [DIR]     # DIR: default $HAMSHAM_SLURM_DIR or /tmp/hamsham-slurm
#   export SLURM_CONF=DIR/slurm.conf      # (start.sh prints it) sbatch/squeue/srun find the cluster
#   ...  snakemake --workflow-profile profiles/slurm ...
#   sudo bash ci/slurm/stop.sh [DIR]
#
# Installs Debian's slurmctld, slurmd, slurm-client and munge with apt-get when they
# are missing (as root; idempotent), then starts munged, slurmctld and slurmd as
# root, with everything (munge key and socket, slurm.conf, state, spool, logs, PID
# files) under DIR, on ports of its own (HAMSHAM_SLURM_PORT, default 16817, and the
# next one), so an existing munge is left alone; /etc/slurm/slurm.conf becomes a link
# to DIR/slurm.conf (jobs' srun reads only that; start.sh stops if another file is
# there). The node has this machine's CPUs and memory (`slurmd -C`). No systemd needed.
#
# The configuration is what the pipeline's SLURM test needs: no accounting database
# (`sacct` answers "accounting storage is disabled", so job status comes from
# squeue), MinJobAge=300 s so that squeue still lists finished jobs when the
# executor plugin asks (it needs MinJobAge >= 3 x its first status delay),
# consumable cores and memory (select/cons_tres, CR_Core_Memory), and
# EnforcePartLimits=ALL so that a request larger than the node is refused at
# submission instead of pending forever.
set -euo pipefail

DIR=${1:-${HAMSHAM_SLURM_DIR:-/tmp/hamsham-slurm}}
PORT=${HAMSHAM_SLURM_PORT:-16817}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

say() { echo "ci/slurm/start.sh: $*"; }
die() { echo "ci/slurm/start.sh: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (sudo): it installs packages and starts slurmd, which runs jobs as their users"

# ------------------------------------------------------------------ packages
need=()
for tool in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
if ((${#need[@]})); then
  say "installing ${need[*]} (apt-get)"
  # Keep the packages' own services from starting (we run our own daemons).
  created_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  trap '[[ -n $created_policy ]] && rm -f /usr/sbin/policy-rc.d' EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  [[ -n $created_policy ]] && rm -f /usr/sbin/policy-rc.d
  trap - EXIT
fi

# ------------------------------------------------------------- already up?
if [[ -f $DIR/pids ]]; then
  alive=0
  while read -r _ pid; do
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && alive=$((alive + 1))
  done < "$DIR/pids"
  if ((alive == 3)); then
    say "already running ($DIR/pids)"
    echo "export SLURM_CONF=$DIR/slurm.conf"
    exit 0
  fi
  say "stale cluster in $DIR: stopping what is left of it first"
  bash "$HERE/stop.sh" "$DIR"
fi

# ------------------------------------------------------------------ config
# A fresh state each time: no jobs of an earlier cluster come back.
rm -rf "$DIR/state" "$DIR/spool" "$DIR/munge"
mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/munge"
chmod 755 "$DIR"
chmod 755 "$DIR/munge"  # users submit jobs through the socket in it

# This node as slurmd sees it: NodeName=... CPUs=... Boards=... RealMemory=...
node_line=$(slurmd -C | head -1)
[[ $node_line == NodeName=* ]] || die "slurmd -C gave no node description: $node_line"
NODE=${node_line%% *}
NODE=${NODE#NodeName=}
CPUS=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node_line")
MEM=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$node_line")
[[ -n $CPUS && -n $MEM ]] || die "cannot read CPUs and RealMemory from: $node_line"
# 2 % below what slurmd sees now: a node whose memory reads lower later is not drained.
MEM=$((MEM * 98 / 100))
node_line=$(sed "s/ RealMemory=[0-9]*/ RealMemory=$MEM/" <<<"$node_line")

cat > "$DIR/slurm.conf" <<EOF
# Written by ci/slurm/start.sh: a one-node cluster on $NODE ($CPUS CPUs, $MEM MB).
ClusterName=hamsham
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups, no systemd: processes tracked by their parents, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
# Cores and memory are consumed by jobs; a request larger than the node is refused.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
EnforcePartLimits=ALL
SchedulerType=sched/backfill
# Finished jobs stay visible to squeue for 5 minutes (the plugin's status source).
MinJobAge=300
ReturnToService=2
KillWait=5
InactiveLimit=0
Waittime=0
NodeName=$NODE NodeAddr=127.0.0.1 ${node_line#NodeName=$NODE } State=UNKNOWN
PartitionName=main Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

# Inside a job, the SLURM executor plugin starts `srun` with the SLURM_* variables
# removed (SLURM_CONF too), so that srun reads the default /etc/slurm/slurm.conf: link
# it to ours (stop.sh removes the link). Another configuration there is left alone.
SYSTEM_CONF=/etc/slurm/slurm.conf
if [[ -L $SYSTEM_CONF && $(readlink "$SYSTEM_CONF") == "$DIR/slurm.conf" ]]; then
  :
elif [[ -e $SYSTEM_CONF || -L $SYSTEM_CONF ]]; then
  die "$SYSTEM_CONF exists (another SLURM configuration): jobs' srun would read it, not ours. Use that cluster, or move it away."
else
  mkdir -p /etc/slurm
  ln -s "$DIR/slurm.conf" "$SYSTEM_CONF"
fi

# ------------------------------------------------------------------ daemons
export SLURM_CONF=$DIR/slurm.conf
dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$DIR/munge/munge.key"

pid_of() {  # wait for a daemon's PID file, then print the PID
  local file=$1 name=$2
  for _ in $(seq 100); do
    if [[ -s $file ]] && kill -0 "$(cat "$file")" 2>/dev/null; then
      cat "$file"
      return 0
    fi
    sleep 0.1
  done
  die "$name did not start; see $DIR/log/"
}

: > "$DIR/pids"
munged --force --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" \
  --pid-file="$DIR/munge/munged.pid" --seed-file="$DIR/munge/munged.seed" \
  --log-file="$DIR/log/munged.log"
echo "munged $(pid_of "$DIR/munge/munged.pid" munged)" >> "$DIR/pids"

slurmctld -f "$DIR/slurm.conf" -i
echo "slurmctld $(pid_of "$DIR/slurmctld.pid" slurmctld)" >> "$DIR/pids"

slurmd -f "$DIR/slurm.conf" -N "$NODE"
echo "slurmd $(pid_of "$DIR/slurmd.pid" slurmd)" >> "$DIR/pids"

# The node is up when it takes jobs.
for _ in $(seq 150); do
  state=$(sinfo -h -n "$NODE" -o %t 2>/dev/null || true)
  [[ $state == idle* || $state == mix* || $state == alloc* ]] && break
  sleep 0.2
done
[[ $state == idle* || $state == mix* || $state == alloc* ]] ||
  die "node $NODE is not up (state '${state:-none}'); see $DIR/log/slurmctld.log and slurmd.log"

say "one-node cluster up: $NODE, $CPUS CPUs, $MEM MB, partition main (PIDs in $DIR/pids)"
echo "export SLURM_CONF=$DIR/slurm.conf"
