#!/usr/bin/env bash
# mgi-mpi on emulated Slurm nodes (harness.sh: one network + UTS namespace per
# node, joined by veth links to a bridge, one slurmd each, two fake GPUs each;
# slurmctld and munged in a namespace of their own). Cases:
#
#   runs       multi-node.sbatch unchanged at -N 2 (static) and -N 3 (dynamic), srun;
#              one-node-mpirun.sbatch at -N 3 (static) and -N 2 (dynamic), mpirun
#              starting its daemons through srun; 2 ranks per node. Every output
#              bitwise equal to a one-node run; the plan shows each node's local
#              ranks 0 and 1 bound to that node's GPUs 0,1; Open MPI's TCP BTL
#              connects ranks of different nodes (their namespace addresses) and
#              with TCP taken away the same job cannot start (shared memory does
#              not reach another node).
#   node-kill  the binary of an installed prefix (cmake --install); requeue.sbatch
#              at -N 3 (srun, static); node3 killed mid-run (every process in its
#              namespace: slurmd, slurmstepd, ranks). The job must end in bounded
#              time with no rank left; the journal claims no row twice; the template
#              submitted again at -N 2 (the surviving nodes) resumes and ends bitwise
#              equal to an uninterrupted run.
#   failures   (slower; label kill) the node of rank 0 (and of the batch shell) killed
#              mid-run, mpirun + dynamic mode; node1 killed while rank 0 assembles the
#              output from the journal (gzip output); a link cut for 3 s (rides
#              through); a partition that does not heal (node3's link stays down: the
#              job ends when Slurm declares node3 dead, and resumes on node1-2).
#
# Each case prints "RESULT case=... ended_after_s=... lost=... duplicated=..."
# lines that docs/MULTINODE.md quotes. Exit status: 0 all checks passed, 1 a
# check failed, 77 skipped (no namespaces, not root, no Slurm): the reason is
# printed. Every daemon, process, link and namespace made here is removed on exit.
#
#   partition-rank0 (slow; only with MGI_MULTINODE_ALL=1, else skipped) node1 (rank 0, the
#              batch shell) cut off for good mid-run: the job ends on node2-3, a job
#              submitted again fails with exit 3 while the cut-off rank 0 holds the
#              output's lock; the partition heals, Slurm ends the old ranks, and the
#              same submission resumes, bitwise equal.
#
#   run_multinode_tests.sh --case runs|node-kill|failures|partition-rank0 --tool MGI_MPI --python PY --work DIR
#                          [--build BUILD_DIR (node-kill: installs from it)] [--mpiexec M]
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CASE="" TOOL="" PY="" WORK="" BUILD="" MPIEXEC=mpiexec
while (($#)); do
  case $1 in
    --case) CASE=$2; shift 2 ;;
    --tool) TOOL=$2; shift 2 ;;
    --python) PY=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --mpiexec) MPIEXEC=$2; shift 2 ;;
    *) echo "run_multinode_tests: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ $CASE =~ ^(runs|node-kill|failures|partition-rank0)$ && -x $TOOL && -x $PY && -n $WORK ]] ||
  { echo "usage: $0 --case runs|node-kill|failures|partition-rank0 --tool MGI_MPI --python PY --work DIR [--build B] [--mpiexec M]" >&2; exit 2; }
TOOL=$(realpath "$TOOL")
T0=$(date +%s)
DEADLINE=$((T0 + ${MGI_MULTINODE_TEST_SECONDS:-200}))  # below ctest's TIMEOUT, so the teardown always runs

say() { printf '[multinode %3ds] %s\n' $(($(date +%s) - T0)) "$*"; }
FAILS=0 PASSES=0
pass() { PASSES=$((PASSES + 1)); say "PASS $*"; }
fail() { FAILS=$((FAILS + 1)); say "FAIL $*"; }
die() { say "FATAL $*"; exit 1; }
skip() { say "SKIPPED: $*"; exit 77; }
check() {  # check "what" command...: pass/fail on the command's status
  local what=$1; shift
  if "$@" >"$WORK/check.log" 2>&1; then pass "$what"; else fail "$what"; sed "s/^/    /" "$WORK/check.log" | tail -40; fi
}
now() { date +%s.%N; }
since() { "$PY" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

MN_DIR="$WORK/slurm"
# shellcheck source=harness.sh
source "$ROOT/tests/multinode/harness.sh"
BG_PIDS=()
finish() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  local p
  for p in "${BG_PIDS[@]}"; do mn_alive "$p" && kill -KILL "$p" 2>/dev/null; done
  if ((rc != 0 && rc != 77 || FAILS > 0)); then
    for f in "$MN_DIR/slurmctld.log" "$MN_DIR"/slurmd-node*.log; do
      [[ -f $f ]] && { echo "---- last lines of $f"; grep -v ' debug' "$f" | tail -15; }
    done
  fi
  mn_teardown
  [[ -z $(ip netns list 2>/dev/null | grep -F "mgi-$MN_SFX-") ]] || { say "ERROR: namespaces left: $(ip netns list | grep -F "mgi-$MN_SFX-")"; rc=1; }
  ((rc == 77)) || say "torn down: daemons, processes, links and namespaces of run $MN_SFX; logs in $WORK"
  ((rc == 0 && FAILS > 0)) && rc=1
  ((rc == 0)) && say "$PASSES checks passed, $(($(date +%s) - T0)) s"
  ((STARTUP_CRASHES == 0)) || say "jobs submitted again after Open MPI's start-up crash: $STARTUP_CRASHES"
  exit "$rc"
}

