// Gemm and MatMul through cublasGemmEx: the path for GEMMs cuBLASLt does not
// take (gemm_engine.cpp). Precision comes in GemmTypes; with fp32
// (CUBLAS_COMPUTE_32F: no TF32) results stay within fp32 rounding of the CPU
// backend. cuBLAS is
// column-major; a row-major [r, c] matrix is its column-major transpose, so
// row-major C = A B is computed as column-major C^T = B^T A^T.
#include "cuda_check.hpp"
#include "gemm_plan.hpp"
#include "ops.hpp"

namespace mgi::cuda {

namespace {
constexpr cublasOperation_t op_of(bool t) { return t ? CUBLAS_OP_T : CUBLAS_OP_N; }
// Leading dims must be >= 1 even when a dim is 0.
constexpr int64_t ld(int64_t v) { return v > 0 ? v : 1; }
}  // namespace

void gemm(cublasHandle_t handle, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
          const void* a, const void* b, float beta, float* c, const GemmTypes& t) {
  if (m == 0 || n == 0) return;
  MGI_CUBLAS(cublasGemmEx_64(handle, op_of(trans_b), op_of(trans_a), n, m, k, &alpha, b, t.ab,
                             ld(trans_b ? k : n), a, t.ab, ld(trans_a ? m : k), &beta, c, CUDA_R_32F,
                             ld(n), t.compute, CUBLAS_GEMM_DEFAULT));
}

void matmul(cublasHandle_t handle, const void* a_ptr, const Shape& a_shape, const void* b_ptr,
            const Shape& b_shape, float* y, const GemmTypes& t) {
  const MatmulPlan p = plan_matmul(a_shape, b_shape);
  if (p.zero_fill) {
    cudaStream_t s = nullptr;
    MGI_CUBLAS(cublasGetStream(handle, &s));
    MGI_CUDA(cudaMemsetAsync(y, 0, static_cast<size_t>(p.y_numel) * sizeof(float), s));
    return;
  }
  const char* a = static_cast<const char*>(a_ptr);
  const char* b = static_cast<const char*>(b_ptr);
  const int64_t e = static_cast<int64_t>(t.ab_bytes());
  const float one = 1.0f, zero = 0.0f;
  for (const GemmCall& c : p.calls) {
    if (c.count == 1) {
      gemm(handle, false, false, p.m, p.n, p.k, 1.0f, a + c.a_offset * e, b + c.b_offset * e, 0.0f,
           y + c.y_offset, t);
      continue;
    }
    MGI_CUBLAS(cublasGemmStridedBatchedEx_64(handle, CUBLAS_OP_N, CUBLAS_OP_N, p.n, p.m, p.k, &one,
                                             b + c.b_offset * e, t.ab, p.n, c.stride_b, a + c.a_offset * e, t.ab,
                                             p.k, c.stride_a, &zero, y + c.y_offset, CUDA_R_32F, p.n, c.stride_y,
                                             c.count, t.compute, CUBLAS_GEMM_DEFAULT));
  }
}

}  // namespace mgi::cuda
