// Host-side launchers of the CUDA backend's kernels. Every launcher enqueues
// its work on `stream` and returns without synchronizing; tensors are dense,
// row-major float32 on the device. Empty tensors launch nothing.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "strided.hpp"
#include "tensor.hpp"

namespace mgi::cuda {

// ---- elementwise.cu ----
enum class BinaryOp { add, sub, mul, div, pow };
enum class UnaryOp { relu, leaky_relu, sigmoid, tanh, erf, gelu_erf, gelu_tanh, exp, log, sqrt, neg, abs };

// y = a op b with numpy broadcasting; y has broadcast_shapes(a_shape, b_shape).out.
// y may be a itself when a already has the output shape.
void binary(BinaryOp op, const float* a, const Shape& a_shape, const float* b, const Shape& b_shape,
            float* y, cudaStream_t stream);
// y[i] = f(x[i]); alpha is LeakyRelu's slope. y may be x.
void unary(UnaryOp op, float alpha, const float* x, float* y, int64_t n, cudaStream_t stream);
// A fused chain (graph_fuse.hpp) in one pass: y[i] = f_last(...f_0(x[i])); y may be x.
// steps.size() <= kMaxChain.
constexpr size_t kMaxChain = 9;  // a unary node plus kMaxEpilogue steps
struct ChainStep {
  UnaryOp op;
  float alpha;
};
void unary_chain(const std::vector<ChainStep>& steps, const float* x, float* y, int64_t n, cudaStream_t stream);
// y (y_shape) = x broadcast to y_shape (numpy rules; x must broadcast to y_shape).
void expand(const float* x, const Shape& x_shape, float* y, const Shape& y_shape, cudaStream_t stream);
// y[i] = x[offset_a(i)] for i < st.numel() (see strided.hpp).
void strided_copy(const float* x, const Strided& st, float* y, cudaStream_t stream);

// ---- softmax.cu ----
// x viewed as [outer, n, inner]; (log-)softmax along n, max-subtracted.
void softmax(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, bool log,
             cudaStream_t stream);

// ---- normalization.cu ----
// Inference BatchNormalization over x viewed as [batch, channels, spatial]:
// y = x * a + b, a = scale[c] / sqrt(var[c] + eps), b = bias[c] - mean[c] * a.
void batch_norm(const float* x, float* y, int64_t batch, int64_t channels, int64_t spatial,
                const float* scale, const float* bias, const float* mean, const float* var,
                float epsilon, cudaStream_t stream);
// LayerNormalization of x viewed as [rows, d] over d: y = (x - mean) * inv_std * scale + bias.
// scale holds d values, or one when scale_single; bias likewise or is null.
void layer_norm(const float* x, float* y, int64_t rows, int64_t d, const float* scale,
                bool scale_single, const float* bias, bool bias_single, float epsilon,
                cudaStream_t stream);

// ---- layout.cu ----
// y = x transposed by perm (y dim k = x dim perm[k]); perm is a permutation of 0..rank-1.
void transpose(const float* x, const Shape& x_shape, const std::vector<int64_t>& perm, float* y,
               cudaStream_t stream);

// ---- convert.cu ----
// y[i] = x[i] rounded to nearest even in `type` (CUDA_R_16BF or CUDA_R_16F).
void convert_f32(const float* x, void* y, cudaDataType_t type, int64_t n, cudaStream_t stream);

// ---- gemm.cpp (cuBLAS, bound to the handle's stream) ----
// Operand type and compute type of a GEMM: fp32 (CUBLAS_COMPUTE_32F, no TF32), tf32
// (CUBLAS_COMPUTE_32F_FAST_TF32), or bf16/fp16 operands with fp32 accumulation.
// C/D, alpha, beta and bias are always fp32.
struct GemmTypes {
  cudaDataType_t ab = CUDA_R_32F;
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  size_t ab_bytes() const { return ab == CUDA_R_32F ? 4 : 2; }
};
// Row-major C[m,n] = alpha * op(A) op(B) + beta * C, op(A) [m,k], op(B) [k,n];
// A is stored [m,k] ([k,m] when trans_a), B [k,n] ([n,k] when trans_b), both of type t.ab.
// beta == 0 ignores C.
void gemm(cublasHandle_t handle, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          float alpha, const void* a, const void* b, float beta, float* c, const GemmTypes& t = {});
// ONNX MatMul (numpy matmul): 1-D operands are promoted and the promoted dim dropped,
// leading dims broadcast. y is dense with the broadcast output shape.
void matmul(cublasHandle_t handle, const void* a, const Shape& a_shape, const void* b,
            const Shape& b_shape, float* y, const GemmTypes& t = {});

}  // namespace mgi::cuda
