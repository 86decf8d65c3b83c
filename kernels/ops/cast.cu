// Cast (and CastLike) between every pair of element types, bit for bit as the
// host's convert_elements() (dtype_bits.hpp): float -> integer truncates toward
// zero and saturates (NaN -> 0), -> bool is "!= 0", -> float16/bfloat16 rounds
// to nearest even. The same type is a plain copy.
#include "cuda_check.hpp"
#include "cuda_kernels.hpp"
#include "dtype_bits.hpp"
#include "launch.cuh"
#include "ops.hpp"

namespace mgi::cuda {
namespace {

// The types are uniform across the grid, so the switches inside
// convert_one() never diverge; one kernel serves all 56 pairs.
__global__ void cast_kernel(DType from, const void* x, DType to, void* y, int64_t n) {
  for (int64_t i = global_index(); i < n; i += global_stride()) bits::convert_one(from, x, to, y, i);
}

}  // namespace

void cast(DType from, const void* x, DType to, void* y, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  if (from == to) {
    if (x != y) MGI_CUDA(cudaMemcpyAsync(y, x, static_cast<size_t>(n) * dtype_size(to), cudaMemcpyDeviceToDevice, stream));
    return;
  }
  cast_kernel<<<grid_for(n), kBlock, 0, stream>>>(from, x, to, y, n);
  MGI_CUDA_LAUNCH();
}

namespace {

// The target type is the output's (Cast's `to`, CastLike's second input type).
void cast_node(CudaOpContext& c) {
  cast(c.in[0].dtype, c.in[0].data, c.out[0].dtype, c.out[0].data, c.in[0].numel(), c.stream);
}

}  // namespace

void register_cast_cuda_kernels(CudaKernelRegistry& r) {
  r.add({"", "Cast", cast_node});
  r.add({"", "CastLike", cast_node, 1u << 1});  // the second input gives only its type
}

}  // namespace mgi::cuda
