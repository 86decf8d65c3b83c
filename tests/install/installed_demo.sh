#!/usr/bin/env bash
# Runs the installed demo as a user would: the installed binary and config, from
# a working directory that holds nothing of the source tree, MGI_MPI_SHARE unset.
# Its predictions must be bitwise those of the build tree's binary on the source
# config (1 rank), and match onnxruntime.
# usage: installed_demo.sh PREFIX BINDIR SOURCE_DIR BUILD_MGI_MPI MPIEXEC PYTHON WORK
set -euo pipefail
prefix=$1 bindir=$2 src=$3 build_tool=$4 mpiexec=$5 python=$6 work=$7
fail() { echo "installed_demo: FAIL: $*" >&2; exit 1; }
tool=$prefix/$bindir/mgi-mpi share=$prefix/share/mgi-mpi
unset MGI_MPI_SHARE
rm -rf "$work" && mkdir -p "$work/run"

"$tool" --version | tee "$work/version.txt"
grep -Eq "^mgi-mpi [0-9]+\.[0-9]+\.[0-9]+" "$work/version.txt" || fail "--version"

# The installed config, from an unrelated directory: output lands in ./out/.
(cd "$work/run" && "$mpiexec" -n 2 "$tool" "$share/configs/demo.yaml") >"$work/installed.log" 2>&1 ||
  { cat "$work/installed.log"; fail "installed demo (mpiexec -n 2) failed"; }
out=$work/run/out/digits-pred.h5
[[ -f $out ]] || fail "no $out"
grep -q "model   $share/models/digits-mlp.onnx" "$work/installed.log" || fail "the plan does not name the installed model"

# MGI_MPI_SHARE, when set, is where the shipped files are read (the module sets it).
set +e
(cd "$work/run" && MGI_MPI_SHARE=$work/nonexistent "$tool" --dry-run "$share/configs/demo.yaml") >"$work/env.log" 2>&1
rc=$?
set -e
# (exit 4 naming the model, or 3 naming the input: whichever the tool checks first)
[[ $rc -eq 3 || $rc -eq 4 ]] && grep -Eq "'$work/nonexistent/(models/digits-mlp.onnx|data/digits.h5)'" "$work/env.log" ||
  { cat "$work/env.log"; fail "MGI_MPI_SHARE=$work/nonexistent: expected exit 3 or 4 naming a file in it, got $rc"; }

# The reference: the build tree's binary on the source tree's config, 1 rank.
(cd "$src" && "$mpiexec" -n 1 "$build_tool" configs/demo.yaml --set "output.file=$work/ref.h5") >"$work/ref.log" 2>&1 ||
  { cat "$work/ref.log"; fail "in-tree demo failed"; }
"$python" "$src/tests/python/check_outputs.py" --bitwise-equal "$work/ref.h5" "$out" --datasets /probs,/logits,/status \
  --expect-complete
"$python" "$src/tests/python/check_outputs.py" --model "$share/models/digits-mlp.onnx" --input "$share/data/digits.h5:/x" \
  --output "$out" --map probs=/probs --map logits=/logits --rtol 1e-5
echo "installed_demo: PASS"
