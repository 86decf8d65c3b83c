#!/usr/bin/env bash
# The GPU part of the benchmark in one command, on a machine with a CUDA GPU:
# build with CUDA, run the gpu-labelled tests, then bench/throughput.py (which
# adds its GPU section when mgi-mpi sees a device). Logs go to the build dir.
#   bench/gpu_run.sh [BUILD_DIR] [throughput.py options...]
# Environment: MGI_CUDA_ARCH (default 90: H100/H200), MGI_PYTHON (default .venv/bin/python:
# numpy, onnx, onnxruntime, h5py; torch and onnxruntime-gpu are used when importable).
# Needs the Debian packages of tools/setup.sh (Open MPI, parallel HDF5, yaml-cpp, protobuf,
# ONNX, ...). On a BARE GPU machine (no network, no apt), use the bundle route instead:
# on the build machine, bench/device_bundle.sh builds a CUDA build and packs it with its
# libraries and a relocatable Open MPI into .device-bundle/; copy the repository and the
# bundle to the GPU machine, where
#   bash bench/device_run.sh [OUT_DIR]      (see its header)
# runs the same gpu tests and the throughput benchmark's GPU section, logs to OUT_DIR.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build-gpu}
shift || true
PY=${MGI_PYTHON:-$ROOT/.venv/bin/python}
cmake -S "$ROOT" -B "$BUILD" -DMGI_CUDA_ARCHITECTURES="${MGI_CUDA_ARCH:-90}" -DMGI_PYTHON="$PY"
cmake --build "$BUILD" -j"$(nproc)"
status=0
(cd "$BUILD" && ctest -L gpu --output-on-failure 2>&1) | tee "$BUILD/gpu-tests.log" || status=$?
"$PY" "$ROOT/bench/throughput.py" --build "$BUILD" "$@" 2>&1 | tee "$BUILD/throughput.log"
exit "$status"