# What cannot be made here is a skip with the reason, never a pass.
if [[ $CASE == partition-rank0 && ${MGI_MULTINODE_ALL:-0} != 1 ]]; then
  say "SKIPPED: slow (about 2 minutes: it waits for a partition to heal); MGI_MULTINODE_ALL=1 runs it"
  exit 77
fi
why=$(mn_can_run) || skip "$why"
missing=()
for p in slurmctld slurmd slurm-client munge; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  mkdir -p "$WORK"
  say "installing ${missing[*]} (apt-get, --no-install-recommends)"
  { apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; } >"$WORK/apt.log" 2>&1 ||
    skip "Slurm cannot be installed here (apt-get install ${missing[*]} failed: $(tail -1 "$WORK/apt.log"))"
fi

# Leftovers of an earlier run of this work directory killed before its teardown.
mkdir -p "$WORK"
MN_HOLDER=()
mn_teardown
rm -rf "$WORK"
mkdir -p "$MN_DIR" "$WORK/logs" "$WORK/out" "$WORK/ref" "$WORK/in"
trap finish EXIT
trap 'die "interrupted"' INT TERM

NODES=3
mn_setup "$NODES" || die "the emulated cluster did not come up"
say "cluster up: $NODES nodes (namespaces mgi-$MN_SFX-node1..$NODES on $MN_SUBNET.0/24, hostnames node1..node$NODES)," \
    "slurmctld in mgi-$MN_SFX-ctl, Slurm $(ctl sinfo -V | cut -d' ' -f2)"

# ----------------------------------------------------------- environment of the jobs
# sbatch hands the submitter's environment to the job. Between nodes Open MPI needs
# the TCP BTL (the suite's own environment allows only self,vader: one machine).
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
# Ranks that srun starts do not know that the machine is shared: no busy waiting.
export OMPI_MCA_mpi_yield_when_idle=1
export OMPI_MCA_btl_vader_backing_directory=$MN_SHM
IN="$WORK/in" OUT="$WORK/out" REF="$WORK/ref"

