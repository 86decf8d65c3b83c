#!/usr/bin/env bash
# Installs the build into a fresh prefix and checks that every file of the
# install layout (cmake/MgiInstall.cmake) is there and names that prefix.
# usage: install_prefix.sh BUILD PREFIX BINDIR LIBDIR WITH_CUDA(ON|OFF) VERSION
set -euo pipefail
build=$1 prefix=$2 bindir=$3 libdir=$4 with_cuda=$5 version=$6
fail() { echo "install_prefix: FAIL: $*" >&2; exit 1; }

rm -rf "$prefix"
cmake --install "$build" --prefix "$prefix" >"$prefix.log" 2>&1 || { cat "$prefix.log"; fail "cmake --install failed"; }
share=$prefix/share/mgi-mpi
expected=(
  "$bindir/mgi-mpi"
  share/mgi-mpi/slurm/{one-node,one-node-mpirun,multi-node,array,requeue}.sbatch
  share/mgi-mpi/configs/{demo,ragged-dynamic,embed-text}.yaml
  share/mgi-mpi/data/{digits,ragged}.h5
  share/mgi-mpi/models/{digits-mlp,ragged-pool}.onnx
  "share/mgi-mpi/modules/lmod/mgi-mpi/$version.lua"
  "share/mgi-mpi/modules/tcl/mgi-mpi/$version"
  share/doc/mgi-mpi/README.md
  share/doc/mgi-mpi/docs/{ERRORS,DURABILITY,OPS,PERFORMANCE}.md
  share/cmake/mgi-mpi/mgi-mpiConfig.cmake
  share/cmake/mgi-mpi/mgi-mpiConfigVersion.cmake
)
[[ $with_cuda == ON ]] && expected+=("$libdir/libmgi-cuda.so")
for f in "${expected[@]}"; do
  [[ -e "$prefix/$f" ]] || fail "not installed: $f"
done
echo "install_prefix: ${#expected[@]} expected files under $prefix"
[[ -x "$prefix/$bindir/mgi-mpi" ]] || fail "$bindir/mgi-mpi is not executable"
for t in "$share"/slurm/*.sbatch; do [[ -x "$t" ]] || fail "$t is not executable"; done

# The installed configs read shipped files through the share dir, with this prefix as the default.
for c in demo ragged-dynamic; do
  n=$(grep -c "file: \${MGI_MPI_SHARE:-$share}/" "$share/configs/$c.yaml" || true)
  [[ $n -eq 2 ]] || fail "configs/$c.yaml: expected 2 'file: \${MGI_MPI_SHARE:-$share}/...' lines, got $n"
done
grep -q '^  file: out/digits-pred.h5' "$share/configs/demo.yaml" || fail "configs/demo.yaml: the output is no longer relative"
grep -q '^  file: data/corpus-tokens.h5' "$share/configs/embed-text.yaml" ||
  fail "configs/embed-text.yaml: a path to a file not shipped was rewritten"
# The module files name this prefix and nothing is left unsubstituted.
grep -q "setenv(\"MGI_MPI_SHARE\", \"$share\")" "$share/modules/lmod/mgi-mpi/$version.lua" || fail "lmod file: MGI_MPI_SHARE"
grep -q "setenv MGI_MPI_SHARE \"$share\"" "$share/modules/tcl/mgi-mpi/$version" || fail "tcl file: MGI_MPI_SHARE"
if grep -n "@[A-Z_]*@" "$share"/modules/*/mgi-mpi/* "$share"/configs/*.yaml "$prefix"/share/cmake/mgi-mpi/*.cmake | grep -v "Expanded from @PACKAGE_INIT@"; then
  fail "unsubstituted @VAR@ above"
fi
echo "install_prefix: PASS"
