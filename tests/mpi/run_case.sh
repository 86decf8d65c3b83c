#!/usr/bin/env bash
# Runs a command that must fail: checks its exit code, that it finished within
# a time limit (no hang), that stderr matches a pattern in one line, and that
# no complete-looking output file was left behind.
# usage: run_case.sh EXIT MAX_SECONDS REGEX OUTPUT -- command...
set -u
want_code=$1 max_s=$2 regex=$3 output=$4
shift 4
[[ "$1" == "--" ]] && shift
err=$(mktemp)
start=$(date +%s%N)
timeout $((max_s + 30)) "$@" >/dev/null 2>"$err"
code=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
elapsed=$(printf "%d.%03d" $((elapsed_ms / 1000)) $((elapsed_ms % 1000)))
status=0
if [[ $code -ne $want_code ]]; then
  echo "FAIL: exit code $code, expected $want_code"; status=1
fi
if (( elapsed_ms > max_s * 1000 )); then
  echo "FAIL: took ${elapsed}s, limit ${max_s}s"; status=1
fi
lines=$(grep -c "^mgi-mpi: " "$err")
if ! grep -Eq "$regex" "$err"; then
  echo "FAIL: stderr does not match: $regex"; status=1
elif [[ $lines -ne 1 ]]; then
  echo "FAIL: expected exactly one 'mgi-mpi:' error line, got $lines"; status=1
fi
if [[ -e "$output" ]]; then
  echo "FAIL: output '$output' exists after a failed run"; status=1
fi
echo "--- stderr (exit $code, ${elapsed}s):"; cat "$err"
rm -f "$err"
exit $status