TERMINAL="COMPLETED FAILED CANCELLED TIMEOUT NODE_FAIL OUT_OF_MEMORY BOOT_FAIL DEADLINE PREEMPTED"
jstate() { ctl scontrol show job -o "$1" 2>/dev/null | sed -nE 's/.*JobState=([A-Z_]+).* Restarts=([0-9]+).* ExitCode=([0-9:]+).*/\1 \3 \2/p'; }
submit() {  # submit NAME TEMPLATE [VAR=value ...] -- [sbatch options]: prints the job id
  local name=$1 template=$2 vars=()
  shift 2
  while (($#)) && [[ $1 != -- ]]; do vars+=("$1"); shift; done
  [[ ${1:-} == -- ]] && shift
  (cd "$ROOT" && ctl env MGI_BIN="${MGI_BIN_FOR_JOBS:-$TOOL}" "${vars[@]}" sbatch --parsable --job-name="$name" \
     --ntasks-per-node=2 --gpus-per-node=2 --cpus-per-task=1 --time=5 --output="$WORK/logs/$name.out" "$@" \
     "${TEMPLATES:-$ROOT/slurm}/$template") || die "sbatch $template failed"
}
jobid() {  # jobid ID: the id sbatch printed, or the test stops (submit's die ends only its subshell)
  [[ $1 =~ ^[0-9]+$ ]] || die "no job id from sbatch: '$1'"
}
wait_job() {  # wait_job ID [SECONDS]: until the job is in a terminal state
  local id=$1 limit=$(($(date +%s) + ${2:-60})) s
  while :; do
    read -r s _ < <(jstate "$id") || true
    [[ " $TERMINAL " == *" ${s:-none} "* ]] && return 0
    (($(date +%s) < limit && $(date +%s) < DEADLINE)) || { say "job $id still '$s'"; return 1; }
    sleep 0.2
  done
}
declare -A JOBOF ARGSOF RETRIED
STARTUP_CRASHES=0
start() {  # start NAME TEMPLATE [VAR=value ...] -- [sbatch options]: submit; JOBOF[NAME] = its id
  local name=$1
  ARGSOF[$name]=$(printf '%q ' "$@")
  JOBOF[$name]=$(submit "$@")
  jobid "${JOBOF[$name]}"
}
# Open MPI 4.1.4's start-up crash (docs/MULTINODE.md): now and then a rank dies by
# SIGSEGV at address 0 inside MPI_Init (a NULL callback called from the TCP BTL), the
# job fails or hangs before it computes or writes anything (about one job in 10-20
# here). Such a job is cancelled, its log kept, and submitted again, up to
# MGI_MULTINODE_CRASH_RETRIES (3) times (counted, printed); one more crash fails.
crash_retry() {  # crash_retry NAME: 0 if the job was submitted again
  local name=$1 log="$WORK/logs/$1.out"
  grep -q "Failing at address: (nil)" "$log" 2>/dev/null || return 1
  local n=${RETRIED[$name]:-0}
  ((n < ${MGI_MULTINODE_CRASH_RETRIES:-3})) || { say "$name: Open MPI's start-up crash $((n + 1)) times in a row: giving up"; return 1; }
  RETRIED[$name]=$((n + 1))
  STARTUP_CRASHES=$((STARTUP_CRASHES + 1))
  say "WARNING $name: job ${JOBOF[$name]}: a rank died by SIGSEGV at address 0 inside MPI_Init" \
      "(Open MPI's start-up crash, docs/MULTINODE.md): cancelled, submitted again ($((n + 1)) of at most ${MGI_MULTINODE_CRASH_RETRIES:-3})"
  ctl scancel "${JOBOF[$name]}" 2>/dev/null
  wait_job "${JOBOF[$name]}" 30 || true
  mv "$log" "$WORK/logs/$name.startup-crash-${JOBOF[$name]}.out"
  eval "start ${ARGSOF[$name]}"
}
wait_named() {  # wait_named NAME [SECONDS]: until the job JOBOF[NAME] ends (crashed starts submitted again)
  local name=$1 limit=$(($(date +%s) + ${2:-60})) s
  while :; do
    if crash_retry "$name"; then limit=$(($(date +%s) + ${2:-60})); continue; fi
    read -r s _ < <(jstate "${JOBOF[$name]}") || true
    [[ " $TERMINAL " == *" ${s:-none} "* ]] && { crash_retry "$name" && continue; return 0; }
    (($(date +%s) < limit && $(date +%s) < DEADLINE)) || { say "job ${JOBOF[$name]} ($name) still '$s'"; return 1; }
    sleep 0.2
  done
}
compare() {  # compare REF OUT: bitwise equal datasets, complete = 1, no journal or partial left
  "$PY" "$ROOT/tests/python/check_outputs.py" --bitwise-equal "$1" "$2" --expect-complete &&
    [[ ! -e $2.journal && ! -e $2.partial ]]
}
expect_state() {  # expect_state NAME ID "STATE EXIT RESTARTS"
  local got
  got=$(jstate "$2")
  if [[ $got == "$3" ]]; then pass "$1: job $2 $3"; else fail "$1: job $2 is '$got', expected '$3'"; sed 's/^/    /' "$WORK/logs/$1.out" | tail -30; fi
}
# bound LOG NODES VAR: for each node, a plan row of local rank 0 and one of local
# rank 1 on that host, bound by VAR=<local rank> to the fake GPUs 0,1 Slurm gave.
bound() {
  local log=$1 n=$2 var=$3 i l
  for ((i = 1; i <= n; i++)); do
    for l in 0 1; do
      grep -Eq "^ +[0-9]+ +node$i +$l .* $var=$l CUDA_VISIBLE_DEVICES=0,1\$" "$log" ||
        { echo "no plan row of node$i with local rank $l, $var=$l, CUDA_VISIBLE_DEVICES=0,1 in $log:"; grep -E '^ +[0-9]+ +node' "$log"; return 1; }
    done
  done
  [[ $(grep -Ec '^ +[0-9]+ +node[0-9]+ +[01] ' "$log") -ge $((2 * 2 * n)) ]] || { echo "plan rows missing in $log"; return 1; }
  ! grep -q "mgi-mpi: warning: node-local rank" "$log" || { echo "binding warning in $log"; return 1; }
}
# over_tcp LOG NODES: Open MPI's TCP BTL (btl_base_verbose) connected ranks of
# different nodes, by their namespace addresses, every node taking part; and
# never two ranks of one node (those use shared memory, vader).
over_tcp() {
  local log=$1 n=$2 i pairs bad=0
  pairs=$(sed -nE 's/^\[(node[0-9]+):[0-9]+\] btl:tcp: now connected to ([0-9.]+), process.*/\1 \2/p' "$log" | sort -u)
  echo "TCP BTL connections (node -> peer address): $(tr '\n' ';' <<<"$pairs")"
  [[ -n $pairs ]] || { echo "no TCP BTL connection in $log"; return 1; }
  while read -r node addr; do
    [[ $addr == "$MN_SUBNET.$((10 + ${node#node}))" ]] && { echo "TCP between two ranks of $node"; bad=1; }
  done <<<"$pairs"
  for ((i = 1; i <= n; i++)); do
    grep -Eq "^node$i |$MN_SUBNET.$((10 + i))\$" <<<"$pairs" || { echo "node$i in no TCP connection"; bad=1; }
  done
  return "$bad"
}
rank_pids() {  # the mgi-mpi processes left on the nodes
  local i p
  for ((i = 1; i <= NODES; i++)); do
    for p in $(ip netns pids "$(mn_ns "$i")" 2>/dev/null); do
      [[ $(cat "/proc/$p/comm" 2>/dev/null) == mgi-mpi ]] && mn_alive "$p" && echo "node$i:$p"
    done
  done
}

"$PY" "$ROOT/tests/mpi/make_inputs.py" --out "$IN" | sed 's/^/    /'
ref() {  # ref NAME CONFIG ARGS...: the one-node reference, direct mpirun -n 2 outside Slurm
  local name=$1 cfg=$2; shift 2
  (cd "$ROOT" && OMPI_MCA_btl=self,vader "$MPIEXEC" -n 2 "$TOOL" "$cfg" --set "output.file=$REF/$name.h5" "$@") \
    >"$REF/$name.log" 2>&1 || { tail -20 "$REF/$name.log"; die "reference run $name failed"; }
}

# ======================================================================= runs
case_runs() {
  ref demo configs/demo.yaml
  say "reference: demo on one node (mpirun -n 2)"
  local verbose=(OMPI_MCA_btl_base_verbose=100)
  start srun-N2-static multi-node.sbatch MGI_CONFIG=configs/demo.yaml \
    MGI_OUTPUT="$OUT/srun-N2-static.h5" "${verbose[@]}" -- --nodes=2
  start srun-N3-dynamic multi-node.sbatch MGI_CONFIG=configs/demo.yaml \
    MGI_OUTPUT="$OUT/srun-N3-dynamic.h5" MGI_EXTRA_ARGS="--set mode=dynamic --set dynamic.chunk_rows=64" -- --nodes=3
  start mpirun-N3-static one-node-mpirun.sbatch MGI_CONFIG=configs/demo.yaml \
    MGI_OUTPUT="$OUT/mpirun-N3-static.h5" "${verbose[@]}" -- --nodes=3
  start mpirun-N2-dynamic one-node-mpirun.sbatch MGI_CONFIG=configs/demo.yaml \
    MGI_OUTPUT="$OUT/mpirun-N2-dynamic.h5" MGI_EXTRA_ARGS="--set mode=dynamic --set dynamic.chunk_rows=64" -- --nodes=2
  # Without TCP, ranks of different nodes have no way to each other: shared memory is per node.
  start no-tcp multi-node.sbatch MGI_CONFIG=configs/demo.yaml MGI_OUTPUT="$OUT/no-tcp.h5" \
    OMPI_MCA_btl=self,vader -- --nodes=2
  local k
  for k in srun-N2-static srun-N3-dynamic mpirun-N3-static mpirun-N2-dynamic no-tcp; do
    wait_named "$k" 90 || die "$k: job ${JOBOF[$k]} did not end"
  done
  say "all jobs ended"
  for k in srun-N2-static srun-N3-dynamic mpirun-N3-static mpirun-N2-dynamic; do
    expect_state "$k" "${JOBOF[$k]}" "COMPLETED 0:0 0"
    check "$k: output bitwise equal to the one-node run, complete" compare "$REF/demo.h5" "$OUT/$k.h5"
  done
  check "srun -N 2: each node's local ranks 0,1 bound to its GPUs 0,1 (SLURM_LOCALID)" bound "$WORK/logs/srun-N2-static.out" 2 SLURM_LOCALID
  check "srun -N 3 dynamic: each node's local ranks 0,1 bound to its GPUs 0,1" bound "$WORK/logs/srun-N3-dynamic.out" 3 SLURM_LOCALID
  check "mpirun -N 3: each node's local ranks 0,1 bound (OMPI_COMM_WORLD_LOCAL_RANK)" bound "$WORK/logs/mpirun-N3-static.out" 3 OMPI_COMM_WORLD_LOCAL_RANK
  check "mpirun -N 2 dynamic: each node's local ranks 0,1 bound" bound "$WORK/logs/mpirun-N2-dynamic.out" 2 OMPI_COMM_WORLD_LOCAL_RANK
  check "srun -N 2: MPI between the nodes over Open MPI's TCP BTL (namespace addresses)" over_tcp "$WORK/logs/srun-N2-static.out" 2
  check "mpirun -N 3: MPI between the nodes over Open MPI's TCP BTL" over_tcp "$WORK/logs/mpirun-N3-static.out" 3
  expect_state no-tcp "${JOBOF[no-tcp]}" "FAILED 5:0 0"
  check "btl=self,vader across nodes: Open MPI finds no path between the nodes (shared memory is per node)" \
    grep -Eq "unable to reach each other|not able to reach|No BTL available" "$WORK/logs/no-tcp.out"
  for k in srun-N2-static mpirun-N3-static; do
    echo "RESULT case=$k $(over_tcp "$WORK/logs/$k.out" 0 | head -1)"
  done
}

# ================================================================ kill helpers
# The slow model: the test MLP behind mgi.test.Work (an identity that sleeps
# NS ns per unit of x[:, 0] > 0), so that a run lasts seconds whatever the CPU.
slow_model() {
  "$PY" - "$IN/mlp.onnx" "$IN/mlp-slow.onnx" 1500000 <<'PYEOF'
import sys
import onnx
from onnx import helper
m = onnx.load(sys.argv[1])
for node in m.graph.node:
    node.input[:] = ["x_slow" if i == "x" else i for i in node.input]
m.graph.node.insert(0, helper.make_node("Work", ["x"], ["x_slow"], name="sleep", domain="mgi.test", ns_per_unit=int(sys.argv[3])))
m.opset_import.append(helper.make_opsetid("mgi.test", 1))
onnx.save(m, sys.argv[2])
PYEOF
}
SLOW_ARGS="--set input.file=$IN/kill.h5 --set model.file=$IN/mlp-slow.onnx --set runtime.batch_size=64"
SLOW_ARGS+=" --set runtime.gather_window_bytes=256KiB --set dynamic.chunk_rows=400"
ROWS=40000

# journal_rows OUT: "claimed distinct twice" of OUT's journal
journal_rows() {
  "$PY" "$ROOT/tests/multinode/journal_rows.py" "$1.journal" --rows "$ROWS" 2>/dev/null |
    sed -nE 's/.*rows claimed ([0-9]+), distinct rows ([0-9]+), rows claimed twice ([0-9]+).*/\1 \2 \3/p'
}
# mid_run OUT ID: the job runs and its journal holds between 10% and 60% of the rows
mid_run() {
  local s d
  read -r s _ < <(jstate "$2") || true
  [[ $s == RUNNING ]] || return 1
  read -r _ d _ < <(journal_rows "$1") || return 1
  ((d >= ROWS / 10 && d <= ROWS * 6 / 10))
}
finished() {  # finished ID: the job is in a terminal state
  local s
  read -r s _ < <(jstate "$1") || true
  [[ " $TERMINAL " == *" ${s:-none} "* ]]
}
# ended ID: the job left RUNNING (a terminal state, or PENDING again after a requeue)
ended() {
  local s
  read -r s _ < <(jstate "$1") || true
  [[ -n $s && $s != RUNNING && $s != CONFIGURING && $s != COMPLETING ]]
}

# kill_and_resume NAME NODE-OF-FAULT FAULT LAUNCHER MODE RESUME_NODES [EXTRA_ARGS] [REF]:
#   FAULT kill     every process of the node, mid-run
#         assembly every process of the node, once rank 0 builds the output from the journal
#         cut      the node's link down for 3 s mid-run, then up (expected: rides through)
#         partition the node's link down for good mid-run
# then (unless the job completed) the template again on RESUME_NODES nodes, the
# outputs bitwise against REF (default: the one-node reference of the slow input).
kill_and_resume() {
  local name=$1 node=$2 fault=$3 launcher=$4 mode=$5 resume_nodes=$6 extra=${7:-} refh5=${8:-$REF/kill.h5}
  local out="$OUT/$name.h5" id t_fault ended_after="" ranks_gone_after="" n distinct=0 twice=0
  start "$name" requeue.sbatch MGI_CONFIG="$IN/mlp.yaml" MGI_OUTPUT="$out" MGI_LAUNCHER="$launcher" \
    MGI_EXTRA_ARGS="$SLOW_ARGS --set mode=$mode $extra" -- --nodes=3
  id=${JOBOF[$name]}
  local limit=$(($(date +%s) + 60))
  if [[ $fault == assembly ]]; then  # the gzip output is built from the journal after the last row
    until [[ -e $out.partial ]]; do
      if crash_retry "$name"; then id=${JOBOF[$name]}; limit=$(($(date +%s) + 60)); continue; fi
      finished "$id" && limit=0  # it ended before the fault could land
      (($(date +%s) < limit)) || die "$name: job $id never reached the final assembly ($(jstate "$id"))"
      sleep 0.05
    done
  else
    until mid_run "$out" "$id"; do
      if crash_retry "$name"; then id=${JOBOF[$name]}; limit=$(($(date +%s) + 60)); continue; fi
      finished "$id" && limit=0  # it ended before the fault could land
      (($(date +%s) < limit)) || die "$name: job $id never got mid-run ($(jstate "$id"); $(journal_rows "$out"))"
      sleep 0.2
    done
  fi
  read -r _ distinct twice < <(journal_rows "$out") || true
  t_fault=$(now)
  case $fault in
    kill | assembly) n=$(node_kill "$node"); say "$name: killed node$node ($n processes: slurmd, steps, ranks) with $distinct of $ROWS rows journaled" ;;
    cut) link_down "$node"; say "$name: node$node's link down with $distinct rows journaled"; sleep 3; link_up "$node"; say "$name: node$node's link up again after 3 s" ;;
    partition) link_down "$node"; say "$name: node$node's link down for good, $distinct rows journaled" ;;
  esac
  limit=$(($(date +%s) + 90))
  while ! ended "$id"; do
    (($(date +%s) < limit)) || { fail "$name: job $id still $(jstate "$id") 90 s after the fault"; break; }
    sleep 0.2
  done
  ended_after=$(since "$t_fault")
  # No rank may hang: every mgi-mpi process on a reachable node gone (a partitioned
  # node's ranks are not reachable by Slurm: listed, and killed by the teardown).
  local left
  limit=$(($(date +%s) + 60))
  while :; do
    left=$(rank_pids | grep -v "^node$node:" | tr '\n' ' ')
    [[ -z $left ]] && break
    (($(date +%s) < limit)) || break
    sleep 0.2
  done
  ranks_gone_after=$(since "$t_fault")
  local st
  st=$(jstate "$id")
  say "$name: job $id '$st' ${ended_after} s after the fault; no rank on the other nodes ${ranks_gone_after} s after it"
  if [[ -z $left ]]; then pass "$name: no rank left on the other nodes"; else fail "$name: ranks still running: $left"; fi
  [[ $fault == partition ]] && say "$name: ranks on the cut-off node$node: $(rank_pids | grep "^node$node:" | tr '\n' ' ')"
  if [[ $fault == cut ]]; then
    expect_state "$name" "$id" "COMPLETED 0:0 0"
    check "$name: rode through the cut: output bitwise equal to the one-node run" compare "$refh5" "$out"
    echo "RESULT case=$name fault=$fault node=node$node job_state=\"$st\" ended_after_s=$ended_after resumed=no lost=0 duplicated=0"
    return
  fi
  # The journal the kill left: readable, no row claimed twice.
  local jr
  jr=$("$PY" "$ROOT/tests/multinode/journal_rows.py" "$out.journal" --rows "$ROWS")
  check "$name: journal after the fault: readable, no row claimed twice ($jr)" test $? -eq 0
  read -r _ distinct twice < <(journal_rows "$out") || true
  # A requeued job (Slurm requeues --requeue jobs after NODE_FAIL) waits for 3 nodes: cancel it.
  read -r st _ < <(jstate "$id")
  [[ $st == PENDING ]] && { ctl scancel "$id"; say "$name: job $id requeued by Slurm (waits for 3 nodes): cancelled"; }
  wait_job "$id" 30 || true
  # Slurm must have marked the node down; the same template again on the others.
  check "$name: Slurm marked node$node down" bash -c "[[ \$(nsenter -t ${MN_HOLDER[0]} --net --uts sinfo -h -n node$node -o %T) == down* ]]"
  local id2
  start "$name-resume" requeue.sbatch MGI_CONFIG="$IN/mlp.yaml" MGI_OUTPUT="$out" MGI_LAUNCHER="$launcher" \
    MGI_EXTRA_ARGS="$SLOW_ARGS --set mode=$mode $extra" -- --nodes="$resume_nodes"
  wait_named "$name-resume" 90 || die "$name-resume: job ${JOBOF[$name-resume]} did not end"
  id2=${JOBOF[$name-resume]}
  expect_state "$name-resume" "$id2" "COMPLETED 0:0 0"
  local resumed
  resumed=$(sed -nE 's/.*journal resuming: ([0-9]+) of ([0-9]+) rows.*/\1/p' "$WORK/logs/$name-resume.out" | head -1)
  say "$name: resumed on $resume_nodes node(s) ($(sed -nE 's/.* on (node[^ ]*) at .*/\1/p' "$WORK/logs/$name-resume.out" | head -1)): ${resumed:-no} rows from the journal"
  if [[ $fault == assembly ]]; then
    check "$name-resume: resumed with every row journaled ($resumed of $ROWS)" test "${resumed:-0}" = "$ROWS"
  else
    check "$name-resume: resumed from the journal: $resumed = the $distinct distinct rows it claims" test "${resumed:--1}" = "$distinct"
  fi
  check "$name-resume: output bitwise equal to the one-node uninterrupted run, complete" compare "$refh5" "$out"
  # Lost: rows of the output that differ from the uninterrupted run (0 when bitwise equal);
  # duplicated: rows the journal claimed twice before the resume.
  local lost=0
  compare "$refh5" "$out" >/dev/null 2>&1 || lost=unknown
  echo "RESULT case=$name fault=$fault node=node$node launcher=\"$launcher\" mode=$mode job_state=\"$(jstate "$id")\"" \
       "ended_after_s=$ended_after ranks_gone_after_s=$ranks_gone_after journaled=$distinct resumed_rows=${resumed:-none}" \
       "resumed_on=$resume_nodes lost=$lost duplicated=$twice"
}

