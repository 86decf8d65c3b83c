#!/usr/bin/env bash
# Loads the installed module files with the module system found here (Lmod: the
# Lua and the Tcl file; environment-modules: the Tcl file) and checks what they
# set: mgi-mpi on PATH from the prefix, MGI_MPI_SHARE, MGI_MPI_ROOT, and that
# unloading restores PATH. Exit 77 (Skipped) when no module system is installed.
# usage: installed_modules.sh PREFIX BINDIR VERSION
set -euo pipefail
prefix=$1 bindir=$2 version=$3
share=$prefix/share/mgi-mpi
fail() { echo "installed_modules: FAIL: $*" >&2; exit 1; }

inits=()
for f in "${LMOD_PKG:-/nonexistent}/init/bash" /usr/share/lmod/lmod/init/bash /opt/apps/lmod/lmod/init/bash; do
  [[ -f $f ]] && { inits+=("lmod:$f"); break; }
done
for f in "${MODULESHOME:-/nonexistent}/init/bash" /usr/share/modules/init/bash; do
  [[ -f $f ]] && grep -q "modulecmd" "$f" 2>/dev/null && { inits+=("modules:$f"); break; }
done
if ((${#inits[@]} == 0)); then
  echo "SKIPPED: neither Lmod nor environment-modules is installed (apt-get install lmod)"
  exit 77
fi

checked=0
for entry in "${inits[@]}"; do
  kind=${entry%%:*} init=${entry#*:}
  trees=(tcl)
  [[ $kind == lmod ]] && trees=(lmod tcl)
  for tree in "${trees[@]}"; do
    # A clean shell: no module system inherited from the caller's environment.
    got=$(env -i HOME="$HOME" PATH=/usr/bin:/bin bash --noprofile --norc -c '
      set -e
      source "$1" >/dev/null 2>&1
      before=$PATH
      module use "$2"
      module load mgi-mpi/'"$version"'
      echo "tool=$(command -v mgi-mpi)"
      echo "share=$MGI_MPI_SHARE"
      echo "root=$MGI_MPI_ROOT"
      module unload mgi-mpi
      [[ $PATH == "$before" ]] && echo "unload=ok" || echo "unload=PATH is $PATH"
    ' _ "$init" "$share/modules/$tree") || fail "$kind, $tree module file: the shell failed: $got"
    echo "$kind ($init), modules/$tree:"
    echo "$got" | sed 's/^/  /'
    grep -qx "tool=$prefix/$bindir/mgi-mpi" <<<"$got" || fail "$kind, $tree: mgi-mpi on PATH is not $prefix/$bindir/mgi-mpi"
    grep -qx "share=$share" <<<"$got" || fail "$kind, $tree: MGI_MPI_SHARE"
    grep -qx "root=$prefix" <<<"$got" || fail "$kind, $tree: MGI_MPI_ROOT"
    grep -qx "unload=ok" <<<"$got" || fail "$kind, $tree: unload does not restore PATH"
    checked=$((checked + 1))
  done
done
echo "installed_modules: PASS ($checked module files loaded)"
