#!/usr/bin/env bash
# Builds everything and runs the whole test suite (unit, reference, MPI; GPU
# tests report "skipped" without a device); extra arguments go to that ctest.
# Then, unless MGI_QUICK_TESTS=1, two more stages:
#   asan  the unit, reference, MPI and bad-input tests again in an ASan + UBSan build
#         (CPU only, ${MGI_BUILD_DIR:-build}-asan), plus a leak-checked MPI run of the demo;
#   fuzz  each libFuzzer target for ${MGI_FUZZ_SECONDS:-20} s from its seeds (tools/fuzz.sh).
# Exit status: ctest's with MGI_QUICK_TESTS=1, else non-zero if any stage failed.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MGI_BUILD_DIR:-$ROOT/build}
QUICK=${MGI_QUICK_TESTS:-0}
setup_flags=(--python)
[[ $QUICK == 1 ]] || setup_flags+=(--fuzz)
"$ROOT/tools/setup.sh" "${setup_flags[@]}" || exit 1
source "$ROOT/tools/mpirun-env.sh"

if [[ $QUICK == 1 ]]; then
  cd "$BUILD" && exec ctest --output-on-failure --timeout 600 -j"${MGI_TEST_JOBS:-2}" "$@"
fi

names=() results=()
stage_start=$SECONDS
record() {  # record NAME RC DETAIL: prints the stage's one-line summary
  names+=("$1")
  results+=("$([[ $2 == 0 ]] && echo passed || echo FAILED)")
  echo "== stage $1: ${results[-1]} in $((SECONDS - stage_start)) s${3:+ ($3)}"
  stage_start=$SECONDS
}
ctest_counts() {  # "N tests, N failed" from a ctest log
  sed -nE 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\2 tests, \1 failed/p' "$1" | tail -1
}

echo "=== stage 1/3: main suite ($BUILD)"
log_main="$BUILD/test-main.log"
(cd "$BUILD" && ctest --output-on-failure --timeout 600 -j"${MGI_TEST_JOBS:-2}" "$@") 2>&1 | tee "$log_main"
record main "${PIPESTATUS[0]}" "$(ctest_counts "$log_main")"

echo "=== stage 2/3: ASan + UBSan build, unit/reference/mpi/errors tests (${BUILD}-asan)"
ASAN_BUILD="${BUILD}-asan"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS="suppressions=$ROOT/tests/sanitizers/lsan.supp:print_suppressions=0"
asan_rc=0 detail=""
if ! cmake -S "$ROOT" -B "$ASAN_BUILD" -DMGI_ENABLE_CUDA=OFF -DMGI_SANITIZE=address,undefined \
       -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" \
       "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1" -DMGI_PYTHON="$ROOT/.venv/bin/python" \
       >"$ASAN_BUILD.configure.log" 2>&1 ||
   ! cmake --build "$ASAN_BUILD" -j"$(nproc)" >"$ASAN_BUILD.build.log" 2>&1; then
  tail -40 "$ASAN_BUILD.build.log" "$ASAN_BUILD.configure.log" 2>/dev/null
  asan_rc=1 detail="build failed: $ASAN_BUILD.build.log"
else
  # allocator_may_return_null=1: an absurd allocation throws std::bad_alloc as it does in
  # production (the code turns it into an error) instead of stopping in ASan's allocator.
  # Unit and reference tests with leak checking; MPI and bad-input tests without: Open MPI
  # keeps memory in plugins it unloads, which only slow unwinding can attribute (below).
  # error_offsets_absurd_length runs under `prlimit --as`, which ASan's shadow memory cannot.
  # The kill tests (label kill, about 90 s under ASan) run in the main stage only, to keep
  # the whole CI within about 15 minutes on 2 cores.
  (cd "$ASAN_BUILD" && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 ctest --output-on-failure \
     --timeout 600 -j"${MGI_TEST_JOBS:-2}" -L "unit|reference") 2>&1 | tee "$ASAN_BUILD/test-unit.log"
  rc_unit=${PIPESTATUS[0]}
  (cd "$ASAN_BUILD" && ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 ctest --output-on-failure \
     --timeout 600 -j"${MGI_TEST_JOBS:-2}" -L "mpi|errors" -LE kill -E "^error_offsets_absurd_length$") 2>&1 |
    tee "$ASAN_BUILD/test-mpi.log"
  rc_mpi=${PIPESTATUS[0]}
  # Leaks of our code on the MPI path: the demo, static and dynamic, with full stacks
  # so that tests/sanitizers/lsan.supp can set Open MPI's own allocations aside.
  rc_leak=0
  for mode in static dynamic; do
    (cd "$ROOT" && ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 OMPI_MCA_mca_base_component_disable_dlclose=1 \
       mpiexec -n 2 "$ASAN_BUILD/mgi-mpi" configs/demo.yaml --overwrite --set runtime.device=cpu \
       --set mode=$mode --set output.file="$ASAN_BUILD/leak-check-$mode.h5") >"$ASAN_BUILD/leak-check-$mode.log" 2>&1 ||
      { rc_leak=1; echo "leak check ($mode): FAILED"; tail -60 "$ASAN_BUILD/leak-check-$mode.log"; }
  done
  ((rc_unit || rc_mpi || rc_leak)) && asan_rc=1
  detail="unit/reference: $(ctest_counts "$ASAN_BUILD/test-unit.log"); mpi/errors: $(ctest_counts "$ASAN_BUILD/test-mpi.log");"
  detail+=" demo leak check: $( ((rc_leak)) && echo FAILED || echo ok)"
fi
record asan "$asan_rc" "$detail"

echo "=== stage 3/3: fuzzers, ${MGI_FUZZ_SECONDS:-20} s each (${BUILD}-fuzz)"
fuzz_log="${BUILD}-fuzz.summary"
MGI_BUILD_DIR="$BUILD" "$ROOT/tools/fuzz.sh" all "${MGI_FUZZ_SECONDS:-20}" 2>&1 | tee "$fuzz_log"
rc_fuzz=${PIPESTATUS[0]}
record fuzz "$rc_fuzz" "$(grep -c ': ok$' "$fuzz_log") of 3 fuzz runs clean, \
$(grep -c 'FAILED on regression' "$fuzz_log") regression inputs failing"

echo "=== summary"
fails=0
for i in "${!names[@]}"; do
  printf '  %-5s %s\n' "${names[$i]}" "${results[$i]}"
  [[ ${results[$i]} == passed ]] || fails=$((fails + 1))
done
echo "all stages: $(( ${#names[@]} - fails )) passed, $fails failed"
((fails == 0))
