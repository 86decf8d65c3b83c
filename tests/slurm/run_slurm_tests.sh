#!/usr/bin/env bash
# The sbatch templates of slurm/ under a real Slurm: a one-node cluster on
# loopback (munged, slurmctld, slurmd started here with a generated slurm.conf,
# two fake GPUs as generic resources), every template submitted with sbatch as
# users get it, scaled to 2 CPU ranks through the MGI_* variables and sbatch
# options, and checked:
#   one-node (srun), one-node-mpirun, multi-node  the demo; output bitwise equal to a
#                                                 direct mpirun run, complete = 1, the
#                                                 binding each launcher gives (plan table)
#   array, with a file list and with ${SLURM_ARRAY_TASK_ID} in the config
#                                                 3 tasks each, every output checked;
#                                                 the list array again: every task skips
#   requeue, through srun and through mpirun      USR1 mid-run (scancel --signal=USR1
#                                                 --batch, as --signal=B:USR1 does) -> exit 75
#                                                 -> scontrol requeue -> SLURM_RESTART_COUNT=1
#                                                 resumes from the journal -> complete, bitwise
#                                                 equal to an uninterrupted run
# Needs root: installs Debian's slurmctld slurmd slurm-client munge when missing
# and starts the daemons; every daemon it started is stopped on exit (by pid
# file), whatever happens. Anything it cannot do is a failure, never a pass.
#
#   run_slurm_tests.sh --tool build/mgi-mpi --python .venv/bin/python --work DIR [--mpiexec mpiexec]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOL="" PY="" WORK="" MPIEXEC=mpiexec
while (($#)); do
  case $1 in
    --tool) TOOL=$2; shift 2 ;;
    --python) PY=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --mpiexec) MPIEXEC=$2; shift 2 ;;
    *) echo "run_slurm_tests: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
if [[ $(id -u) -ne 0 ]]; then
  echo "run_slurm_tests: FATAL needs root: it installs slurmctld/slurmd/munge when missing and starts the daemons" >&2
  exit 1
fi
[[ -x $TOOL && -x $PY && -n $WORK ]] || { echo "usage: $0 --tool MGI_MPI --python PY --work DIR [--mpiexec M]" >&2; exit 2; }
TOOL=$(realpath "$TOOL")
T0=$(date +%s)
DEADLINE=$((T0 + ${MGI_SLURM_TEST_SECONDS:-240}))  # below ctest's TIMEOUT, so cleanup always runs

say() { printf '[slurm-test %3ds] %s\n' $(($(date +%s) - T0)) "$*"; }
FAILS=0 PASSES=0
pass() { PASSES=$((PASSES + 1)); say "PASS $*"; }
fail() { FAILS=$((FAILS + 1)); say "FAIL $*"; }
die() { say "FATAL $*"; exit 1; }
check() {  # check "what" command...: pass/fail on the command's status
  local what=$1; shift
  if "$@" >"$WORK/check.log" 2>&1; then pass "$what"; else fail "$what"; sed "s/^/    /" "$WORK/check.log" | tail -40; fi
}

