// Host-side launchers of the CUDA backend's kernels. Every launcher enqueues
// its work on `stream` and returns without synchronizing; tensors are dense and
// row-major on the device, float32 unless a launcher takes a DType or an
// element size. Empty tensors launch nothing. The node-level kernels that call
// them (cuda_kernels.hpp) live in the same family files.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "graph.hpp"
#include "strided.hpp"
#include "tensor.hpp"

namespace mgi::cuda {

// ---- elementwise.cu ----
enum class BinaryOp { add, sub, mul, div, pow };
enum class UnaryOp {
  relu, leaky_relu, sigmoid, tanh, erf, gelu_erf, gelu_tanh, exp, log, sqrt, neg, abs,
  elu, selu, celu, hard_sigmoid, hard_swish, softplus, softsign, mish,
  reciprocal, floor, ceil, round, sign, sin, cos
};
// The kernel op of one unary step (a unary node: unary_step(node); or a fused
// epilogue/chain step): the one place UnaryFn (graph.hpp) maps to UnaryOp.
UnaryOp unary_op(const UnaryStep& s);

// y = a op b with numpy broadcasting; y has broadcast_shapes(a_shape, b_shape).out.
// y may be a itself when a already has the output shape.
void binary(BinaryOp op, const float* a, const Shape& a_shape, const float* b, const Shape& b_shape,
            float* y, cudaStream_t stream);
// y[i] = f(x[i]); alpha is LeakyRelu's slope (Elu/Selu/Celu/HardSigmoid alpha), beta
// HardSigmoid's beta (Selu's gamma), as UnaryStep carries them. y may be x.
void unary(UnaryOp op, float alpha, float beta, const float* x, float* y, int64_t n, cudaStream_t stream);
// A fused chain (graph_fuse.hpp) in one pass: y[i] = f_last(...f_0(x[i])); y may be x.
// steps.size() <= kMaxChain.
constexpr size_t kMaxChain = 9;  // a unary node plus kMaxEpilogue steps
struct ChainStep {
  UnaryOp op;
  float alpha;
  float beta;
};
void unary_chain(const std::vector<ChainStep>& steps, const float* x, float* y, int64_t n, cudaStream_t stream);
// Integer Add/Sub/Mul/Div (int32 or int64, `t`), as the CPU backend: wrapping
// arithmetic, division truncating toward zero with x / 0 == 0 and MIN / -1 == MIN.
void binary_int(BinaryOp op, DType t, const void* a, const Shape& a_shape, const void* b, const Shape& b_shape,
                void* y, cudaStream_t stream);
// Integer Neg / Abs (wrapping: -MIN == MIN).
void neg_abs_int(bool abs, DType t, const void* x, void* y, int64_t n, cudaStream_t stream);
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

// ---- layout.cu (any element type: elem_size 1, 2, 4 or 8 bytes) ----
// y[i] = x[offset_a(i)] for i < st.numel() (see strided.hpp).
void strided_gather(const void* x, const Strided& st, void* y, size_t elem_size, cudaStream_t stream);
// y = x transposed by perm (y dim k = x dim perm[k]); perm is a permutation of 0..rank-1.
void transpose(const void* x, const Shape& x_shape, const std::vector<int64_t>& perm, void* y, size_t elem_size,
               cudaStream_t stream);
// One Concat input: x viewed as [outer, x_cols] goes to columns [col, col + x_cols) of y [outer, y_cols].
void concat_part(const void* x, int64_t outer, int64_t x_cols, void* y, int64_t y_cols, int64_t col,
                 size_t elem_size, cudaStream_t stream);

// ---- index.cu ----
// Gather: y[o, j, i] = x[o, idx[j], i], x viewed as [outer, axis_dim, inner],
// idx (int32 or int64: idx_type) holding `count` indices in [-axis_dim, axis_dim)
// (negative ones count from the end). An index out of range writes zeros and
// sets *error_flag = error_code (first error wins), checked after the batch.
void gather(const void* x, int64_t outer, int64_t axis_dim, int64_t inner, const void* idx, DType idx_type,
            int64_t count, void* y, size_t elem_size, int* error_flag, int error_code, cudaStream_t stream);

// ---- logic.cu ----
// y (bool) = a == b with numpy broadcasting; a and b of type t (floats compare as values).
void equal(DType t, const void* a, const Shape& a_shape, const void* b, const Shape& b_shape, void* y,
           cudaStream_t stream);
// y (y_shape) = cond ? x : y_false, all three broadcast to y_shape; cond is bool.
void where(const void* cond, const Shape& c_shape, const void* x, const Shape& x_shape, const void* y_false,
           const Shape& f_shape, void* y, const Shape& y_shape, size_t elem_size, cudaStream_t stream);

// ---- cast.cu ----
// y = x converted from `from` to `to` with convert_elements()' semantics (dtype.hpp).
void cast(DType from, const void* x, DType to, void* y, int64_t n, cudaStream_t stream);

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