# ================================================================== node-kill
case_node_kill() {
  [[ -n $BUILD && -d $BUILD ]] || die "--build BUILD_DIR is needed (the test installs from it)"
  local prefix="$WORK/prefix"
  cmake --install "$BUILD" --prefix "$prefix" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; die "cmake --install failed"; }
  [[ -x $prefix/bin/mgi-mpi ]] || die "no bin/mgi-mpi in the installed prefix $prefix"
  MGI_BIN_FOR_JOBS=$prefix/bin/mgi-mpi
  # The templates installed with the tool when there are (share/mgi-mpi/slurm), else the source tree's.
  [[ -f $prefix/share/mgi-mpi/slurm/requeue.sbatch ]] && TEMPLATES=$prefix/share/mgi-mpi/slurm
  say "installed prefix $prefix: bin/mgi-mpi$( [[ -n ${TEMPLATES:-} ]] && echo ", templates $TEMPLATES" || echo "; templates from the source tree")"
  slow_model
  ref kill "$IN/mlp.yaml" --set "input.file=$IN/kill.h5" --set runtime.batch_size=16
  say "reference: the slow input on one node (mpirun -n 2, the model without the sleep)"
  kill_and_resume kill-node3 3 kill "srun --mpi=pmix" static 2
}

# =================================================================== failures
case_failures() {
  slow_model
  ref kill "$IN/mlp.yaml" --set "input.file=$IN/kill.h5" --set runtime.batch_size=16
  ref kill-gz "$IN/mlp.yaml" --set "input.file=$IN/kill.h5" --set runtime.batch_size=16 --set output.compression=gzip
  say "references: the slow input on one node (mpirun -n 2), plain and gzip output"
  kill_and_resume kill-node1-rank0 1 kill mpirun dynamic 2
  node_restart 1 || die "node1 did not come back"
  # The plain model (no sleep): the run is short, the assembly of the gzip output is what is hit.
  kill_and_resume kill-node1-assembly 1 assembly "srun --mpi=pmix" static 2 \
    "--set output.compression=gzip --set model.file=$IN/mlp.onnx" "$REF/kill-gz.h5"
  node_restart 1 || die "node1 did not come back"
  kill_and_resume cut-node2-3s 2 cut "srun --mpi=pmix" static 3
  kill_and_resume partition-node3 3 partition "srun --mpi=pmix" static 2
  # The partition heals: node3's slurmd registers again and Slurm ends what is left of
  # the old job there (measured with MGI_MULTINODE_HEAL=1: up to a minute more).
  link_up 3
  say "partition-node3: link up again; node3 $(ctl sinfo -h -n node3 -o %T)"
  [[ ${MGI_MULTINODE_HEAL:-0} == 1 ]] || return 0
  local t_heal left limit=$(($(date +%s) + 90))
  t_heal=$(now)
  while left=$(rank_pids | grep '^node3:'); [[ -n $left ]] && (($(date +%s) < limit)); do sleep 0.5; done
  if [[ -z $left ]]; then
    say "partition-node3: the cut-off ranks on node3 ended $(since "$t_heal") s after the link came back"
    echo "RESULT case=partition-node3-heal cutoff_ranks_gone_after_heal_s=$(since "$t_heal")"
  else
    say "partition-node3: cut-off ranks still on node3 90 s after the link came back: $(echo "$left" | tr '\n' ' ') (the teardown kills them)"
    echo "RESULT case=partition-node3-heal cutoff_ranks_gone_after_heal_s=never"
  fi
}

