#!/usr/bin/env bash
# Builds what the GPU run needs and packs it, with every shared library it needs,
# into .device-bundle/ (ignored by git), for a GPU machine that is a bare image with
# no network and no apt (no Open MPI, HDF5, yaml-cpp, protobuf, ...), where only the
# repository and this folder are copied (kept under 60 MiB).
# Run it on the Debian build machine, then on the GPU machine run
# bench/device_run.sh (see its header).
#   bench/device_bundle.sh [BUILD_DIR]        default $MGI_BUNDLE_BUILD or <repo>/build-bundle
# Environment: MGI_CUDA_ARCH (default 90: H100/H200), MGI_BUNDLE_MAX_MIB (default 60),
# MGI_BUNDLE_JOBS (default nproc).
#
# Layout of .device-bundle/ (B):
#   build/            the build tree's executables at their usual relative paths, as small
#                     wrappers (so bench/throughput.py --build B/build works)
#   ctest/            the build tree's CTest files, the paths baked into them replaced by
#                     @BUILD@ / @SRC@ (device_run.sh renders them into build/)
#   libexec/          the real executables (same relative paths), and libmgi-cuda.so beside
#                     mgi-mpi (the CUDA backend module it opens at run time)
#   bin/              mpirun, mpiexec, orterun, orted wrappers; bundle-exec (runs a program
#                     with the bundle's libraries and Open MPI install dirs)
#   lib/              every shared library needed that the device does not have (closure by
#                     ldd minus the allow-list below)
#   lib/glibc/        glibc, libstdc++, libgcc_s of this machine: used only when the device's
#                     glibc is older than the bundle needs (bundle-exec runs the bundle's loader)
#   lib/cuda-fallback/ libcudart (small): used only when the device has no libcudart of that SONAME
#   ompi/             a relocatable Open MPI (OPAL_PREFIX): libexec/orterun+orted (bin/: wrappers), lib/openmpi3
#                     plugins (without UCX/OFI/PSM/verbs/OpenSHMEM ones), share/openmpi help, etc/
#   pmix/             PMIx plugins and help files
#   bundle.env        what device_run.sh needs to know (baked paths, versions, test list)
#   gpu-tests.json    the gpu-labelled tests (ctest --show-only=json-v1) and their fixtures
#   MANIFEST.txt      every file, its size and where it came from
#   XZ-FILES.txt      the files stored as FILE.xz (over 1 MiB); device_run.sh unpacks them
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-${MGI_BUNDLE_BUILD:-$ROOT/build-bundle}}
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
B=$ROOT/.device-bundle
MAX_MIB=${MGI_BUNDLE_MAX_MIB:-60}
JOBS=${MGI_BUNDLE_JOBS:-$(nproc)}
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
[[ -x /usr/local/cuda/bin/nvcc ]] && ! command -v nvcc >/dev/null && export PATH="/usr/local/cuda/bin:$PATH"
t_start=$SECONDS
say() { printf 'device_bundle: %s\n' "$*"; }

# ------------------------------------------------------------------ configure + build
gen=()
[[ -f $BUILD/CMakeCache.txt ]] || { command -v ninja >/dev/null && gen=(-G Ninja); }
say "configure $BUILD (CUDA arch ${MGI_CUDA_ARCH:-90}, Release)"
cmake -S "$ROOT" -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DMGI_CUDA_ARCHITECTURES="${MGI_CUDA_ARCH:-90}" -DCMAKE_CUDA_ARCHITECTURES="${MGI_CUDA_ARCH:-90}" \
  -DMGI_PYTHON="$ROOT/.venv/bin/python" >"$BUILD/bundle-configure.log" 2>&1 ||
  { cat "$BUILD/bundle-configure.log"; exit 1; }
