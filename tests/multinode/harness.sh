# shellcheck shell=bash
# Emulated Slurm nodes on one machine; sourced by run_multinode_tests.sh.
#
# The cluster (all names carry a per-run suffix $MN_SFX, so parallel runs never collide):
#
#   netns mgi-<sfx>-ctl    hostname "ctl"    bridge br0 10.213.0.1/24, munged, slurmctld,
#                                            and every client command (sbatch, squeue, ...)
#   netns mgi-<sfx>-node1  hostname "node1"  eth0 10.213.0.11/24, slurmd -N node1, gpu:2
#   netns mgi-<sfx>-node2  hostname "node2"  eth0 10.213.0.12/24, slurmd -N node2, gpu:2
#   ...                                      (veth pairs: eth0 in the node, v<i> on br0)
#
# Every namespace is a named network namespace plus a UTS namespace (its own
# hostname) held by a "holder" process (sleep); daemons and commands enter both
# with nsenter. The bridge and every link live inside the ctl namespace and the
# nodes: nothing is added to the machine's own network namespace, so no traffic
# leaves the namespaces made here and the subnet cannot clash with the host's.
# Files (config, spool, state, logs, pid files) stay under $MN_DIR.
#
# mn_teardown removes everything made here whatever happened: daemons by their
# pid files (TERM, then KILL), then every process left in our namespaces (ip
# netns pids), then the namespaces (which takes the links and the bridge along).
# The namespaces' names are written to $MN_DIR/../netns.list as they are made, so
# a later run cleans up after one that was killed before its teardown.
#
# Functions: mn_can_run (prints why not, returns 1), mn_setup NODES, mn_teardown,
# ctl CMD... (in the ctl namespace), on_node I CMD..., node_pids I, node_kill I,
# link_down I, link_up I, node_restart I, wait_idle NODE...

MN_SUBNET=10.213.0
MN_SFX=${MN_SFX:-$(printf '%04x%02x' $$ $((RANDOM % 256)))}
MN_NODES=0
MN_FIRST_JOB=$(( (RANDOM << 8 | RANDOM % 256) % 30000000 + 1000 ))
# Open MPI's shared-memory segments (vader) of this run's ranks: a directory of our
# own (removed by the teardown), so that segments a killed rank leaves behind never
# meet a later run's ranks (/dev/shm is one directory for all the emulated nodes).
MN_SHM=/dev/shm/mgi-multinode-$MN_SFX
declare -a MN_HOLDER  # index 0: ctl, i: node i

mn_ns() { if (($1 == 0)); then echo "mgi-$MN_SFX-ctl"; else echo "mgi-$MN_SFX-node$1"; fi; }
mn_host() { if (($1 == 0)); then echo ctl; else echo "node$1"; fi; }

