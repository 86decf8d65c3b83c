#!/usr/bin/env bash
# The GPU run on a BARE GPU machine (no network, no apt, none of our Debian packages),
# from the prebuilt bundle that bench/device_bundle.sh made on the build machine. Copy
# the repository and .device-bundle/ there, then from the repository root:
#   bash bench/device_run.sh [OUT_DIR]
# Steps, each with its own time limit inside one overall budget (MGI_DEVICE_BUDGET_S,
# default 540 s; a part that no longer fits is skipped and says so):
#   1. environment: glibc, CUDA libraries (device toolkit / Python wheels / driver), Python
#      (python3 of the image: numpy, h5py, onnx, onnxruntime, torch), nvidia-smi, and that
#      every bundled program resolves all its libraries
#   2. MPI from the bundle: mpirun --version, mgi-mpi --version (its backends line: whether
#      the CUDA module libmgi-cuda.so loaded, else why), mpirun -np 2 mgi-mpi on
#      configs/demo.yaml with runtime.device=cpu (and the GPU dry run)
#   3. the gpu-labelled tests: ctest -L gpu on the bundle's CTest files (their fixture
#      generates the reference cases with Python), or the test executables directly
#      when ctest is missing
#   4. mgi-gemm-bench --device cuda at a few shapes (one JSON line each)
#   5. bench/throughput.py --build .device-bundle/build --skip-cpu --skip-gemm [--skip-ragged]
#      --repeat 3 (the GPU section), once per model: --models big, then --models mlp
# Everything is tee'd to OUT_DIR (default out/device-run; 7 files in all): device_run.log
# (all output), gpu-tests.xml (JUnit), gemm.jsonl, throughput.log, throughput-big.json,
# throughput-mlp.json, summary.txt.
# Environment: MGI_DEVICE_BUDGET_S, MGI_PYTHON (default: the image's python3), MGI_CTEST
# (a ctest binary, or "none" for the direct route),
# MGI_THROUGHPUT_ARGS (default "--skip-cpu --skip-gemm --repeat 3", plus --skip-ragged where
# throughput.py has it), MGI_THROUGHPUT_MODELS (default "big mlp"), MGI_SKIP (comma list of
# mpi,tests,gemm,throughput), MGI_FORCE_GEMM=1, MGI_BUNDLE (default .device-bundle).
# Exit status: 0 when every part that ran passed, else 1 (summary.txt says which).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
B=$(cd "${MGI_BUNDLE:-$ROOT/.device-bundle}" 2>/dev/null && pwd -P) ||
  { echo "device_run: no bundle at ${MGI_BUNDLE:-$ROOT/.device-bundle} (make it with bench/device_bundle.sh and copy it along)"; exit 2; }
O=${1:-$ROOT/out/device-run}
mkdir -p "$O"
exec > >(tee -a "$O/device_run.log") 2>&1
T0=$SECONDS
BUDGET=${MGI_DEVICE_BUDGET_S:-540}
SKIP=",${MGI_SKIP:-},"
declare -a SUMMARY=()
LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}
gpu_seen=unknown
status=0
say() { printf '\n=== device_run [%4ds] %s\n' "$((SECONDS - T0))" "$*"; }
note() { SUMMARY+=("$1"); printf 'device_run: %s\n' "$1"; }
left() { echo $((BUDGET - (SECONDS - T0))); }
# part NAME CAP MIN: whether part NAME runs, and its time limit in $LIMIT (at most CAP,
# what is left of the budget minus RESERVE for the later parts; skipped under MIN s).
part() {
  local name=$1 cap=$2 min=$3 reserve=${4:-0} l
  if [[ $SKIP == *",$name,"* ]]; then note "$name: skipped (MGI_SKIP)"; return 1; fi
  l=$(($(left) - reserve))
  ((l > cap)) && l=$cap
  if ((l < min)); then note "$name: skipped (budget: ${l}s left for it, needs ${min}s)"; return 1; fi
  LIMIT=$l
  say "$name (limit ${LIMIT}s)"
  return 0
}
record() {  # record NAME RC
  if (($2 == 0)); then note "$1: ok"
  elif (($2 == 124 || $2 == 137)); then note "$1: TIMED OUT after ${LIMIT}s"; status=1
  else note "$1: FAILED (exit $2)"; status=1; fi
}
finish() {
  say "summary ($((SECONDS - T0)) s of ${BUDGET} s)"
  printf '%s\n' "${SUMMARY[@]}" | tee "$O/summary.txt"
  exec >&- 2>&-
  sleep 1  # let tee write the end of device_run.log
  exit "$status"
}