grep -q '^MGI_ENABLE_CUDA:BOOL=ON' "$BUILD/CMakeCache.txt" && grep -q '^CMAKE_CUDA_COMPILER:' "$BUILD/CMakeCache.txt" &&
  grep -q "mgi-mpi: CUDA backend ON" "$BUILD/bundle-configure.log" ||
  { grep "CUDA" "$BUILD/bundle-configure.log"; say "the CUDA backend is not built (no nvcc?): a GPU bundle needs it"; exit 1; }
# mgi-cuda: libmgi-cuda.so, the CUDA backend module mgi-mpi opens at run time (it links
# no CUDA library itself); the benches and test executables have the backend linked in.
targets=(mgi-mpi mgi-cuda mgi-gemm-bench mgi_gpu_tests)
all_targets=$(cmake --build "$BUILD" --target help 2>/dev/null || true)
optional=(mgi-stage-bench)  # built when bench/CMakeLists.txt has them
for opt in "${optional[@]}"; do
  if grep -qE "(^|[ :])$opt(:|$| )" <<<"$all_targets"; then targets+=("$opt"); else say "no target $opt: left out"; fi
done
say "build ${targets[*]} (-j$JOBS)"
cmake --build "$BUILD" -j"$JOBS" --target "${targets[@]}" >"$BUILD/bundle-build.log" 2>&1 ||
  { tail -40 "$BUILD/bundle-build.log"; exit 1; }

