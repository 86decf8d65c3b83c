#!/usr/bin/env bash
# Builds everything and runs the whole test suite (unit, reference, MPI; GPU
# tests report "skipped" without a device). Exit status is ctest's.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MGI_BUILD_DIR:-$ROOT/build}
"$ROOT/tools/setup.sh" --python
source "$ROOT/tools/mpirun-env.sh"
cd "$BUILD"
ctest --output-on-failure --timeout 600 -j"${MGI_TEST_JOBS:-2}" "$@"
