#!/usr/bin/env bash
# The CUDA backend is loaded at run time, never linked: mgi-mpi's dynamic section
# names no CUDA library (so it starts on a node without them), and the module
# (when built) needs from the core only symbols that mgi-mpi exports.
#   check_link.sh MGI_MPI [MODULE]
set -u
tool=$1 module=${2:-}
status=0
for t in readelf nm c++filt; do
  command -v "$t" >/dev/null || { echo "SKIPPED: $t (binutils) not installed"; exit 77; }
done
needed=$(readelf -d "$tool" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "mgi-mpi NEEDED: $(echo $needed)"
bad=$(grep -E '^lib(cudart|cublas|cublasLt|cuda|nvrtc|nvJitLink|cudnn|nccl)[.-]' <<<"$needed")
if [[ -n $bad ]]; then
  echo "FAIL: mgi-mpi links CUDA libraries at build time: $(echo $bad)"; status=1
fi
if [[ -z $module || ! -f $module ]]; then
  echo "no CUDA module in this build: nothing more to check"
  exit $status
fi
mneeded=$(readelf -d "$module" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "module NEEDED: $(echo $mneeded)"
grep -q '^libcudart\.so' <<<"$mneeded" || { echo "FAIL: the module does not link libcudart"; status=1; }
# The module's one entry point, and nothing else of ours exported.
exported=$(nm -D --defined-only "$module" | awk '{print $3}' | c++filt | grep -E 'mgi' || true)
if [[ $exported != "mgi_cuda_api" ]]; then
  echo "FAIL: the module should export mgi_cuda_api alone of our symbols; it exports:"; echo "$exported"; status=1
fi
# Every core symbol the module uses is exported by mgi-mpi (else dlopen fails: undefined symbol).
want=$(nm -D --undefined-only "$module" | awk '{print $2}' | sort -u)
have=$(nm -D --defined-only "$tool" | awk '{print $3}' | sort -u)
missing=$(comm -23 <(grep -E '^_Z.*3mgi' <<<"$want") <(echo "$have"))
if [[ -n $missing ]]; then
  echo "FAIL: the module needs core symbols mgi-mpi does not export:"; c++filt <<<"$missing"; status=1
else
  echo "the module's $(grep -cE '^_Z.*3mgi' <<<"$want") core symbols are all exported by mgi-mpi"
fi
exit $status
