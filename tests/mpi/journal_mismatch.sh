#!/usr/bin/env bash
# A journal left by an interrupted run is refused (exit 3, one line naming
# what differs) when the model changed, or when the input dataset was
# rewritten in place with new values of the same shape; --fresh discards it
# and the run completes; a matching journal is resumed.
set -u
mpiexec=$1 tool=$2 cfg=$3 dir=$4 python=${5:-python3}
mkdir -p "$dir" && rm -f "$dir"/out*.h5* "$dir"/changed.h5
in_dir=$(dirname "$cfg")
fail() { echo "FAIL: $*"; exit 1; }
# interrupt INPUT OUTPUT: a slow run (batch 1, tiny windows) stopped by
# SIGTERM to the ranks once its journal holds a first record: exit 75, a
# journal and no output.
interrupt() {
  "$mpiexec" -n 2 "$tool" "$cfg" --set input.file="$1" --set output.file="$2" \
    --set runtime.batch_size=1 --set runtime.gather_window_bytes=4KiB >/dev/null 2>&1 &
  local pid=$!
  # The whole run takes well under a second here: signal as soon as the journal
  # (its header appears complete, by rename) has grown by a first record, not
  # after a fixed sleep the run may outlast or not.
  local journal="$2.journal"
  size() { stat -c %s "$journal" 2>/dev/null || echo 0; }
  for _ in $(seq 2000); do [[ -s "$journal" ]] && break; sleep 0.005; done
  local header=$(size)
  for _ in $(seq 2000); do (( $(size) > header )) && break; sleep 0.002; done
  pkill -TERM -P "$pid" mgi-mpi
  wait "$pid"; local rc=$?
  [[ $rc -eq 75 ]] || fail "SIGTERM gave exit $rc, expected 75"
  [[ -e "$2.journal" && ! -e "$2" ]] || fail "expected a journal and no output"
}
interrupt "$in_dir/kill.h5" "$dir/out.h5"
# Same output, another model: refused before any work.
err=$("$mpiexec" -n 2 "$tool" "$cfg" --set input.file="$in_dir/kill.h5" --set output.file="$dir/out.h5" \
  --set model.file="$in_dir/mlp2.onnx" 2>&1 >/dev/null); rc=$?
[[ $rc -eq 3 ]] || fail "mismatched journal gave exit $rc, expected 3: $err"
grep -q "belongs to another run (model_sha256" <<<"$err" || fail "message does not name the model: $err"
# The matching run resumes and completes.
out=$("$mpiexec" -n 3 "$tool" "$cfg" --set input.file="$in_dir/kill.h5" --set output.file="$dir/out.h5" 2>&1); rc=$?
[[ $rc -eq 0 ]] || fail "resume gave exit $rc: $out"
grep -q "journal resuming: [1-9][0-9]* of 40000 rows" <<<"$out" || fail "plan does not say it resumed: $out"
# --fresh ignores a journal (none left now; check the plan says fresh).
out=$("$mpiexec" -n 1 "$tool" "$cfg" --set input.file="$in_dir/kill.h5" --set output.file="$dir/out2.h5" --fresh 2>&1) ||
  fail "--fresh run failed: $out"
grep -q "journal fresh (--fresh" <<<"$out" || fail "plan does not say fresh: $out"
# The input rewritten in place (same shape and dtype, new values) after an
# interrupt: refused, naming the dataset and --fresh; --fresh then runs.
cp "$in_dir/kill.h5" "$dir/changed.h5"
interrupt "$dir/changed.h5" "$dir/out3.h5"
"$python" -c "
import h5py, sys
with h5py.File(sys.argv[1], 'r+') as f:
    x = f['/x']
    x[...] = x[...] * 0.5 + 1
" "$dir/changed.h5" || fail "cannot rewrite the input"
err=$("$mpiexec" -n 2 "$tool" "$cfg" --set input.file="$dir/changed.h5" --set output.file="$dir/out3.h5" 2>&1 >/dev/null)
rc=$?
[[ $rc -eq 3 ]] || fail "a changed input gave exit $rc, expected 3: $err"
[[ $(grep -c "^mgi-mpi:" <<<"$err") -eq 1 ]] || fail "expected one line from the tool: $err"
grep -q "values of input dataset '/x' changed" <<<"$err" || fail "message does not name the dataset: $err"
grep -q -- "--fresh" <<<"$err" || fail "message does not name --fresh: $err"
out=$("$mpiexec" -n 2 "$tool" "$cfg" --set input.file="$dir/changed.h5" --set output.file="$dir/out3.h5" --fresh 2>&1) ||
  fail "--fresh after a changed input failed: $out"
[[ -e "$dir/out3.h5" && ! -e "$dir/out3.h5.journal" ]] || fail "--fresh run left no output"
echo "journal checks: refused a foreign journal (exit 3), resumed a matching one, --fresh honoured," \
  "refused a changed input (exit 3), --fresh ran"