# ------------------------------------------------------------------ 1. environment
say "environment"
# Unpack the files the bundle carries xz-compressed (XZ-FILES.txt), once: xz, else Python's lzma.
unxz_to() {  # unxz_to SRC.xz DEST
  local py
  if command -v xz >/dev/null && xz -dc "$1" >"$2" 2>/dev/null; then return 0; fi
  for py in ${MGI_PYTHON:-} python3 python; do
    command -v "$py" >/dev/null || continue
    "$py" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2" 2>/dev/null &&
      return 0
  done
  return 1
}
if [[ -s $B/XZ-FILES.txt ]]; then
  n=0 bad=0
  while read -r f; do
    [[ -f $B/$f.xz && ! -f $B/$f ]] || continue
    if unxz_to "$B/$f.xz" "$B/$f.tmp"; then
      chmod --reference="$B/$f.xz" "$B/$f.tmp" && mv "$B/$f.tmp" "$B/$f" && n=$((n + 1))
    else
      rm -f "$B/$f.tmp"; bad=$((bad + 1)); echo "device_run: could not unpack $f.xz (no working xz or Python lzma)"
    fi
  done <"$B/XZ-FILES.txt"
  echo "unpacked $n of $(wc -l <"$B/XZ-FILES.txt") xz-compressed bundle files"
  ((bad)) && { note "env: $bad bundle files could not be unpacked: the bundle is unusable"; status=1; }
fi
# shellcheck disable=SC1091
source "$B/bundle.env"
echo "repo $ROOT (bundle built from $BUNDLE_SRC_DIR at $BUNDLE_COMMIT); bundle $B; out $O"
echo "host $(hostname), $(nproc) cores, $(uname -r), user $(id -un)"
[[ -r /etc/os-release ]] && (. /etc/os-release; echo "os ${PRETTY_NAME:-?}")
glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
echo "glibc here ${glibc:-?}, bundle needs $BUNDLE_GLIBC_NEEDED (built on $BUNDLE_GLIBC_HERE)"
if [[ -n $glibc && $(printf '%s\n%s\n' "$BUNDLE_GLIBC_NEEDED" "$glibc" | sort -V | head -1) != "$BUNDLE_GLIBC_NEEDED" ]]; then
  export MGI_BUNDLE_LOADER=1
  note "env: glibc $glibc older than $BUNDLE_GLIBC_NEEDED: programs run with the bundle's glibc loader"
fi
timeout 30 nvidia-smi || note "env: nvidia-smi failed or missing"
timeout 10 nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv 2>/dev/null

