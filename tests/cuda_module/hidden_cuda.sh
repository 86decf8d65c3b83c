#!/usr/bin/env bash
# One binary for GPU and CPU nodes: mgi-mpi on a node where the CUDA libraries
# cannot be found (a CPU partition without `module load cuda`). In a private
# mount namespace, an empty tmpfs is mounted over each folder that holds the
# CUDA libraries the module needs (libcudart, libcublas, libcublasLt), so
# nothing outside this test sees a change. Then:
#   - mgi-mpi --version starts and names the missing library
#   - the demo (runtime.device: auto) runs on the CPU, says why in the plan, and
#     its output is bitwise identical to a normal runtime.device=cpu run
#   - runtime.device: cuda fails with exit 5 and one line naming the library,
#     before any output is written
# Exit 77 (SKIPPED) where it cannot run: no module (CPU-only build), no mount
# namespaces (not root, no unshare), or the CUDA libraries share a folder with
# the system's C library (hiding it would hide everything).
#   hidden_cuda.sh MGI_MPI MODULE PYTHON MPIEXEC     (from the source root)
set -u
tool=$1 module=$2 py=$3 mpiexec=$4
skip() { echo "SKIPPED: $*"; exit 77; }
[[ -f $module ]] || skip "no CUDA module in this build ($module)"
command -v unshare >/dev/null || skip "no unshare"
unshare -m --propagation private true 2>/dev/null || skip "cannot make a mount namespace here (needs root or user namespaces)"

# The folders the module's CUDA libraries are loaded from (symlinks resolved).
dirs=()
while read -r name _ path _; do
  [[ $name =~ ^lib(cudart|cublas|cublasLt)\.so ]] || continue
  [[ $path == not ]] && continue  # already missing: nothing to hide for this one
  d=$(dirname "$(readlink -f "$path")")
  [[ -e $d/libc.so.6 || -e $d/libstdc++.so.6 ]] && skip "$name lives in a system folder ($d): cannot hide it alone"
  [[ " ${dirs[*]} " == *" $d "* ]] || dirs+=("$d")
done < <(ldd "$module")
echo "hiding: ${dirs[*]:-(the CUDA libraries are already missing)}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }

# The reference: a normal CPU run, outside the namespace.
"$mpiexec" -n 2 "$tool" configs/demo.yaml --set runtime.device=cpu --set output.file="$work/cpu.h5" \
  --overwrite >"$work/cpu.log" 2>&1 || { cat "$work/cpu.log"; fail "reference CPU run failed"; exit 1; }

# Everything else inside the namespace, with the CUDA folders empty.
cat >"$work/inner.sh" <<'EOF'
set -u
tool=$1 module=$2 mpiexec=$3 work=$4
shift 4
for d in "$@"; do mount -t tmpfs -o size=1m,mode=0755 mgi-hidden-cuda "$d" || exit 90; done
ldd "$module" >"$work/ldd.txt" 2>&1
"$tool" --version >"$work/version.txt" 2>&1
echo "version_rc=$?" >>"$work/rc.txt"
"$mpiexec" -n 2 "$tool" configs/demo.yaml --set output.file="$work/auto.h5" --overwrite >"$work/auto.log" 2>&1
echo "auto_rc=$?" >>"$work/rc.txt"
"$mpiexec" -n 2 "$tool" configs/demo.yaml --set runtime.device=cuda --set output.file="$work/cuda.h5" \
  >"$work/cuda.out" 2>"$work/cuda.err"
echo "cuda_rc=$?" >>"$work/rc.txt"
EOF
unshare -m --propagation private bash "$work/inner.sh" "$tool" "$module" "$mpiexec" "$work" "${dirs[@]}"
rc=$?
((rc == 90)) && skip "cannot mount a tmpfs in the namespace"
# shellcheck disable=SC1091
source "$work/rc.txt"

echo "--- ldd of the module in the namespace:"; grep -E "cuda|cublas" "$work/ldd.txt"
grep -qE "libcudart\.so\.[0-9]+ => not found" "$work/ldd.txt" || fail "libcudart is still found: not hidden"

echo "--- mgi-mpi --version:"; cat "$work/version.txt"
[[ ${version_rc:-1} == 0 ]] || fail "--version exit ${version_rc:-?}"
grep -qE "^backends: cpu \([a-z0-9]+\); cuda: not loaded \(libcu[a-zA-Z]*\.so\.[0-9]+: cannot open shared object file" \
  "$work/version.txt" || fail "--version does not say which CUDA library is missing"

echo "--- demo, runtime.device: auto (plan):"; sed -n '/^plan:/,/^summary:/p' "$work/auto.log" | head -20
[[ ${auto_rc:-1} == 0 ]] || { cat "$work/auto.log"; fail "demo with device auto: exit ${auto_rc:-?}"; }
[[ $(grep -cE "^  device  cuda not loaded \(libcu[a-zA-Z]*\.so\.[0-9]+: cannot open shared object file.*\) on host .*: running on the CPU$" \
  "$work/auto.log") == 1 ]] || fail "the plan does not have one line saying why the CPU is used"
grep -qE "^ +[01] .* cpu \(GEMM kernel" "$work/auto.log" || fail "the ranks do not run on the CPU backend"
"$py" tests/python/check_outputs.py --bitwise-equal "$work/cpu.h5" "$work/auto.h5" --expect-complete ||
  fail "output differs from the normal CPU run"

echo "--- demo, runtime.device: cuda (stderr):"; cat "$work/cuda.err"
[[ ${cuda_rc:-0} == 5 ]] || fail "device cuda: exit ${cuda_rc:-?}, expected 5"
lines=$(grep -c "^mgi-mpi: " "$work/cuda.err")
[[ $lines == 1 ]] || fail "device cuda: $lines 'mgi-mpi:' lines, expected 1"
grep -qE "^mgi-mpi: .*runtime.device is 'cuda' but the CUDA backend cannot be loaded on host .* \(libcu[a-zA-Z]*\.so\.[0-9]+: cannot open shared object file" \
  "$work/cuda.err" || fail "device cuda: the error does not name the missing library"
[[ -e $work/cuda.h5 ]] && fail "device cuda: an output file was written"
((status == 0)) && echo "PASS"
exit $status
