#!/usr/bin/env bash
# A throwaway single-node Slurm in one directory, for trying the job scripts in jobs/ on a workstation
# and for the ctest test tests/test_slurm.sh. Needs root and Debian's slurm-wlm and munge
# (scripts/bootstrap.sh installs them). Nothing outside DIR is touched: munged gets its own key and
# socket in DIR, slurmctld and slurmd their own ports (free ones, picked at start), state, spool, logs
# and pid files in DIR. No system service is started or stopped.
#
#   scripts/slurm-local.sh start DIR   # DIR must not exist or be empty; prints the `export SLURM_CONF=…`
#                                      # line that points sbatch, squeue, scontrol, srun at this cluster
#   scripts/slurm-local.sh stop DIR    # stops exactly the daemons started in DIR (by their pid files)
#   scripts/slurm-local.sh env DIR     # prints the export line again
#
# The cluster: one node (this machine, `hostname`, on 127.0.0.1) with the CPUs `slurmd -C` reports, one
# partition `local`. Tasks are not bound to cores and processes are tracked by /proc (no cgroups), so
# jobs may ask for more tasks than cores with `--overcommit` (an MPI run of N workers needs N+1 tasks).
#
# Accounting: there is no slurmdbd, so `sacct` has nothing to read (AccountingStorageType=none). What
# happened to a job is kept two ways instead: `scontrol show job ID` keeps finished jobs for an hour
# (MinJobAge=3600), and jobcomp/filetxt appends one line per finished job (every array task) to
# DIR/jobcomp.txt, with JobId=, JobState= (COMPLETED, FAILED, ...) and ExitCode=.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|env DIR" >&2
  exit 2
}
(($# == 2)) || usage
action=$1
dir=$2

env_line() { echo "export SLURM_CONF=$(realpath "$dir")/slurm.conf"; }

# Kills the process whose pid is in FILE if it is still the program NAME; waits for it to exit.
stop_pidfile() {
  local file=$1 name=$2 pid
  [[ -s $file ]] || return 0
  pid=$(<"$file")
  if [[ -r /proc/$pid/comm ]] && [[ $(</proc/"$pid"/comm) == "$name"* ]]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
      [[ -e /proc/$pid ]] || break
      sleep 0.1
    done
    if [[ -e /proc/$pid ]]; then kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$file"
}

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case $action in
  env)
    env_line
    exit 0
    ;;
  stop)
    [[ -d $dir ]] || { echo "slurm-local: no such directory $dir" >&2; exit 1; }
    stop_pidfile "$dir/slurmd.pid" slurmd
    stop_pidfile "$dir/slurmctld.pid" slurmctld
    stop_pidfile "$dir/munge/munged.pid" munged
    echo "slurm-local: stopped the daemons of $dir"
    exit 0
    ;;
  start) ;;
  *) usage ;;
esac

if ((EUID != 0)); then
  echo "slurm-local: needs root (slurmd runs jobs as their users; munged runs as user munge)" >&2
  exit 1
fi
for program in munged slurmctld slurmd sbatch scontrol; do
  command -v "$program" >/dev/null || { echo "slurm-local: $program not found; run scripts/bootstrap.sh" >&2; exit 1; }
done
if [[ -e $dir ]] && [[ -n $(ls -A "$dir") ]]; then
  echo "slurm-local: $dir exists and is not empty" >&2
  exit 1
fi
mkdir -p "$dir"
dir=$(realpath "$dir")
# munged (user munge) must reach its own subdirectory; nobody else may write here.
chmod 755 "$dir"
if ! runuser -u munge -- test -x "$dir"; then
  echo "slurm-local: user munge cannot reach $dir (a parent directory is not searchable by others)" >&2
  exit 1
fi
mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"

# --- munge: a fresh key, socket, pid, log and seed file, all in DIR/munge, owned by munge ---
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1 count=128 status=none
chown -R munge:munge "$dir/munge"
chmod 711 "$dir/munge"  # clients must reach the socket; the directory stays unlistable
chmod 400 "$dir/munge/munge.key"
socket=$dir/munge/munge.socket
runuser -u munge -- munged --key-file="$dir/munge/munge.key" --socket="$socket" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"

# --- slurm.conf ---
host=$(hostname)
node_line=$(slurmd -C | head -1)  # NodeName=<host> CPUs=… Boards=… … RealMemory=…
ctld_port=$(free_port)
slurmd_port=$(free_port)
while [[ $slurmd_port == "$ctld_port" ]]; do slurmd_port=$(free_port); done
cat >"$dir/slurm.conf" <<EOF
# Written by scripts/slurm-local.sh: a throwaway one-node cluster in $dir.
ClusterName=ringmaster-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
# no slurmdbd: sacct has nothing to read; finished jobs stay in scontrol for an hour and are
# appended to jobcomp.txt
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
MinJobAge=3600
MaxArraySize=10001
MaxJobCount=100000
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$dir/slurm.conf

slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"

# Ready when the node accepts jobs.
for _ in $(seq 300); do
  state=$(sinfo -h -N -o %t 2>/dev/null | head -1 || true)
  if [[ $state == idle* || $state == mix* || $state == alloc* ]]; then
    echo "slurm-local: cluster up in $dir (node $host, state $state)"
    env_line
    exit 0
  fi
  sleep 0.2
done
echo "slurm-local: the node did not come up within 60 s; logs in $dir/log:" >&2
tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
exit 1
