#!/usr/bin/env bash
# Installs what is missing on a Debian machine, then configures and builds
# mgi-mpi into build/ (or $MGI_BUILD_DIR).
#   tools/setup.sh            packages + build (enough to run the tool)
#   tools/setup.sh --python   also a .venv with the Python test references
#   tools/setup.sh --fuzz     also clang + libFuzzer (tools/fuzz.sh); flags combine
# CUDA: the backend is built when nvcc is found (PATH or /usr/local/cuda);
# pass extra CMake flags through $MGI_CMAKE_FLAGS, e.g. -DMGI_ENABLE_CUDA=OFF.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MGI_BUILD_DIR:-$ROOT/build}
WITH_PYTHON=0 WITH_FUZZ=0
for arg in "$@"; do
  case "$arg" in
    --python) WITH_PYTHON=1 ;;
    --fuzz) WITH_FUZZ=1 ;;
    *) echo "setup.sh: unknown option '$arg' (--python, --fuzz)" >&2; exit 2 ;;
  esac
done

pkgs=(cmake g++ make pkg-config libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
      libyaml-cpp-dev libgtest-dev libonnx-dev libprotobuf-dev protobuf-compiler libopenblas-dev
      libcli11-dev libssl-dev nlohmann-json3-dev zlib1g-dev
      libonnx-testdata)  # ONNX's conformance suite (about 20 MB) for the conformance_cpu test
# lmod: the install_modules test loads the installed module files with it.
((WITH_PYTHON)) && pkgs+=(python3 python3-venv python3-pip lmod)
# clang's libFuzzer/sanitizer runtimes, its OpenMP, llvm-symbolizer for readable stacks.
((WITH_FUZZ)) && pkgs+=(clang libclang-rt-dev libomp-dev llvm)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake_flags=(-DCMAKE_BUILD_TYPE=Release)
if ((WITH_PYTHON)); then
  if [[ ! -x "$ROOT/.venv/bin/python" ]] || ! "$ROOT/.venv/bin/python" -c "import numpy, onnx, onnxruntime, h5py, sklearn, matplotlib, tokenizers" 2>/dev/null; then
    echo "setup: creating $ROOT/.venv (tools/requirements.txt)"
    python3 -m venv "$ROOT/.venv"
    "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check -r "$ROOT/tools/requirements.txt"
  fi
  cmake_flags+=(-DMGI_PYTHON="$ROOT/.venv/bin/python")
fi
[[ -x /usr/local/cuda/bin/nvcc ]] && ! command -v nvcc >/dev/null && export PATH="/usr/local/cuda/bin:$PATH"

# shellcheck disable=SC2086
cmake -S "$ROOT" -B "$BUILD" "${cmake_flags[@]}" ${MGI_CMAKE_FLAGS:-} >"$BUILD.configure.log" 2>&1 ||
  { cat "$BUILD.configure.log"; exit 1; }
grep -E "mgi-mpi: CUDA backend" "$BUILD.configure.log" || true
cmake --build "$BUILD" -j"$(nproc)"
