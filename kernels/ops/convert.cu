// fp32 -> bf16 / fp16 for the GEMM operands of runtime.precision bf16|fp16:
// weights once in prepare(), activations before each GEMM. Round to nearest
// even; fp16 saturates to inf beyond 65504 (documented in docs/PERFORMANCE.md).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda_check.hpp"
#include "launch.cuh"
#include "ops.hpp"

namespace mgi::cuda {
namespace {

template <class T, class Cvt>
__global__ void convert_kernel(const float* x, T* y, int64_t n, Cvt cvt) {
  for (int64_t i = global_index(); i < n; i += global_stride()) y[i] = cvt(x[i]);
}

struct ToBf16 { __device__ __nv_bfloat16 operator()(float v) const { return __float2bfloat16_rn(v); } };
struct ToHalf { __device__ __half operator()(float v) const { return __float2half_rn(v); } };

}  // namespace

void convert_f32(const float* x, void* y, cudaDataType_t type, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  if (type == CUDA_R_16BF)
    convert_kernel<<<grid_for(n), kBlock, 0, stream>>>(x, static_cast<__nv_bfloat16*>(y), n, ToBf16{});
  else if (type == CUDA_R_16F)
    convert_kernel<<<grid_for(n), kBlock, 0, stream>>>(x, static_cast<__half*>(y), n, ToHalf{});
  else
    MGI_ASSERT(false, "convert_f32: unsupported target type");
  MGI_CUDA_LAUNCH();
}

}  // namespace mgi::cuda
