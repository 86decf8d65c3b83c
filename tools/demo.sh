#!/usr/bin/env bash
# Runs the bundled demo end to end: build, 4-rank run, accuracy against labels.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MGI_BUILD_DIR:-$ROOT/build}
NP=${NP:-4}
"$ROOT/tools/setup.sh"
source "$ROOT/tools/mpirun-env.sh"
cd "$ROOT"
mkdir -p out
mpirun -np "$NP" "$BUILD/mgi-mpi" configs/demo.yaml --overwrite "$@"
"$BUILD/mgi-accuracy" --pred out/digits-pred.h5:/probs --labels data/digits.h5:/labels