# The CUDA libraries the bundle expects from the device (cudart, cublas, cublasLt; the
# driver's libcuda): from ld.so.cache, else the toolkit's folders, else Python's wheels.
py_default=$(command -v python3 || true)
PY=${MGI_PYTHON:-$py_default}
PY=$("$PY" -c 'import sys; print(sys.executable)' 2>/dev/null || echo "$PY")
sp=$("$PY" -c 'import site, sys; print(" ".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null || true)
cands=("${CUDA_HOME:-/usr/local/cuda}/lib64" "${CUDA_HOME:-/usr/local/cuda}/lib" /usr/local/cuda/lib64 /usr/local/cuda/lib
       /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-1*/lib64 /usr/local/cuda-1*/targets/x86_64-linux/lib
       /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64)
for s in $sp; do for d in "$s"/nvidia/*/lib "$s"/nvidia/lib; do [[ -d $d ]] && cands+=("$d"); done; done
cuda_dirs=()
find_lib() {  # find_lib SONAME: prints the dir holding it if ld.so won't find it by itself
  local so=$1 d
  local c
  c=$(ldconfig -p 2>/dev/null | awk -v s="$so" '$1 == s {print $NF; exit}')
  if [[ -n $c ]]; then echo "  $so: ld.so.cache $c -> $(readlink -f "$c")" >&2; return 0; fi
  for d in ${LD_LIBRARY_PATH//:/ }; do [[ -e $d/$so ]] && { echo "  $so: LD_LIBRARY_PATH $d" >&2; return 0; }; done
  for d in "${cands[@]}"; do
    [[ -e $d/$so ]] && { echo "  $so: $d -> $(readlink -f "$d/$so")" >&2; echo "$d"; return 0; }
  done
  echo "  $so: NOT FOUND" >&2
  return 1
}
echo "CUDA libraries (bundle built with $BUNDLE_NVCC; cudart $BUNDLE_CUDART_BUILT_AGAINST, cublas $BUNDLE_CUBLAS_BUILT_AGAINST; runtime linked $BUNDLE_CUDA_RUNTIME_LIBRARY):"
for so in libcuda.so.1 $BUNDLE_CUDA_SONAMES; do
  if d=$(find_lib "$so"); then
    [[ -n $d && " ${cuda_dirs[*]} " != *" $d "* ]] && cuda_dirs+=("$d")
  elif [[ $so == libcudart.so.* ]]; then
    export MGI_BUNDLE_CUDART_FALLBACK=1
    note "env: $so not on the device: using the bundle's copy (lib/cuda-fallback)"
  else
    note "env: $so not found on the device: the CUDA backend cannot load"
  fi
done
MGI_BUNDLE_CUDA_LIBDIR=$(IFS=:; echo "${cuda_dirs[*]}")
export MGI_BUNDLE_CUDA_LIBDIR
command -v nvcc >/dev/null && nvcc --version | tail -1

# Python: the image's python3 has numpy/h5py/onnx/onnxruntime/torch. Our scripts and the
# CTest files use <repo>/.venv/bin/python: make it a shim to that interpreter if absent.
if [[ ! -x $ROOT/.venv/bin/python ]] || ! "$ROOT/.venv/bin/python" -c 'import numpy, h5py, onnx, onnxruntime' 2>/dev/null; then
  mkdir -p "$ROOT/.venv/bin"
  rm -f "$ROOT/.venv/bin/python"
  printf '#!/bin/sh\nexec "%s" "$@"\n' "$PY" >"$ROOT/.venv/bin/python"
  chmod +x "$ROOT/.venv/bin/python"
fi
export MGI_PYTHON=$PY
"$PY" - <<'EOF' || note "env: python check failed"
import importlib, sys
print("python", sys.version.split()[0], sys.executable)
for m in ("numpy", "h5py", "onnx", "onnxruntime", "torch", "mpi4py"):
    try:
        mod = importlib.import_module(m)
        extra = ""
        if m == "torch":
            extra = f" cuda={mod.version.cuda} available={mod.cuda.is_available()}"
        if m == "onnxruntime":
            extra = f" providers={mod.get_available_providers()}"
        print(f"  {m} {getattr(mod, '__version__', '?')}{extra}")
    except Exception as e:  # noqa: BLE001
        print(f"  {m}: not importable ({type(e).__name__}: {e})")
EOF

# The bundle's programs see only the bundle (bin/bundle-exec); MPI settings as for every run.
export PATH="$B/bin:$PATH"
# shellcheck disable=SC1091
source "$ROOT/tools/mpirun-env.sh"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# CTest files: the paths baked into them made the device's.
(cd "$B/ctest" && find . -type f) | while read -r f; do
  mkdir -p "$B/build/$(dirname "$f")"
  sed -e "s|@BUILD@|$B/build|g" -e "s|@SRC@|$ROOT|g" "$B/ctest/$f" >"$B/build/$f"
done
sed -e "s|@BUILD@|$B/build|g" -e "s|@SRC@|$ROOT|g" "$B/gpu-tests.json" >"$B/build/gpu-tests.json"
echo "libraries of the bundled programs (bundle-exec):"
bad=0
# (libmgi-cuda.so too: the CUDA backend module mgi-mpi opens at run time; its CUDA
# libraries not found shows here, and in mgi-mpi --version's backends line below)
for e in $BUNDLE_EXES ${BUNDLE_CUDA_MODULE:-}; do
  out=$(MGI_BUNDLE_LIST=1 bundle-exec "$B/libexec/$e" 2>&1)
  nf=$(grep -c "not found" <<<"$out")
  outside=$(grep '=>' <<<"$out" | awk '{print $3}' | grep -v "^$B/" | xargs -r -n1 basename | sort -u | tr '\n' ' ')
  echo "  $e: $(grep -c '=>' <<<"$out") libraries, ${nf} not found; from outside the bundle: $outside"
  ((nf)) && { grep "not found" <<<"$out"; bad=1; }
done
((bad)) && { note "env: some libraries not found (above)"; status=1; }
note "env: python $PY; CUDA lib dirs '${MGI_BUNDLE_CUDA_LIBDIR}'; loader mode ${MGI_BUNDLE_LOADER:-0}"

# ------------------------------------------------------------------ 2. MPI from the bundle
if part mpi 90 20 150; then
  work=$B/build/device-run-work
  mkdir -p "$work"
  (
    set -e
    echo "\$ mpirun --version"; timeout 20 mpirun --version
    echo "\$ mgi-mpi --version"; timeout 20 "$B/build/mgi-mpi" --version
    echo "\$ mpirun -np 1 mgi-mpi --version"; timeout 30 mpirun -np 1 "$B/build/mgi-mpi" --version
    echo "\$ mpirun -np 2 mgi-mpi configs/demo.yaml (runtime.device=cpu)"
    cd "$ROOT"
    timeout 60 mpirun -np 2 "$B/build/mgi-mpi" configs/demo.yaml --set runtime.device=cpu \
      --set output.file="$work/demo-cpu.h5" --overwrite --report "$work/demo-cpu.report.json"
    "$PY" -c 'import h5py, sys; f = h5py.File(sys.argv[1]); print("demo output:", {k: f[k].shape for k in f})' "$work/demo-cpu.h5"
    echo "\$ mgi-mpi configs/demo.yaml (no mpirun: a singleton MPI_Init starts the bundle's orted)"
    timeout 60 "$B/build/mgi-mpi" configs/demo.yaml --set runtime.device=cpu --set output.file="$work/demo-single.h5" --overwrite |
      tail -3
  ) 2>&1 | tee "$work/mpi.log"
  record "mpi: mpirun -np 2 demo (cpu)" "${PIPESTATUS[0]}"
  # The backends mgi-mpi found: "cuda: loaded from ..." or "cuda: not loaded (<why>)".
  backends=$(grep -m1 '^backends:' "$work/mpi.log" || true)
  [[ -n $backends ]] && note "mpi: mgi-mpi --version: $backends"
  echo "\$ mpirun -np 1 mgi-mpi configs/demo.yaml --dry-run (runtime.device=cuda)"
  (cd "$ROOT" && timeout 60 mpirun -np 1 "$B/build/mgi-mpi" configs/demo.yaml --set runtime.device=cuda \
     --set output.file="$work/demo-gpu.h5" --overwrite --dry-run) 2>&1 | tail -20
  rc=${PIPESTATUS[0]}
  if ((rc == 0)); then gpu_seen=yes; note "mpi: GPU dry run ok (mgi-mpi sees a CUDA device)"
  else gpu_seen=no; note "mpi: GPU dry run exit $rc (no usable CUDA device for mgi-mpi)"; fi
fi

# ------------------------------------------------------------------ 3. gpu tests
if part tests 200 30 150; then
  TLOG=$B/build/device-run-work/gpu-tests.log  # (in device_run.log too)
  mkdir -p "$(dirname "$TLOG")"
  CTEST=${MGI_CTEST:-$(command -v ctest || echo none)}
  if [[ $CTEST != none ]]; then
    "$CTEST" --version | head -1
    junit=()
    [[ $("$CTEST" --help 2>/dev/null) == *--output-junit* ]] && junit=(--output-junit "$O/gpu-tests.xml")
    (cd "$B/build" && timeout -k 10 "$LIMIT" "$CTEST" -L gpu --output-on-failure --timeout $((LIMIT - 10)) "${junit[@]}") 2>&1 |
      tee "$TLOG"
    record "tests: ctest -L gpu" "${PIPESTATUS[0]}"
  else
    # No ctest: what the gpu label runs, by hand (the reference cases, then every test).
    echo "no ctest here: running the gpu test executables directly"
    (
      cases=$B/build/tests/reference/cases
      cd "$ROOT" && timeout 120 "$PY" tests/python/gen_op_cases.py --out "$cases" || echo "reference cases not generated"
      for t in $("$PY" -c 'import json, os, sys
d = json.load(open(sys.argv[1]))
print(" ".join(sorted({t["command"][0] for t in d["gpu"] if t.get("command") and os.path.exists(t["command"][0])})))' "$B/build/gpu-tests.json"); do
        MGI_OP_CASES=$cases timeout -k 10 "$LIMIT" "$t" --gtest_output="xml:$O/gpu-tests.xml"
      done
    ) 2>&1 | tee "$TLOG"
    record "tests: gpu test executables" "${PIPESTATUS[0]}"
  fi
  grep -E "tests passed|Skipped|SKIPPED|\*\*\*Failed|Not Run" "$TLOG" | tail -15
  skipped=$(($(grep -c '\*\*\*Skipped' "$TLOG") + $(grep -oE '^\[  SKIPPED \] [^ ]+ \(' "$TLOG" | sort -u | wc -l)))
  ((skipped)) && note "tests: $skipped reported Skipped"
fi

# ------------------------------------------------------------------ 4. GEMM bench
if [[ $gpu_seen == no && ${MGI_FORCE_GEMM:-0} != 1 ]]; then
  note "gemm: skipped (mgi-mpi saw no CUDA device in the dry run; MGI_FORCE_GEMM=1 runs it anyway)"
elif part gemm 60 15 120; then
  : >"$O/gemm.jsonl"
  rcg=0
  for spec in "8192 4096 8192 bf16" "8192 4096 8192 tf32" "8192 4096 8192 fp32" "8192 512 256 fp32" "1024 8192 8192 bf16"; do
    read -r m k n p <<<"$spec"
    ((SECONDS - T0 + 5 > BUDGET - 120)) && { note "gemm: $spec skipped (budget)"; continue; }
    echo "\$ mgi-gemm-bench --device cuda --m $m --k $k --n $n --precision $p"
    timeout 30 "$B/build/bench/mgi-gemm-bench" --device cuda --m "$m" --k "$k" --n "$n" --precision "$p" --repeat 20 \
      2>&1 | tee -a "$O/gemm.jsonl"
    r=${PIPESTATUS[0]}
    ((r)) && rcg=$r
  done
  record "gemm: mgi-gemm-bench --device cuda" "$rcg"
fi

# ------------------------------------------------------------------ 5. throughput (GPU section)
# One throughput.py run per model (MGI_THROUGHPUT_MODELS, default "big mlp": the compute-bound
# one first), each with its own JSON, so a run cut by its time limit loses only its own.
read -r -a models <<<"${MGI_THROUGHPUT_MODELS:-big mlp}"
if part throughput 600 60 15; then
  # The torch peer runs under our mpirun -np 1 when mpi4py imports; the image's mpi4py is
  # built for its own MPI (if any). If it cannot start under our mpirun, hide mpi4py from
  # throughput.py (a sitecustomize setting sys.modules["mpi4py"] = None): the peer then
  # runs as one process without mpirun, as it does where mpi4py is missing.
  if "$PY" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("mpi4py") is None)' 2>/dev/null; then
    echo "\$ mpirun -np 1 python -c 'from mpi4py import MPI ...'   (can the torch peer use mpi4py under the bundle's mpirun?)"
    if (cd /tmp && timeout 60 mpirun -np 1 "$PY" -c 'from mpi4py import MPI; print("mpi4py", MPI.Get_library_version().splitlines()[0][:100], "size", MPI.COMM_WORLD.Get_size())') 2>&1 | tail -8; then
      note "throughput: torch peer under mpirun -np 1 with the image's mpi4py"
    else
      shim=$B/build/device-run-pyshim
      mkdir -p "$shim"
      printf 'import sys\nsys.modules["mpi4py"] = None  # device_run.sh: the image'"'"'s mpi4py cannot run under the bundle'"'"'s mpirun\n' >"$shim/sitecustomize.py"
      export PYTHONPATH=$shim${PYTHONPATH:+:$PYTHONPATH}
      note "throughput: the image's mpi4py fails under the bundle's mpirun: torch peer runs as one process (mpi4py hidden)"
    fi
  fi
  tp_help=$("$PY" "$ROOT/bench/throughput.py" --help 2>&1)
  tp_args="--skip-cpu --skip-gemm --repeat 3"
  [[ $tp_help == *--skip-ragged* ]] && tp_args+=" --skip-ragged"
  tp_args=${MGI_THROUGHPUT_ARGS:-$tp_args}
  for ((mi = 0; mi < ${#models[@]}; mi++)); do
    m=${models[mi]}
    # an equal share of what is left for each model still to run (the last one: all of it;
    # time an earlier one did not use goes to the later ones)
    cap=$((($(left) - 10) / (${#models[@]} - mi)))
    if ! part "throughput-$m" "$cap" 60 10; then continue; fi
    echo "\$ bench/throughput.py --build $B/build --models $m $tp_args"
    # shellcheck disable=SC2086
    timeout -k 10 "$LIMIT" "$PY" "$ROOT/bench/throughput.py" --build "$B/build" --models "$m" \
      --out "$O/throughput-$m.json" $tp_args 2>&1 | tee -a "$O/throughput.log"
    record "throughput-$m: bench/throughput.py --models $m (GPU section)" "${PIPESTATUS[0]}"
  done
  grep -q "no GPU: skipped" "$O/throughput.log" 2>/dev/null && note "throughput: GPU section skipped (no GPU seen by mgi-mpi)"
fi
finish