# ----------------------------------------------------------------- daemons
D="$WORK/slurm"  # config, state, spool, logs, pid files
CTLD_PID="" SLURMD_PID="" MUNGE_PID="" SLOW_REF=""
alive() {  # running (a zombie waiting for a late reaper is not)
  [[ -r /proc/$1/status ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
stop_daemon() {  # stop_daemon NAME PID: TERM, then KILL after 10 s
  local name=$1 pid=$2 i
  [[ -n $pid ]] || return 0
  if ! alive "$pid" || [[ $(cat "/proc/$pid/comm" 2>/dev/null) != "$name" ]]; then return 0; fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do alive "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.5
  if alive "$pid"; then say "ERROR: $name (pid $pid) survives SIGKILL"; return 1; fi
  say "warning: $name (pid $pid) needed SIGKILL"
}
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [[ -n $SLOW_REF ]] && alive "$SLOW_REF"; then  # a reference run still going: its subshells, mpiexec, ranks
    local tree=("$SLOW_REF") k=0
    while ((k < ${#tree[@]})); do
      mapfile -t -O "${#tree[@]}" tree < <(pgrep -P "${tree[$k]}")
      k=$((k + 1))
    done
    kill -TERM "${tree[@]}" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
      local left=0 p
      for p in "${tree[@]}"; do alive "$p" && left=1; done
      ((left)) || break
      sleep 0.1
    done
    ((left == 0)) || kill -KILL "${tree[@]}" 2>/dev/null
    say "stopped the unfinished reference run (pids ${tree[*]})"
  fi
  if [[ -n $CTLD_PID ]] && alive "$CTLD_PID"; then
    scancel --quiet --user=root 2>/dev/null
    for ((i = 0; i < 50; i++)); do [[ -z $(squeue -h 2>/dev/null) ]] && break; sleep 0.2; done
  fi
  stop_daemon slurmd "$SLURMD_PID" || rc=1
  stop_daemon slurmctld "$CTLD_PID" || rc=1
  stop_daemon munged "$MUNGE_PID" || rc=1
  # Job steps of ours that outlived slurmd (their environment names our config).
  for p in $(pgrep -x slurmstepd 2>/dev/null); do
    if alive "$p" && tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qx "SLURM_CONF=$D/slurm.conf"; then
      kill -KILL "$p" 2>/dev/null && say "killed a leftover slurmstepd (pid $p)"
    fi
  done
  if ((rc != 0 || FAILS > 0)); then
    for f in "$D/slurmctld.log" "$D/slurmd.log"; do
      [[ -f $f ]] && { echo "---- last lines of $f"; tail -25 "$f"; }
    done
  fi
  say "daemons stopped; logs and outputs in $WORK"
  ((FAILS == 0)) || rc=1
  exit "$rc"
}
trap cleanup EXIT
trap 'die "interrupted"' INT TERM

# Stale daemons of an earlier run of this test that was killed before its cleanup.
for pidfile in "$D/slurmd.pid:slurmd" "$D/slurmctld.pid:slurmctld" "$D/munge/munged.pid:munged"; do
  f=${pidfile%%:*}
  if [[ -f $f ]]; then stop_daemon "${pidfile##*:}" "$(cat "$f")" || die "cannot stop a stale ${pidfile##*:}"; fi
done
rm -rf "$WORK"
mkdir -p "$WORK" "$D/state" "$D/spool" "$D/gpu" "$WORK/logs" "$WORK/out" "$WORK/ref"

missing=()
for p in slurmctld slurmd slurm-client munge; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]} (apt-get, --no-install-recommends)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$WORK/apt.log" 2>&1; then
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >>"$WORK/apt.log" 2>&1; then
      tail -20 "$WORK/apt.log"
      die "cannot install ${missing[*]}"
    fi
  fi
fi

# A munged of our own on a private socket: never one that another test run or
# the machine's Slurm uses (they may stop it, or we would stop theirs).
MUNGE_DIR="$D/munge"
install -d -o munge -g munge -m 0755 "$MUNGE_DIR"  # munged checks: owned by munge, not writable by others
runuser -u munge -- /usr/sbin/munged --socket="$MUNGE_DIR/munge.sock" --pid-file="$MUNGE_DIR/munged.pid" \
  --log-file="$MUNGE_DIR/munged.log" --seed-file="$MUNGE_DIR/munged.seed" >"$WORK/munged.out" 2>&1 ||
  { cat "$WORK/munged.out"; die "munged did not start"; }
MUNGE_PID=$(cat "$MUNGE_DIR/munged.pid" 2>/dev/null) || die "munged wrote no pid file"
munge -n --socket="$MUNGE_DIR/munge.sock" | unmunge --socket="$MUNGE_DIR/munge.sock" >/dev/null ||
  die "munge -n | unmunge fails on $MUNGE_DIR/munge.sock"
say "munge: started munged (pid $MUNGE_PID) on $MUNGE_DIR/munge.sock"

NODE=$(hostname -s)
read -r CTLD_PORT SLURMD_PORT < <("$PY" -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
# The node as slurmd sees it (nproc would follow OMP_NUM_THREADS); memory a bit below the total.
HW=$(/usr/sbin/slurmd -C | head -1)
CPUS=$(sed -nE 's/.* CPUs=([0-9]+).*/\1/p' <<<"$HW")
SOCKETS=$(sed -nE 's/.* SocketsPerBoard=([0-9]+).*/\1/p' <<<"$HW")
CORES=$(sed -nE 's/.* CoresPerSocket=([0-9]+).*/\1/p' <<<"$HW")
THREADS=$(sed -nE 's/.* ThreadsPerCore=([0-9]+).*/\1/p' <<<"$HW")
MEM=$(($(sed -nE 's/.* RealMemory=([0-9]+).*/\1/p' <<<"$HW") * 8 / 10))
[[ -n $CPUS && -n $SOCKETS && -n $CORES && -n $THREADS && $MEM -gt 0 ]] || die "cannot read 'slurmd -C': $HW"
((CPUS >= 2)) || die "the node has $CPUS CPU(s); the jobs need 2"
ln -s /dev/null "$D/gpu/gpu0"
ln -s /dev/null "$D/gpu/gpu1"
export SLURM_CONF="$D/slurm.conf"
cat >"$SLURM_CONF" <<EOF
# Generated by tests/slurm/run_slurm_tests.sh: one node on loopback.
ClusterName=mgitest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
AuthType=auth/munge
# Our munged; a requeued job may start cred_expire + 1 s after it was requeued (default 120).
AuthInfo=cred_expire=10,socket=$D/munge/munge.sock
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
MailProg=/bin/true
SchedulerParameters=batch_sched_delay=0,sched_interval=5
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$D/jobcomp.log
MinJobAge=600
KillWait=5
ReturnToService=2
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS SocketsPerBoard=$SOCKETS CoresPerSocket=$CORES ThreadsPerCore=$THREADS RealMemory=$MEM Gres=gpu:2 State=UNKNOWN
PartitionName=test Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
cat >"$D/gres.conf" <<EOF
AutoDetect=off
Name=gpu File=$D/gpu/gpu[0-1]
EOF

wait_pidfile() {
  local f=$1 i
  for ((i = 0; i < 100; i++)); do [[ -s $f ]] && { cat "$f"; return 0; }; sleep 0.1; done
  return 1
}
/usr/sbin/slurmctld -f "$SLURM_CONF" || die "slurmctld did not start"
CTLD_PID=$(wait_pidfile "$D/slurmctld.pid") || die "slurmctld wrote no pid file"
/usr/sbin/slurmd -f "$SLURM_CONF" -N "$NODE" || die "slurmd did not start"
SLURMD_PID=$(wait_pidfile "$D/slurmd.pid") || die "slurmd wrote no pid file"
state=""
for ((i = 0; i < 150; i++)); do
  state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
  [[ $state == idle ]] && break
  [[ $state == drain* ]] && scontrol update NodeName="$NODE" State=RESUME
  sleep 0.2
done
[[ $state == idle ]] || die "node $NODE is '$state', not idle, 30 s after slurmd started"
say "Slurm $(sinfo -V | cut -d' ' -f2) up: slurmctld pid $CTLD_PID (port $CTLD_PORT), slurmd pid $SLURMD_PID" \
    "(port $SLURMD_PORT), node $NODE with $CPUS CPUs and gres gpu:2"

# ------------------------------------------------------ inputs and references
IN="$WORK/in" OUT="$WORK/out" REF="$WORK/ref"
"$PY" "$ROOT/tests/mpi/make_inputs.py" --out "$IN" | sed 's/^/    /'
# The campaign by config: input and output named by ${SLURM_ARRAY_TASK_ID}.
mkdir -p "$OUT/array-config" "$OUT/array-list"
parts=(mlp few kill)
for i in 0 1 2; do ln -s "$IN/${parts[$i]}.h5" "$IN/part-$i.h5"; done
sed -e "s|file: $IN/mlp.h5|file: $IN/part-\${SLURM_ARRAY_TASK_ID}.h5|" \
    -e "s|file: $IN/../out/mlp.h5|file: $OUT/array-config/part-\${SLURM_ARRAY_TASK_ID}-pred.h5|" \
    "$IN/mlp.yaml" >"$IN/campaign.yaml"
grep -qF "part-\${SLURM_ARRAY_TASK_ID}.h5" "$IN/campaign.yaml" || die "campaign.yaml: substitution failed"
printf '%s\n' "$IN/mlp.h5" "$IN/few.h5" "$IN/kill.h5" >"$IN/list.txt"
# The requeue runs must last long enough to be interrupted mid-run, however fast
# the CPU backend gets: the test MLP behind mgi.test.Work (an identity that
# sleeps 0.6 ms per unit of x[:, 0] > 0), about 5 s a run on 2 ranks, mostly asleep.
"$PY" - "$IN/mlp.onnx" "$IN/mlp-slow.onnx" <<'PYEOF'
import sys
import onnx
from onnx import helper
m = onnx.load(sys.argv[1])
for node in m.graph.node:
    node.input[:] = ["x_slow" if i == "x" else i for i in node.input]
m.graph.node.insert(0, helper.make_node("Work", ["x"], ["x_slow"], name="sleep", domain="mgi.test", ns_per_unit=600000))
m.opset_import.append(helper.make_opsetid("mgi.test", 1))
onnx.save(m, sys.argv[2])
PYEOF
SLOW="--set input.file=$IN/kill.h5 --set model.file=$IN/mlp-slow.onnx --set runtime.batch_size=16"
SLOW+=" --set runtime.gather_window_bytes=16KiB"

say "reference runs (direct mpirun -np 2, outside Slurm)"
ref() {  # ref NAME CONFIG ARGS...
  local name=$1 cfg=$2; shift 2
  (cd "$ROOT" && "$MPIEXEC" -n 2 "$TOOL" "$cfg" --set "output.file=$REF/$name.h5" "$@") >"$REF/$name.log" 2>&1 ||
    { tail -20 "$REF/$name.log"; die "reference run $name failed"; }
}
ref demo configs/demo.yaml
for p in mlp few kill; do ref "$p" "$IN/mlp.yaml" --set "input.file=$IN/$p.h5"; done
# The requeue jobs' uninterrupted reference: asleep most of the time, so it runs beside the jobs.
# shellcheck disable=SC2086
ref kill-slow "$IN/mlp.yaml" $SLOW &
SLOW_REF=$!

# ------------------------------------------------------------------ submit
SCALE=(--nodes=1 --ntasks-per-node=2 --gpus-per-node=2 --cpus-per-task=1 --time=5)
# Ranks that srun starts do not know that the machine is shared (mpirun's do: the
# test environment allows oversubscription), so they would spin in MPI waits.
export OMPI_MCA_mpi_yield_when_idle=1
submit() {  # submit NAME TEMPLATE [VAR=value ...] -- [sbatch options]: prints the job id
  local name=$1 template=$2 vars=()
  shift 2
  while (($#)) && [[ $1 != -- ]]; do vars+=("$1"); shift; done
  [[ ${1:-} == -- ]] && shift
  (cd "$ROOT" && env MGI_BIN="$TOOL" "${vars[@]}" sbatch --parsable --job-name="$name" "${SCALE[@]}" \
     --output="$WORK/logs/$name-%j.out" "$@" "slurm/$template") || die "sbatch $template failed"
}
declare -A JOB
# The requeue jobs first: they are interrupted while they run.
JOB[requeue-srun]=$(submit requeue-srun requeue.sbatch MGI_CONFIG="$IN/mlp.yaml" \
  MGI_OUTPUT="$OUT/requeue-srun.h5" MGI_EXTRA_ARGS="$SLOW")
JOB[requeue-mpirun]=$(submit requeue-mpirun requeue.sbatch MGI_CONFIG="$IN/mlp.yaml" \
  MGI_OUTPUT="$OUT/requeue-mpirun.h5" MGI_EXTRA_ARGS="$SLOW" MGI_LAUNCHER=mpirun)
JOB[one-node]=$(submit one-node one-node.sbatch MGI_CONFIG=configs/demo.yaml MGI_OUTPUT="$OUT/one-node.h5")
JOB[one-node-mpirun]=$(submit one-node-mpirun one-node-mpirun.sbatch MGI_CONFIG=configs/demo.yaml \
  MGI_OUTPUT="$OUT/one-node-mpirun.h5")
JOB[multi-node]=$(submit multi-node multi-node.sbatch MGI_CONFIG=configs/demo.yaml MGI_OUTPUT="$OUT/multi-node.h5" \
  MGI_EXTRA_ARGS="--set mode=dynamic")
JOB[array-list]=$(submit array-list array.sbatch MGI_CONFIG="$IN/mlp.yaml" MGI_FILE_LIST="$IN/list.txt" \
  MGI_OUTPUT_DIR="$OUT/array-list" -- --array=0-2 --output="$WORK/logs/array-list-%A_%a.out")
JOB[array-config]=$(submit array-config array.sbatch MGI_CONFIG="$IN/campaign.yaml" \
  -- --array=0-2 --output="$WORK/logs/array-config-%A_%a.out")
for k in "${!JOB[@]}"; do [[ ${JOB[$k]} =~ ^[0-9]+$ ]] || die "no job id for $k"; done
say "submitted: $(for k in "${!JOB[@]}"; do printf '%s=%s ' "$k" "${JOB[$k]}"; done)"

# ------------------------------------------------------------------- wait
TERMINAL="COMPLETED FAILED CANCELLED TIMEOUT NODE_FAIL OUT_OF_MEMORY BOOT_FAIL DEADLINE PREEMPTED"
states() {  # states JOBID: "JobState ExitCode Restarts" per job record (one per array task)
  scontrol show job -o "$1" 2>/dev/null |
    sed -nE 's/.*JobState=([A-Z_]+).* Restarts=([0-9]+).* ExitCode=([0-9:]+).*/\1 \3 \2/p'
}
done_all() {
  local id s
  for id in "${JOB[@]}"; do
    while read -r s _; do [[ " $TERMINAL " == *" $s "* ]] || return 1; done < <(states "$id")
    [[ -n $(states "$id") ]] || return 1
  done
}
declare -A SIGNALLED
while ! done_all; do
  (($(date +%s) < DEADLINE)) || die "jobs not finished by the deadline: $(squeue -h -o '%i %T %r' | tr '\n' ';')"
  stuck=$(squeue -h -t PENDING -o '%i %r' | grep -E ' (PartitionConfig|BadConstraints|ReqNodeNotAvail|JobHeld[A-Za-z]*)' || true)
  [[ -z $stuck ]] || die "jobs that will never start: $stuck"
  for name in requeue-srun requeue-mpirun; do
    [[ -z ${SIGNALLED[$name]:-} ]] || continue
    read -r s _ restarts < <(states "${JOB[$name]}") || true
    # Mid-run: the journal has rows in it (records are flushed one by one).
    if [[ $s == RUNNING && $restarts == 0 ]] && (($(stat -c %s "$OUT/$name.h5.journal" 2>/dev/null || echo 0) > 100000)); then
      scancel --signal=USR1 --batch "${JOB[$name]}" && SIGNALLED[$name]=$(date +%s)
      say "$name: job ${JOB[$name]} mid-run: scancel --signal=USR1 --batch (what --signal=B:USR1@120 does)"
    fi
  done
  sleep 0.2
done
say "all jobs finished"
wait "$SLOW_REF" || die "reference run kill-slow failed"

# ----------------------------------------------------------------- checks
compare() {  # compare REF OUT: bitwise equal, complete = 1, no journal or partial left
  "$PY" "$ROOT/tests/python/check_outputs.py" --bitwise-equal "$1" "$2" --expect-complete &&
    [[ ! -e $2.journal && ! -e $2.partial ]]
}
log_of() { find "$WORK/logs" -name "$1-[0-9]*.out" | head -1; }
expect_state() {  # expect_state NAME JOBID RECORDS "STATE EXIT RESTARTS": every record (array task) so
  local got want
  got=$(states "$2" | sort | uniq -c | sed -E 's/^ +//' | tr '\n' ';')
  want="$3 $4;"
  if [[ $got == "$want" ]]; then pass "$1: job $2: $3 x $4"; else fail "$1: job $2 is '$got', expected '$want'"; fi
}
has() {  # has FILE REGEX...: every regex matches a line of FILE
  local f=$1 r
  shift
  for r in "$@"; do grep -Eq -- "$r" "$f" || { echo "no line matching '$r' in $f:"; cat "$f"; return 1; }; done
}
bound() {  # bound LOG VAR: the plan's rows 0 and 1 say VAR=<local rank> and the GPUs Slurm gave
  local r
  for r in 0 1; do
    grep -Eq "^ +$r +[^ ]+ +$r .* $2=$r CUDA_VISIBLE_DEVICES=0,1\$" "$1" || { echo "no plan row $r with $2=$r in $1"; return 1; }
  done
  ! grep -q "mgi-mpi: warning: node-local rank" "$1" || { echo "binding warning in $1"; return 1; }
}

for name in one-node one-node-mpirun multi-node; do
  expect_state "$name" "${JOB[$name]}" 1 "COMPLETED 0:0 0"
  check "$name: output bitwise equal to direct mpirun, complete" compare "$REF/demo.h5" "$OUT/$name.h5"
done
check "one-node: srun ranks bound by SLURM_LOCALID, GPUs from Slurm" bound "$(log_of one-node)" SLURM_LOCALID
check "multi-node: srun ranks bound by SLURM_LOCALID (dynamic mode)" bound "$(log_of multi-node)" SLURM_LOCALID
check "one-node-mpirun: ranks bound by OMPI_COMM_WORLD_LOCAL_RANK (SLURM_LOCALID=0 is stale)" \
  bound "$(log_of one-node-mpirun)" OMPI_COMM_WORLD_LOCAL_RANK

for kind in list config; do
  expect_state "array-$kind" "${JOB[array-$kind]}" 3 "COMPLETED 0:0 0"
  for i in 0 1 2; do
    if [[ $kind == list ]]; then out="$OUT/array-list/${parts[$i]}-pred.h5"; else out="$OUT/array-config/part-$i-pred.h5"; fi
    check "array-$kind task $i (${parts[$i]}.h5): output bitwise equal to direct mpirun" compare "$REF/${parts[$i]}.h5" "$out"
  done
done

for name in requeue-srun requeue-mpirun; do
  log=$(log_of "$name")
  expect_state "$name" "${JOB[$name]}" 1 "COMPLETED 0:0 1"
  sed -n '/ attempt 1 (SLURM_RESTART_COUNT=0)/,/ attempt 2 /p' "$log" >"$log.1"
  sed -n '/ attempt 2 (SLURM_RESTART_COUNT=1)/,$p' "$log" >"$log.2"
  check "$name: attempt 1 got USR1, mgi-mpi exit 75, requeued" has "$log.1" "mgi-slurm: USR1 at" \
    "mgi-mpi: interrupted( by SIGUSR1)?: stopped taking work; the journal .* is consistent" \
    "mgi-slurm: mgi-mpi exit 75" "mgi-slurm: requeueing job ${JOB[$name]}"
  check "$name: attempt 2 saw SLURM_RESTART_COUNT=1, resumed mid-run, completed" has "$log.2" \
    "journal resuming: ([1-9][0-9]{0,3}|[1-3][0-9]{4}) of 40000 rows" "mgi-slurm: mgi-mpi exit 0" "mgi-slurm: complete: "
  check "$name: output bitwise equal to an uninterrupted run" compare "$REF/kill-slow.h5" "$OUT/$name.h5"
done
check "jobcomp log: each requeue job has a requeued attempt and a completed one" bash -c "
  for id in ${JOB[requeue-srun]} ${JOB[requeue-mpirun]}; do
    grep -Eq \"^JobId=\$id .*JobState=(PENDING|REQUEUED)\" '$D/jobcomp.log' &&
      grep -q \"^JobId=\$id .*JobState=COMPLETED\" '$D/jobcomp.log' || exit 1
  done"

# The same list campaign again: every task finds its output and skips.
again=$(submit array-list-again array.sbatch MGI_CONFIG="$IN/mlp.yaml" MGI_FILE_LIST="$IN/list.txt" \
  MGI_OUTPUT_DIR="$OUT/array-list" -- --array=0-2 --output="$WORK/logs/array-list-again-%A_%a.out")
JOB[array-list-again]=$again
while ! done_all; do
  (($(date +%s) < DEADLINE)) || die "array-list-again not finished by the deadline"
  sleep 0.2
done
expect_state array-list-again "$again" 3 "COMPLETED 0:0 0"
check "array-list-again: all 3 tasks skipped their existing outputs" \
  test "$(cat "$WORK"/logs/array-list-again-*.out | grep -c 'exists (a complete output): nothing to do')" = 3

say "jobs: $(for k in "${!JOB[@]}"; do printf '%s=%s ' "$k" "${JOB[$k]}"; done)"
say "$PASSES checks passed, $FAILS failed, $(($(date +%s) - T0)) s"
