// The CUDA backend's path for an op it has no kernel for: the node runs on the
// host through the op's registered CPU kernel (the reference), between device
// copies of its inputs and of its output. Correct for every registered op;
// slow (the compute stream waits for the copies, and the kernel runs on one
// host thread), so the plan names such nodes and CUDA graphs stay off while
// any exists (a host step cannot be captured). onnxruntime's CPU fallback
// with memcpy nodes is the same idea.
#include <cstring>

#include "cuda_check.hpp"
#include "cuda_kernels.hpp"
#include "op_registry.hpp"

namespace mgi::cuda {

namespace {

void run_on_host(CudaOpContext& c) {
  MGI_CUDA(cudaStreamSynchronize(c.stream));  // the inputs are computed
  std::vector<std::vector<uint64_t>> stage(c.in.size() + c.out.size());
  auto staging = [&](size_t slot, size_t bytes) {
    stage[slot].assign((bytes + 7) / 8, 0);
    return static_cast<void*>(stage[slot].data());
  };
  const cpu::ExecOptions opt;
  KernelArgs args{c.node, {}, {}, opt};
  for (size_t q = 0; q < c.in.size(); ++q) {
    const CudaTensor& t = c.in[q];
    if (!t.present()) {
      args.in.push_back(In{});
      continue;
    }
    const void* p = t.host ? t.host->raw() : nullptr;
    if (!p) {
      const size_t bytes = static_cast<size_t>(t.numel()) * t.elem_size();
      void* h = staging(q, bytes);
      if (bytes) MGI_CUDA(cudaMemcpy(h, t.data, bytes, cudaMemcpyDeviceToHost));
      p = h;
    }
    args.in.push_back(In{t.dtype, t.shape, p});
  }
  for (size_t q = 0; q < c.out.size(); ++q) {
    const CudaTensor& t = c.out[q];
    if (!t.present()) {
      args.out.push_back(Out{});
      continue;
    }
    args.out.push_back(Out{t.dtype, t.shape, staging(c.in.size() + q, static_cast<size_t>(t.numel()) * t.elem_size())});
  }
  c.node.def->cpu(args);
  // Only output 0 lives on the device (the backend refuses nodes whose other outputs are used).
  const CudaTensor& y = c.out.at(0);
  const size_t bytes = static_cast<size_t>(y.numel()) * y.elem_size();
  if (bytes) MGI_CUDA(cudaMemcpy(y.data, args.out[0].data, bytes, cudaMemcpyHostToDevice));
}

}  // namespace

const CudaKernelDef& host_fallback_kernel() {
  static const CudaKernelDef k{"", "(host)", run_on_host, 0};
  return k;
}

}  // namespace mgi::cuda
