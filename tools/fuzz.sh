#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and fuzzes one or all of them.
#   tools/fuzz.sh TARGET [SECONDS] [libFuzzer options...]
#     TARGET   config | onnx | offsets | all        SECONDS  per target (default 600)
#   tools/fuzz.sh --keep-going TARGET SECONDS       fork mode: record every crash and go on
# Build folder: $MGI_FUZZ_BUILD_DIR, else ${MGI_BUILD_DIR:-build}-fuzz. New corpus entries
# go to <build>/fuzz-corpus/TARGET (kept between runs), crashes to <build>/fuzz-artifacts/TARGET,
# the log to <build>/fuzz-TARGET.log. Seeds: tests/fuzz/corpus/TARGET (+ models/*.onnx);
# tests/fuzz/regressions/TARGET holds past findings, replayed once before fuzzing.
# Prints one summary line per target; exits non-zero on any crash, leak, timeout or OOM.
# See docs/FUZZING.md.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MGI_FUZZ_BUILD_DIR:-${MGI_BUILD_DIR:-$ROOT/build}-fuzz}
KEEP_GOING=0
[[ "${1:-}" == "--keep-going" ]] && { KEEP_GOING=1; shift; }
TARGET=${1:?usage: tools/fuzz.sh [--keep-going] config|onnx|offsets|all [SECONDS] [libFuzzer options...]}
SECONDS_EACH=${2:-600}
shift $(( $# >= 2 ? 2 : 1 ))
case "$TARGET" in
  all) targets=(config onnx offsets) ;;
  config|onnx|offsets) targets=("$TARGET") ;;
  *) echo "fuzz.sh: unknown target '$TARGET' (config, onnx, offsets or all)" >&2; exit 2 ;;
esac

# Configure once (clang for everything: the sanitizer runtimes must match), then build.
if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
  CC=${MGI_FUZZ_CC:-clang} CXX=${MGI_FUZZ_CXX:-clang++} cmake -S "$ROOT" -B "$BUILD" -DMGI_ENABLE_CUDA=OFF \
    -DMGI_BUILD_TESTS=OFF -DMGI_BUILD_FUZZERS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1" \
    >"$BUILD.configure.log" 2>&1 || { cat "$BUILD.configure.log"; exit 1; }
fi
cmake --build "$BUILD" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >"$BUILD.build.log" 2>&1 ||
  { tail -50 "$BUILD.build.log"; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
common=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
((KEEP_GOING)) && common+=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)

failed=0
for t in "${targets[@]}"; do
  exe="$BUILD/tests/fuzz/fuzz_$t"
  corpus="$BUILD/fuzz-corpus/$t" artifacts="$BUILD/fuzz-artifacts/$t" log="$BUILD/fuzz-$t.log"
  mkdir -p "$corpus" "$artifacts"
  opts=("${common[@]}" -artifact_prefix="$artifacts/")
  [[ $t == config ]] && opts+=(-dict="$ROOT/tests/fuzz/config.dict")
  if [[ $t == onnx ]]; then cp "$ROOT"/models/*.onnx "$corpus/"; fi  # the shipped models as seeds
  : >"$log"
  : >"$log.regressions"

  # Past findings first: each must now run clean.
  for input in "$ROOT/tests/fuzz/regressions/$t"/*; do
    [[ -e "$input" ]] || continue
    if ! "$exe" -timeout=10 -rss_limit_mb=2048 "$input" >"$log.last" 2>&1; then
      echo "fuzz_$t: FAILED on regression input tests/fuzz/regressions/$t/${input##*/}"
      grep -aE "ERROR: |runtime error|SUMMARY: " "$log.last" | tail -2 | sed 's/^/  /'
      failed=1
    fi
    cat "$log.last" >>"$log.regressions"
  done
  rm -f "$log.last"

  start=$(date +%s)
  rc=0
  "$exe" "${opts[@]}" -max_total_time="$SECONDS_EACH" "$@" "$corpus" "$ROOT/tests/fuzz/corpus/$t" >>"$log" 2>&1 || rc=$?
  elapsed=$(( $(date +%s) - start ))
  # Executions: the last status line, "#RUNS DONE cov: ..." or, in fork mode, "#RUNS: cov: ...".
  stats=$(grep -aE "^#[0-9]+:?[[:space:]]+(DONE|cov:|NEW|REDUCE|pulse|INITED)" "$log" | tail -1 || true)
  runs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$stats")
  # Coverage of seeds + everything found, measured the same way in both modes: one pass
  # over both folders, no mutation; "corp" is libFuzzer's count of inputs that add coverage.
  cov_line=$("$exe" -runs=0 -timeout=10 -rss_limit_mb=2048 "$corpus" "$ROOT/tests/fuzz/corpus/$t" 2>&1 |
             grep -aE "INITED|DONE" | tail -1 || true)
  cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$cov_line")
  ft=$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$cov_line")
  corp=$(sed -nE 's/.*corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$cov_line")
  found=$(find "$corpus" -type f | wc -l)
  summary="fuzz_$t: ${runs:-?} runs in ${elapsed} s, cov ${cov:-?} ft ${ft:-?}, corpus ${corp:-?} ($found in fuzz-corpus)"
  # Fork mode goes on after a crash; its counts say whether there was one.
  bad=$(sed -nE 's#.*oom/timeout/crash: ([0-9]+)/([0-9]+)/([0-9]+).*#\1 \2 \3#p' <<<"$stats")
  if [[ -n "$bad" && "$bad" != "0 0 0" ]]; then
    summary+=" (oom/timeout/crash: ${bad// //})"
    ((rc)) || rc=1
  fi
  if ((rc != 0)); then
    echo "$summary: FAILED (exit $rc; artifacts in $artifacts; log $log)"
    grep -aE "ERROR: |runtime error|SUMMARY: |Test unit written" "$log" | tail -8 | sed 's/^/  /'
    failed=1
  else
    echo "$summary: ok"
  fi
done
exit $failed
