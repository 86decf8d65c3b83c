#!/usr/bin/env bash
# Interrupting a job started by Open MPI's mpirun, exactly as the README says:
# `kill -USR1 <mpirun pid>` (or -USR2). mpirun forwards the signal to every
# rank, each rank exits 75 with the journal consistent, and mpirun's own exit
# status is then 75 (requeue me). The same command then resumes and completes.
# (`kill -TERM <mpirun pid>` instead makes mpirun exit 1 whatever the ranks
# return; this script shows that status too, without failing on it.)
set -u
mpiexec=$1 tool=$2 cfg=$3 dir=$4
mkdir -p "$dir" && rm -f "$dir"/sig*.h5*
in_dir=$(dirname "$cfg")
fail() { echo "FAIL: $*"; exit 1; }
# start_and_signal SIGNAL OUTPUT: prints mpirun's exit status.
start_and_signal() {
  local journal="$2.journal"
  "$mpiexec" -n 2 "$tool" "$cfg" --set input.file="$in_dir/kill.h5" --set output.file="$2" \
    --set runtime.batch_size=1 --set runtime.gather_window_bytes=4KiB >"$2.log" 2>&1 &
  local pid=$!
  size() { stat -c %s "$journal" 2>/dev/null || echo 0; }
  for _ in $(seq 2000); do [[ -s "$journal" ]] && break; sleep 0.005; done
  local header=$(size)
  for _ in $(seq 2000); do (( $(size) > header )) && break; sleep 0.002; done
  kill -"$1" "$pid"  # the signal goes to mpirun itself, not to the ranks
  wait "$pid"
  echo $?
}
for sig in USR1 USR2; do
  out="$dir/sig$sig.h5"
  rc=$(start_and_signal "$sig" "$out")
  [[ $rc -eq 75 ]] || fail "kill -$sig <mpirun> gave exit $rc, expected 75: $(tail -5 "$out.log")"
  [[ -s "$out.journal" && ! -e "$out" ]] || fail "$sig: expected a journal and no output"
  grep -q "mgi-mpi: interrupted" "$out.log" || fail "$sig: the ranks did not say they were interrupted"
  res=$("$mpiexec" -n 2 "$tool" "$cfg" --set input.file="$in_dir/kill.h5" --set output.file="$out" 2>&1); rc=$?
  [[ $rc -eq 0 ]] || fail "$sig: resume gave exit $rc: $res"
  grep -q "journal resuming: [1-9][0-9]* of 40000 rows" <<<"$res" || fail "$sig: the plan does not say it resumed: $res"
  [[ -e "$out" && ! -e "$out.journal" ]] || fail "$sig: the resumed run left no output"
done
rc=$(start_and_signal TERM "$dir/sigTERM.h5")
echo "mpirun signals: kill -USR1 and -USR2 <mpirun> gave exit 75 and a resumable journal;" \
  "kill -TERM <mpirun> gave exit $rc (Open MPI's own status)"
