#!/usr/bin/env bash
# Runs a command that must fail: checks its exit code, that it finished within
# a time limit (no hang, and "fails fast"), that stderr has exactly one
# "mgi-mpi:" line matching a pattern, and that no output file was left behind.
# Wall time is noisy on a shared machine: the time limit is met if any of 3
# attempts meets it; every attempt must pass the other checks.
# usage: run_case.sh EXIT MAX_SECONDS REGEX OUTPUT -- command...
set -u
want_code=$1 max_s=$2 regex=$3 output=$4
shift 4
[[ "$1" == "--" ]] && shift
err=$(mktemp)
trap 'rm -f "$err"' EXIT
best_ms=
for attempt in 1 2 3; do
  rm -f "$output"  # left by an earlier run that wrongly succeeded: judge this run alone
  start=$(date +%s%N)
  timeout $((max_s + 30)) "$@" >/dev/null 2>"$err"
  code=$?
  elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [[ -z "$best_ms" || $elapsed_ms -lt $best_ms ]] && best_ms=$elapsed_ms
  status=0
  if [[ $code -ne $want_code ]]; then
    echo "FAIL: exit code $code, expected $want_code"; status=1
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
  echo "--- attempt $attempt: exit $code in $((elapsed_ms / 1000)).$(printf %03d $((elapsed_ms % 1000)))s; stderr:"
  cat "$err"
  [[ $status -ne 0 ]] && exit 1
  (( best_ms <= max_s * 1000 )) && exit 0
done
echo "FAIL: fastest of 3 attempts took ${best_ms} ms, limit ${max_s} s"
exit 1