# gpu-labelled tests and the fixtures they need; build any executable they run that
# is still missing (gtest-discovered executables not built show up as *_NOT_BUILT).
list_tests() { (cd "$BUILD" && ctest --show-only=json-v1 2>/dev/null); }
select_tests() {  # stdin: ctest json; out: json with the gpu tests + their fixture setups
  "$PY" -c '
import json, sys
d = json.load(sys.stdin)
def props(t): return {p["name"]: p["value"] for p in t.get("properties", [])}
gpu = [t for t in d["tests"] if "gpu" in (props(t).get("LABELS") or [])]
need = {f for t in gpu for f in (props(t).get("FIXTURES_REQUIRED") or [])}
setup = [t for t in d["tests"] if need & set(props(t).get("FIXTURES_SETUP") or [])]
notbuilt = sorted({t["name"][:-len("_NOT_BUILT")] for t in d["tests"] if t["name"].endswith("_NOT_BUILT")})
json.dump({"gpu": gpu, "setup": setup, "not_built": notbuilt}, sys.stdout, indent=1)'
}
list_tests | select_tests >"$BUILD/bundle-gpu-tests.json"
exes=$("$PY" - "$BUILD" "$BUILD/bundle-gpu-tests.json" <<'EOF'
import json, os, sys
build, path = sys.argv[1], sys.argv[2]
d = json.load(open(path))
out = set()
for t in d["gpu"] + d["setup"]:
    cmd = t.get("command") or []
    if cmd and cmd[0].startswith(build + "/"):
        out.add(os.path.basename(cmd[0]))
print(" ".join(sorted(out)))
EOF
)
extra=()
for e in $exes; do [[ " ${targets[*]} " == *" $e "* ]] || extra+=("$e"); done
if ((${#extra[@]})); then
  say "build test executables ${extra[*]}"
  cmake --build "$BUILD" -j"$JOBS" --target "${extra[@]}" >>"$BUILD/bundle-build.log" 2>&1 ||
    { tail -40 "$BUILD/bundle-build.log"; exit 1; }
  list_tests | select_tests >"$BUILD/bundle-gpu-tests.json"
fi
ngpu=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["gpu"]))' "$BUILD/bundle-gpu-tests.json")
((ngpu > 0)) || { say "no gpu-labelled tests found in $BUILD"; exit 1; }
say "$ngpu gpu-labelled tests"

# ------------------------------------------------------------------ assemble
rm -rf "$B"
mkdir -p "$B"/{build,ctest,libexec,bin,lib/glibc,lib/cuda-fallback,ompi/bin,ompi/libexec,ompi/lib/openmpi3,ompi/share,ompi/etc,pmix/lib/pmix,pmix/share}
manifest=$B/MANIFEST.txt
: >"$manifest"
put() {  # put SRC DEST: copy (following links), record in the manifest
  mkdir -p "$(dirname "$2")"
  cp -L "$1" "$2"
  printf '%10d  %s  <- %s\n' "$(stat -c %s "$2")" "${2#"$B"/}" "$(readlink -f "$1")" >>"$manifest"
}

# Executables: the real ones under libexec/, wrappers at the build tree's paths.
ompi_root=/usr/lib/x86_64-linux-gnu/openmpi
rel_exes=()
for rel in mgi-mpi bench/mgi-gemm-bench bench/mgi-stage-bench; do
  [[ -x $BUILD/$rel ]] && rel_exes+=("$rel")
done
for e in $exes; do
  p=$(cd "$BUILD" && find . -path ./CMakeFiles -prune -o -type f -name "$e" -perm -u+x -print | head -1)
  [[ -n $p ]] && rel_exes+=("${p#./}")
done
for rel in "${rel_exes[@]}"; do
  put "$BUILD/$rel" "$B/libexec/$rel"
  up=$(dirname "$rel" | awk -F/ '{ s = ".."; if ($0 != ".") for (i = 1; i <= NF; i++) s = s "/.."; print s }')
  mkdir -p "$B/build/$(dirname "$rel")"
  cat >"$B/build/$rel" <<EOF
#!/bin/sh
# device bundle: runs libexec/$rel with the bundle's libraries (bench/device_bundle.sh)
d=\$(dirname "\$0")
exec "\$d/$up/bin/bundle-exec" "\$d/$up/libexec/$rel" "\$@"
EOF
  chmod +x "$B/build/$rel"
done

# The CUDA backend module, beside the real mgi-mpi: its loader looks in the executable's
# folder (under bundle-exec's explicit ld.so, the program it runs: libexec/).
[[ -f $BUILD/libmgi-cuda.so ]] || { say "no $BUILD/libmgi-cuda.so: the CUDA module was not built"; exit 1; }
put "$BUILD/libmgi-cuda.so" "$B/libexec/libmgi-cuda.so"

# Open MPI: launcher, daemon, plugins, help files, config.
mpirun_real=$(readlink -f "$(command -v mpirun)")
put "$mpirun_real" "$B/ompi/libexec/orterun"
put "$(readlink -f "$(command -v orted)")" "$B/ompi/libexec/orted"
chmod +x "$B/ompi/libexec/"*
deny='lib(ucp|uct|ucs|ucm|fabric|psm_infinipath|psm2|ibverbs|rdmacm|efa|oshmem|jvm|java)\.'
dropped=()
for p in "$ompi_root"/lib/openmpi3/*.so; do
  deps=$(ldd "$p" 2>&1 || true)
  if grep -qE "$deny|not found" <<<"$deps"; then dropped+=("$(basename "$p" .so)"); continue; fi
  put "$p" "$B/ompi/lib/openmpi3/$(basename "$p")"
done
say "Open MPI plugins left out (UCX/OFI/PSM/verbs/OpenSHMEM, not used on one node): ${dropped[*]}"
cp -rL /usr/share/openmpi/. "$B/ompi/share/openmpi/"
echo "$(du -sb "$B/ompi/share/openmpi" | cut -f1)  ompi/share/openmpi/  <- /usr/share/openmpi" >>"$manifest"
for f in /etc/openmpi/openmpi-mca-params.conf /etc/openmpi/openmpi-default-hostfile; do
  [[ -f $f ]] && put "$f" "$B/ompi/etc/$(basename "$f")"
done
pmix_root=/usr/lib/x86_64-linux-gnu/pmix2
if [[ -d $pmix_root ]]; then
  for p in "$pmix_root"/lib/pmix/*.so; do [[ -e $p ]] && put "$p" "$B/pmix/lib/pmix/$(basename "$p")"; done
  [[ -d $pmix_root/share/pmix ]] && cp -rL "$pmix_root/share/pmix" "$B/pmix/share/"
fi

# Shared-library closure (ldd of every ELF in the bundle), minus the allow-list of what
# the device has: glibc, libstdc++/libgcc_s (newer there), the CUDA driver and toolkit.
allow_re='^(linux-vdso\.so|ld-linux-x86-64\.so|libc\.so|libm\.so|libmvec\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|libutil\.so|libanl\.so|libnsl\.so|libstdc\+\+\.so|libgcc_s\.so|libcuda\.so|libnvidia-|libcudart\.so|libcublas\.so|libcublasLt\.so|libnvrtc|libnvJitLink\.so|libcufft|libcurand\.so|libcusparse\.so|libcusolver|libnccl\.so|libcudnn)'
glibc_re='^(ld-linux-x86-64\.so|libc\.so|libm\.so|libmvec\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|libutil\.so|libanl\.so|libstdc\+\+\.so|libgcc_s\.so)'
elfs=()
while IFS= read -r -d '' f; do
  [[ $(file -bL "$f") == ELF* ]] && elfs+=("$f")
done < <(find "$B/libexec" "$B/ompi/libexec" "$B/ompi/lib" "$B/pmix/lib" -type f -print0)
declare -A seen=()
missing=()
for f in "${elfs[@]}"; do
  while read -r name _ path _; do
    [[ -z $name || $name == statically ]] && continue
    if [[ $path == "not" ]]; then missing+=("$name (from $(basename "$f"))"); continue; fi
    [[ -n ${seen[$name]:-} ]] && continue
    seen[$name]=$path
  done < <(ldd "$f" | sed -n 's/^\s*\(\S*\) => \(\S*\).*/\1 x \2/p; s/^\s*\(\/\S*ld-linux\S*\) .*/\1 x \1/p')
done
((${#missing[@]})) && { say "unresolved libraries: ${missing[*]}"; exit 1; }
bundled=() allowed=()
for name in "${!seen[@]}"; do
  base=$(basename "$name")
  path=${seen[$name]}
  if [[ $base =~ $glibc_re ]]; then
    put "$path" "$B/lib/glibc/$base"; allowed+=("$base")
  elif [[ $base == libcudart.so.* ]]; then
    put "$path" "$B/lib/cuda-fallback/$base"; allowed+=("$base")
  elif [[ $base =~ $allow_re ]]; then
    allowed+=("$base")
  else
    put "$path" "$B/lib/$base"; bundled+=("$base")
  fi
done
say "bundled libraries (${#bundled[@]}): $(printf '%s\n' "${bundled[@]}" | sort | tr '\n' ' ')"
say "expected on the device (allow-list): $(printf '%s\n' "${allowed[@]}" | sort | tr '\n' ' ')"

# The bundle-exec launcher every wrapper goes through.
cat >"$B/bin/bundle-exec" <<'EOF'
#!/bin/sh
# bundle-exec PROGRAM ARGS...: PROGRAM run by the dynamic loader with the bundle's libraries
# first on its library path (ld.so --library-path: that process only, nothing exported), and
# Open MPI/PMIx pointed at the bundle. So the programs that mpirun starts, the device's
# Python included (torch, onnxruntime, h5py, mpi4py), keep their own libraries.
#   MGI_BUNDLE_CUDA_LIBDIR   where the device's libcudart/libcublas live, if ld.so.cache lacks them
#   MGI_BUNDLE_CUDART_FALLBACK=1  also the bundle's libcudart (the device has none of that SONAME)
#   MGI_BUNDLE_LOADER=1      the bundle's own glibc and loader (the device's glibc is too old)
#   MGI_BUNDLE_LIST=1        list how PROGRAM's libraries resolve instead of running it
B=$(cd "$(dirname "$0")/.." && pwd -P)
O=$B/ompi
export OPAL_PREFIX="$O" OPAL_EXEC_PREFIX="$O" OPAL_BINDIR="$O/bin" OPAL_SBINDIR="$O/bin" \
  OPAL_LIBEXECDIR="$O/bin" OPAL_LIBDIR="$O/lib" OPAL_PKGLIBDIR="$O/lib/openmpi3" \
  OPAL_DATAROOTDIR="$O/share" OPAL_DATADIR="$O/share" OPAL_PKGDATADIR="$O/share/openmpi" \
  OPAL_SYSCONFDIR="$O/etc" OPAL_INCLUDEDIR="$O/include" OPAL_PKGINCLUDEDIR="$O/include"
export PMIX_INSTALL_PREFIX="$B/pmix" PMIX_MCA_mca_base_component_path="$B/pmix/lib/pmix"
lp=$B/lib
loader=/lib64/ld-linux-x86-64.so.2
if [ "${MGI_BUNDLE_LOADER:-0}" = 1 ]; then
  loader=$B/lib/glibc/ld-linux-x86-64.so.2
  lp=$B/lib/glibc:$lp
fi
[ -n "${MGI_BUNDLE_CUDA_LIBDIR:-}" ] && lp=$lp:$MGI_BUNDLE_CUDA_LIBDIR
[ -n "${LD_LIBRARY_PATH:-}" ] && lp=$lp:$LD_LIBRARY_PATH
[ "${MGI_BUNDLE_CUDART_FALLBACK:-0}" = 1 ] && lp=$lp:$B/lib/cuda-fallback
prog=$1
shift
if [ "${MGI_BUNDLE_LIST:-0}" = 1 ]; then
  exec "$loader" --list --library-path "$lp" "$prog"
fi
exec "$loader" --library-path "$lp" --argv0 "$prog" "$prog" "$@"
EOF
# Wrappers: bin/ (on PATH) and ompi/bin/ (OPAL_BINDIR: where a singleton MPI_Init looks
# for orted) both run the real programs of ompi/libexec/ through bundle-exec.
for n in mpirun mpiexec orterun orted; do
  real=orterun
  [[ $n == orted ]] && real=orted
  for d in bin ompi/bin; do
    up=..
    [[ $d == ompi/bin ]] && up=../..
    printf '#!/bin/sh\n# device bundle: Open MPI %s (relocated through OPAL_PREFIX)\nB=$(cd "$(dirname "$0")/%s" && pwd -P)\nexec "$B/bin/bundle-exec" "$B/ompi/libexec/%s" "$@"\n' \
      "$real" "$up" "$real" >"$B/$d/$n"
  done
done
chmod +x "$B/bin/"* "$B/ompi/bin/"*

# CTest files, with the baked paths made placeholders: device_run.sh renders ctest/ into
# build/ with the device's paths.
while IFS= read -r -d '' f; do
  rel=${f#"$BUILD"/}
  mkdir -p "$B/ctest/$(dirname "$rel")"
  sed -e "s|$BUILD|@BUILD@|g" -e "s|$ROOT|@SRC@|g" "$f" >"$B/ctest/$rel"
done < <(find "$BUILD" -path "$BUILD/CMakeFiles" -prune -o \( -name CTestTestfile.cmake -o -name '*_include.cmake' -o -name '*_tests.cmake' \) -type f -print0)
sed -e "s|$BUILD|@BUILD@|g" -e "s|$ROOT|@SRC@|g" "$BUILD/bundle-gpu-tests.json" >"$B/gpu-tests.json"

# What device_run.sh needs to know.
glibc_need=$(for f in "${elfs[@]}" "$B"/lib/*.so*; do objdump -T "$f" 2>/dev/null | grep -oE 'GLIBC_2\.[0-9]+' || true; done |
             sort -t. -k2 -n -u | tail -1 | sed 's/GLIBC_//')
# cudart: CMake links it statically unless CMAKE_CUDA_RUNTIME_LIBRARY is Shared (ours is).
cuda_rt="Static (no libcudart NEEDED)"
cudart_so=$(printf '%s\n' "${!seen[@]}" | grep -m1 '^libcudart\.so' || true)
[[ -n $cudart_so ]] && cuda_rt="Shared ($cudart_so NEEDED)"
ver() {  # the version of the CUDA library that ldd resolved: its file name, or the wheel it came from
  local so=$1 path v di
  path=$(readlink -f "${seen[$so]:-}" 2>/dev/null) || true
  [[ -z $path ]] && return 0
  v=$(basename "$path")
  di=$(ls -d "$(dirname "$path")"/../dist-info/nvidia_"$2"-*.dist-info 2>/dev/null | head -1)
  [[ -n $di ]] && v="$v (wheel $(basename "$di" .dist-info))"
  echo "$v"
}
cuda_sonames=$(printf '%s\n' "${allowed[@]}" | { grep -E '^lib(cudart|cublas|cublasLt)\.so' || true; } | sort | tr '\n' ' ')
cat >"$B/bundle.env" <<EOF
# written by bench/device_bundle.sh on $(hostname) at $(date -u +%FT%TZ)
BUNDLE_SRC_DIR=$ROOT
BUNDLE_BUILD_DIR=$BUILD
BUNDLE_COMMIT="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown) + the working tree as it was then"
BUNDLE_GLIBC_NEEDED=$glibc_need
BUNDLE_GLIBC_HERE=$(ldd --version | head -1 | awk '{print $NF}')
BUNDLE_CUDA_RUNTIME_LIBRARY="$cuda_rt"
BUNDLE_CUDA_SONAMES="$cuda_sonames"
BUNDLE_CUDART_BUILT_AGAINST="$(ver "${cudart_so:-libcudart.so.13}" cuda_runtime)"
BUNDLE_CUBLAS_BUILT_AGAINST="$(ver "$(printf '%s\n' "${!seen[@]}" | grep -m1 '^libcublas\.so' || true)" cublas)"
BUNDLE_NVCC="$(nvcc --version | tail -1)"
BUNDLE_CUDA_ARCH=${MGI_CUDA_ARCH:-90}
BUNDLE_EXES="${rel_exes[*]}"
BUNDLE_CUDA_MODULE=libmgi-cuda.so
BUNDLE_GPU_TESTS=$ngpu
EOF

# ------------------------------------------------------------------ compress + size
# Files over 1 MiB (OpenBLAS alone is 35 MiB) travel xz-compressed; device_run.sh unpacks
# them (xz, else Python's lzma) before anything runs. XZ-FILES.txt lists them.
raw=$(du -sb "$B" | cut -f1)
: >"$B/XZ-FILES.txt"
while IFS= read -r -d '' f; do
  xz -6 -T"$JOBS" "$f"
  echo "${f#"$B"/}" >>"$B/XZ-FILES.txt"
done < <(find "$B" -type f -size +1M ! -name '*.xz' -print0)
say "xz-compressed $(wc -l <"$B/XZ-FILES.txt") files over 1 MiB (unpacked there by device_run.sh)"
total=$(du -sb "$B" | cut -f1)
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
say "sizes (MiB, lib/ includes its subfolders): $(for d in build ctest libexec bin lib lib/glibc lib/cuda-fallback ompi pmix; do
  printf '%s %s, ' "$d" "$(mib "$(du -sb "$B/$d" | cut -f1)")"; done)"
say "largest: $(find "$B" -type f -printf '%s %P\n' | sort -rn | head -5 | awk '{printf "%s %.1f MiB, ", $2, $1/1048576}')"
say "total $(mib "$total") MiB packed ($(mib "$raw") MiB unpacked) (limit $MAX_MIB MiB) in $((SECONDS - t_start)) s"
if ((total > MAX_MIB * 1048576)); then say "bundle too large"; exit 1; fi
say "ready: $B (copy it with the repository; run bench/device_run.sh there)"