# ============================================================ partition-rank0
# The partition that cuts off rank 0 (and the batch shell): Slurm ends the job on
# the reachable nodes, but rank 0 stays blocked in MPI holding the output's lock,
# so the job submitted again fails cleanly (exit 3: the output is being written by
# another job) until the partition heals and Slurm ends the old job there; then
# the same submission resumes.
case_partition_rank0() {
  slow_model
  ref kill "$IN/mlp.yaml" --set "input.file=$IN/kill.h5"
  say "reference: the slow input on one node (mpirun -n 2, the model without the sleep)"
  local name=partition-node1-rank0 out="$OUT/partition-node1-rank0.h5" id id2 id3 t_fault t_heal ended_after left
  local args="$SLOW_ARGS --set mode=static"
  start "$name" requeue.sbatch MGI_CONFIG="$IN/mlp.yaml" MGI_OUTPUT="$out" MGI_EXTRA_ARGS="$args" -- --nodes=3
  id=${JOBOF[$name]}
  local limit=$(($(date +%s) + 60))
  until mid_run "$out" "$id"; do
    if crash_retry "$name"; then id=${JOBOF[$name]}; limit=$(($(date +%s) + 60)); continue; fi
    finished "$id" && limit=0  # it ended before the fault could land
    (($(date +%s) < limit)) || die "$name: job $id never got mid-run ($(jstate "$id"))"
    sleep 0.2
  done
  t_fault=$(now)
  link_down 1
  say "$name: node1's link down for good (rank 0, the batch shell), $(journal_rows "$out" | cut -d' ' -f2) rows journaled"
  limit=$(($(date +%s) + 90))
  while ! ended "$id"; do
    (($(date +%s) < limit)) || { fail "$name: job $id still $(jstate "$id") 90 s after the cut"; break; }
    sleep 0.2
  done
  ended_after=$(since "$t_fault")
  limit=$(($(date +%s) + 60))
  while left=$(rank_pids | grep -v '^node1:'); [[ -n $left ]] && (($(date +%s) < limit)); do sleep 0.2; done
  say "$name: job $id '$(jstate "$id")' $ended_after s after the cut; ranks on node2-3 gone after $(since "$t_fault") s;" \
      "cut off on node1: $(rank_pids | grep '^node1:' | tr '\n' ' ')"
  if [[ -z $left ]]; then pass "$name: no rank left on node2-3"; else fail "$name: ranks still on node2-3: $left"; fi
  local st
  read -r st _ < <(jstate "$id")
  [[ $st == PENDING ]] && ctl scancel "$id"
  wait_job "$id" 30 || true
  local jr
  jr=$("$PY" "$ROOT/tests/multinode/journal_rows.py" "$out.journal" --rows "$ROWS")
  check "$name: journal: readable, no row claimed twice ($jr)" test $? -eq 0
  read -r _ distinct twice < <(journal_rows "$out") || true
  # Again on node2-3 while rank 0 lives on behind the partition: exit 3, one line.
  start "$name-locked" requeue.sbatch MGI_CONFIG="$IN/mlp.yaml" MGI_OUTPUT="$out" MGI_EXTRA_ARGS="$args" -- --nodes=2
  wait_named "$name-locked" 60 || die "$name-locked: job ${JOBOF[$name-locked]} did not end"
  id2=${JOBOF[$name-locked]}
  expect_state "$name-locked" "$id2" "FAILED 3:0 0"
  check "$name-locked: exit 3, the output is being written by another job (the cut-off rank 0 holds its lock)" \
    grep -q "is being written by another running mgi-mpi job" "$WORK/logs/$name-locked.out"
  # The partition heals: node1's slurmd registers again, Slurm ends the old job there.
  t_heal=$(now)
  link_up 1
  limit=$(($(date +%s) + 120))
  while left=$(rank_pids | grep '^node1:'); [[ -n $left ]] && (($(date +%s) < limit)); do sleep 0.5; done
  local healed_after
  healed_after=$(since "$t_heal")
  if [[ -z $left ]]; then pass "$name: the cut-off ranks on node1 ended $healed_after s after the link came back"
  else fail "$name: ranks on node1 still running 120 s after the link came back: $left"; fi
  start "$name-resume" requeue.sbatch MGI_CONFIG="$IN/mlp.yaml" MGI_OUTPUT="$out" MGI_EXTRA_ARGS="$args" -- --nodes=2
  wait_named "$name-resume" 90 || die "$name-resume: job ${JOBOF[$name-resume]} did not end"
  id3=${JOBOF[$name-resume]}
  expect_state "$name-resume" "$id3" "COMPLETED 0:0 0"
  local resumed
  resumed=$(sed -nE 's/.*journal resuming: ([0-9]+) of ([0-9]+) rows.*/\1/p' "$WORK/logs/$name-resume.out" | head -1)
  check "$name-resume: resumed from the journal: $resumed = the $distinct distinct rows it claims" test "${resumed:--1}" = "$distinct"
  check "$name-resume: output bitwise equal to the one-node uninterrupted run, complete" compare "$REF/kill.h5" "$out"
  local lost=0
  compare "$REF/kill.h5" "$out" >/dev/null 2>&1 || lost=unknown
  echo "RESULT case=$name fault=partition node=node1 launcher=\"srun --mpi=pmix\" mode=static ended_after_s=$ended_after" \
       "resubmitted_during_partition=\"$(jstate "$id2")\" cutoff_ranks_gone_after_heal_s=$healed_after journaled=$distinct" \
       "resumed_rows=${resumed:-none} lost=$lost duplicated=$twice"
}

case $CASE in
  runs) case_runs ;;
  node-kill) case_node_kill ;;
  failures) case_failures ;;
  partition-rank0) case_partition_rank0 ;;
esac