mn_alive() {  # running (a zombie waiting for a late reaper is not)
  [[ -r /proc/$1/status ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# Why the harness cannot run here (one line), or nothing and status 0.
mn_can_run() {
  if [[ $(id -u) -ne 0 ]]; then echo "needs root (network namespaces, Slurm daemons)"; return 1; fi
  local c
  for c in ip nsenter unshare; do
    command -v "$c" >/dev/null || { echo "no '$c' command"; return 1; }
  done
  local probe="mgi-$MN_SFX-probe" err
  if ! err=$(ip netns add "$probe" 2>&1); then echo "cannot make a network namespace: $err"; return 1; fi
  if ! err=$(ip link add pa netns "$probe" type veth peer name pb netns "$probe" 2>&1 &&
             ip -n "$probe" link add br0 type bridge 2>&1); then
    ip netns del "$probe" 2>/dev/null
    echo "cannot make veth links or a bridge in a namespace: $err"
    return 1
  fi
  if ! err=$(nsenter --net="/run/netns/$probe" unshare --uts -- sh -c 'hostname probe && hostname' 2>&1) ||
     [[ $err != probe ]]; then
    ip netns del "$probe" 2>/dev/null
    echo "cannot make a UTS namespace (own hostname): $err"
    return 1
  fi
  ip netns del "$probe"
}

# Runs a command in namespace I (0 = ctl): its network and hostname.
mn_in() {
  local i=$1
  shift
  nsenter -t "${MN_HOLDER[$i]}" --net --uts -- "$@"
}
ctl() { mn_in 0 "$@"; }
on_node() { mn_in "$@"; }

# Every process in node I's network namespace but its holder: the node's slurmd,
# its job steps, the job's ranks, orted, the batch shell.
node_pids() {
  local p
  for p in $(ip netns pids "$(mn_ns "$1")" 2>/dev/null); do
    [[ $p == "${MN_HOLDER[$1]}" ]] || echo "$p"
  done
}
# The node dies: SIGKILL to all its processes at once (they get no chance to say
# goodbye; the kernel still closes their sockets, as it does not on a power cut:
# link_down first for that). Prints how many were killed.
node_kill() {
  local pids
  mapfile -t pids < <(node_pids "$1")
  ((${#pids[@]})) && kill -KILL "${pids[@]}" 2>/dev/null
  # Children forked while we killed (a slurmstepd starting a task): once more.
  local more
  mapfile -t more < <(node_pids "$1")
  ((${#more[@]})) && kill -KILL "${more[@]}" 2>/dev/null
  echo "${#pids[@]}"
}
link_down() { ip -n "$(mn_ns 0)" link set "v$1" down; ip -n "$(mn_ns "$1")" link set eth0 down; }
link_up() { ip -n "$(mn_ns "$1")" link set eth0 up; ip -n "$(mn_ns 0)" link set "v$1" up; }

mn_start_holder() {  # mn_start_holder I: network + UTS namespace with hostname, kept by a sleep
  local i=$1 ns host
  ns=$(mn_ns "$i") host=$(mn_host "$i")
  ip netns add "$ns" || return 1
  echo "$ns" >>"$MN_DIR/../netns.list"
  ip -n "$ns" link set lo up
  nsenter --net="/run/netns/$ns" unshare --uts -- sh -c "hostname $host && exec sleep 100000" &
  MN_HOLDER[$i]=$!
  disown "${MN_HOLDER[$i]}"  # no "Killed" notice from bash when the teardown kills it
  echo "${MN_HOLDER[$i]}" >"$MN_DIR/holder-$i.pid"
  local k
  for ((k = 0; k < 50; k++)); do
    [[ $(nsenter -t "${MN_HOLDER[$i]}" --uts hostname 2>/dev/null) == "$host" ]] && return 0
    sleep 0.1
  done
  echo "harness: namespace $ns: hostname $host not set" >&2
  return 1
}

mn_wait_pidfile() {
  local f=$1 k
  for ((k = 0; k < 100; k++)); do [[ -s $f ]] && { cat "$f"; return 0; }; sleep 0.1; done
  return 1
}

mn_start_slurmd() {  # mn_start_slurmd I
  local i=$1 host
  host=$(mn_host "$i")
  rm -f "$MN_DIR/slurmd-$host.pid"
  mkdir -p "$MN_DIR/spool/$host" "$MN_DIR/tmp/$host"
  mn_in "$i" /usr/sbin/slurmd -f "$SLURM_CONF" -N "$host" || return 1
  mn_wait_pidfile "$MN_DIR/slurmd-$host.pid" >/dev/null
}

# mn_setup NODES: the namespaces, the bridge and links, munged, slurmctld and one
# slurmd per node, each node idle with gpu:2. Returns non-zero with a message on failure.
mn_setup() {
  MN_NODES=$1
  mkdir -p "$MN_DIR/state" "$MN_DIR/spool" "$MN_DIR/gpu"
  mkdir -p "$MN_SHM" && echo "$MN_SHM" >>"$MN_DIR/../shm.list"
  local i ctlns
  for ((i = 0; i <= MN_NODES; i++)); do mn_start_holder "$i" || return 1; done
  ctlns=$(mn_ns 0)
  ip -n "$ctlns" link add br0 type bridge || return 1
  ip -n "$ctlns" addr add "$MN_SUBNET.1/24" dev br0 || return 1
  ip -n "$ctlns" link set br0 up || return 1
  for ((i = 1; i <= MN_NODES; i++)); do
    ip link add "v$i" netns "$ctlns" type veth peer name eth0 netns "$(mn_ns "$i")" || return 1
    ip -n "$ctlns" link set "v$i" master br0 up || return 1
    ip -n "$(mn_ns "$i")" addr add "$MN_SUBNET.$((10 + i))/24" dev eth0 || return 1
    ip -n "$(mn_ns "$i")" link set eth0 up || return 1
  done

  # munged on a private socket (a unix socket: every namespace reaches it through the file system).
  install -d -o munge -g munge -m 0755 "$MN_DIR/munge"
  mn_in 0 runuser -u munge -- /usr/sbin/munged --socket="$MN_DIR/munge/munge.sock" \
    --pid-file="$MN_DIR/munge/munged.pid" --log-file="$MN_DIR/munge/munged.log" \
    --seed-file="$MN_DIR/munge/munged.seed" || { echo "harness: munged did not start" >&2; return 1; }
  mn_wait_pidfile "$MN_DIR/munge/munged.pid" >/dev/null || { echo "harness: munged wrote no pid file" >&2; return 1; }

  local hw cpus sockets cores threads mem
  hw=$(/usr/sbin/slurmd -C | head -1)
  cpus=$(sed -nE 's/.* CPUs=([0-9]+).*/\1/p' <<<"$hw")
  sockets=$(sed -nE 's/.* SocketsPerBoard=([0-9]+).*/\1/p' <<<"$hw")
  cores=$(sed -nE 's/.* CoresPerSocket=([0-9]+).*/\1/p' <<<"$hw")
  threads=$(sed -nE 's/.* ThreadsPerCore=([0-9]+).*/\1/p' <<<"$hw")
  mem=$(($(sed -nE 's/.* RealMemory=([0-9]+).*/\1/p' <<<"$hw") / (MN_NODES + 1)))
  [[ -n $cpus && -n $sockets && -n $cores && -n $threads && $mem -gt 0 ]] ||
    { echo "harness: cannot read 'slurmd -C': $hw" >&2; return 1; }
  ln -sf /dev/null "$MN_DIR/gpu/gpu0"
  ln -sf /dev/null "$MN_DIR/gpu/gpu1"
  export SLURM_CONF="$MN_DIR/slurm.conf"
  {
    cat <<EOF
# Generated by tests/multinode/harness.sh: $MN_NODES emulated nodes on the bridge $MN_SUBNET.0/24.
ClusterName=mgimn
SlurmctldHost=ctl($MN_SUBNET.1)
SlurmctldPort=6817
SlurmdPort=6818
SlurmUser=root
AuthType=auth/munge
AuthInfo=cred_expire=10,socket=$MN_DIR/munge/munge.sock
StateSaveLocation=$MN_DIR/state
SlurmdSpoolDir=$MN_DIR/spool/%n
# Per node: the PMIx plugin makes its client directories there (/tmp is shared by all the nodes).
TmpFS=$MN_DIR/tmp/%n
SlurmctldPidFile=$MN_DIR/slurmctld.pid
SlurmdPidFile=$MN_DIR/slurmd-%n.pid
SlurmctldLogFile=$MN_DIR/slurmctld.log
SlurmdLogFile=$MN_DIR/slurmd-%n.log
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
JobCompLoc=$MN_DIR/jobcomp.log
MinJobAge=600
# Job ids of this run only: Open MPI names its shared-memory segments after the
# step (slurm.pmix.<job>.<step>), and ranks killed by a test leave theirs behind.
FirstJobId=$MN_FIRST_JOB
KillWait=5
# A dead node is marked DOWN (and its jobs end) this many seconds after its last answer.
SlurmdTimeout=${MN_SLURMD_TIMEOUT:-6}
MessageTimeout=5
ReturnToService=2
GresTypes=gpu
PartitionName=test Nodes=node[1-$MN_NODES] Default=YES MaxTime=INFINITE State=UP
EOF
    for ((i = 1; i <= MN_NODES; i++)); do
      echo "NodeName=node$i NodeAddr=$MN_SUBNET.$((10 + i)) CPUs=$cpus SocketsPerBoard=$sockets" \
           "CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$mem Gres=gpu:2 State=UNKNOWN"
    done
  } >"$SLURM_CONF"
  cat >"$MN_DIR/gres.conf" <<EOF
AutoDetect=off
Name=gpu File=$MN_DIR/gpu/gpu[0-1]
EOF
  mn_in 0 /usr/sbin/slurmctld -f "$SLURM_CONF" || { echo "harness: slurmctld did not start" >&2; return 1; }
  mn_wait_pidfile "$MN_DIR/slurmctld.pid" >/dev/null || { echo "harness: slurmctld wrote no pid file" >&2; return 1; }
  for ((i = 1; i <= MN_NODES; i++)); do
    mn_start_slurmd "$i" || { echo "harness: slurmd on node$i did not start" >&2; return 1; }
  done
  local nodes=()
  for ((i = 1; i <= MN_NODES; i++)); do nodes+=("node$i"); done
  wait_idle "${nodes[@]}"
}

# wait_idle NODE...: each node idle (a drain from the start is cleared), 30 s at most.
wait_idle() {
  local k n s ok
  for ((k = 0; k < 150; k++)); do
    ok=1
    for n in "$@"; do
      s=$(ctl sinfo -h -n "$n" -o %T 2>/dev/null || true)
      [[ $s == idle ]] && continue
      ok=0
      [[ $s == drain* || $s == down* ]] && ctl scontrol update NodeName="$n" State=RESUME >/dev/null 2>&1
    done
    ((ok)) && return 0
    sleep 0.2
  done
  echo "harness: nodes not idle 30 s after start: $(ctl sinfo -h -N -o '%N %T' | tr '\n' ' ')" >&2
  return 1
}

# node_restart I: a killed node comes back (new slurmd; Slurm returns it to service).
node_restart() {
  mn_start_slurmd "$1" || return 1
  wait_idle "node$1"
}

mn_stop() {  # mn_stop NAME PIDFILE: TERM, then KILL after 5 s
  local name=$1 f=$2 pid k
  [[ -s $f ]] || return 0
  pid=$(cat "$f")
  mn_alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]] || return 0
  kill -TERM "$pid" 2>/dev/null
  for ((k = 0; k < 50; k++)); do mn_alive "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
}

# Removes everything a harness run made; also the leftovers of earlier runs of
# this work directory listed in netns.list. Safe to call more than once.
mn_teardown() {
  set +e
  local f ns p left k
  if [[ -n ${MN_HOLDER[0]:-} ]] && mn_alive "${MN_HOLDER[0]}" && [[ -s $MN_DIR/slurmctld.pid ]]; then
    timeout 5 nsenter -t "${MN_HOLDER[0]}" --net --uts -- scancel --quiet --user=root 2>/dev/null
  fi
  for f in "$MN_DIR"/slurmd-*.pid; do [[ -e $f ]] && mn_stop slurmd "$f"; done
  mn_stop slurmctld "$MN_DIR/slurmctld.pid"
  mn_stop munged "$MN_DIR/munge/munged.pid"
  local list="$MN_DIR/../netns.list"
  if [[ -f $list ]]; then
    while read -r ns; do
      [[ -n $ns && -e /run/netns/$ns ]] || continue
      for ((k = 0; k < 30; k++)); do  # everything still in it: job steps, ranks, holders
        left=$(ip netns pids "$ns" 2>/dev/null)
        [[ -z $left ]] && break
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null
        sleep 0.1
      done
      [[ -z $left ]] || echo "harness: processes left in $ns: $left" >&2
      ip netns del "$ns" 2>/dev/null || echo "harness: cannot delete namespace $ns" >&2
    done <"$list"
    rm -f "$list"
  fi
  if [[ -f $MN_DIR/../shm.list ]]; then
    while read -r p; do [[ $p == /dev/shm/mgi-multinode-* ]] && rm -rf "$p"; done <"$MN_DIR/../shm.list"
    rm -f "$MN_DIR/../shm.list"
  fi
  # munged runs as user munge inside ctl: gone with the namespace's processes above.
  for p in "${MN_HOLDER[@]}"; do mn_alive "$p" && kill -KILL "$p" 2>/dev/null; done
  MN_HOLDER=()
  return 0
}
