// Elementwise kernels: numpy-broadcast binary ops, unary activations, and
// strided copies (expand, transpose).
#include <cmath>

#include "cuda_check.hpp"
#include "launch.cuh"
#include "ops.hpp"
#include "strided.hpp"

namespace mgi::cuda {
namespace {

struct AddF { __device__ float operator()(float a, float b) const { return a + b; } };
struct SubF { __device__ float operator()(float a, float b) const { return a - b; } };
struct MulF { __device__ float operator()(float a, float b) const { return a * b; } };
struct DivF { __device__ float operator()(float a, float b) const { return a / b; } };
struct PowF {  // x^2 (common in exported norms) as x * x, exactly like the CPU backend
  __device__ float operator()(float a, float b) const { return b == 2.0f ? a * a : powf(a, b); }
};
struct FirstF { __device__ float operator()(float a, float) const { return a; } };

// Rank 1: strides are 0 (broadcast scalar) or 1.
template <class F>
__global__ void binary_flat(const float* a, int64_t sa, const float* b,
                            int64_t sb, float* y, int64_t n, F f) {
  for (int64_t i = global_index(); i < n; i += global_stride()) y[i] = f(a[i * sa], b[i * sb]);
}

// Rank R known at compile time (R = 0: the rank is read from st at run time).
template <class F, int R>
__global__ void binary_strided(const float* a, const float* b, float* y, int64_t n, Strided st, F f) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    int64_t oa, ob;
    strided_offsets<R>(st, i, oa, ob);
    y[i] = f(a[oa], b[ob]);
  }
}

template <class F>
void launch_binary(const float* a, const float* b, float* y, const Strided& st, cudaStream_t s, F f) {
  const int64_t n = st.numel();
  if (n == 0) return;
  const unsigned grid = grid_for(n);
  switch (st.rank) {
    case 1: binary_flat<<<grid, kBlock, 0, s>>>(a, st.sa[0], b, st.sb[0], y, n, f); break;
    case 2: binary_strided<F, 2><<<grid, kBlock, 0, s>>>(a, b, y, n, st, f); break;
    case 3: binary_strided<F, 3><<<grid, kBlock, 0, s>>>(a, b, y, n, st, f); break;
    default: binary_strided<F, 0><<<grid, kBlock, 0, s>>>(a, b, y, n, st, f); break;
  }
  MGI_CUDA_LAUNCH();
}

template <class F>
__global__ void unary_kernel(const float* x, float* y, int64_t n, F f) {
  for (int64_t i = global_index(); i < n; i += global_stride()) y[i] = f(x[i]);
}

struct ReluF { __device__ float operator()(float x) const { return x > 0.0f ? x : 0.0f; } };
struct LeakyReluF {
  float alpha;
  __device__ float operator()(float x) const { return x >= 0.0f ? x : alpha * x; }
};
struct SigmoidF { __device__ float operator()(float x) const { return 1.0f / (1.0f + expf(-x)); } };
struct TanhF { __device__ float operator()(float x) const { return tanhf(x); } };
struct ErfF { __device__ float operator()(float x) const { return erff(x); } };
struct GeluErfF {
  __device__ float operator()(float x) const { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
};
struct GeluTanhF {
  __device__ float operator()(float x) const {
    return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
  }
};
struct ExpF { __device__ float operator()(float x) const { return expf(x); } };
struct LogF { __device__ float operator()(float x) const { return logf(x); } };
struct SqrtF { __device__ float operator()(float x) const { return sqrtf(x); } };
struct NegF { __device__ float operator()(float x) const { return -x; } };
struct AbsF { __device__ float operator()(float x) const { return fabsf(x); } };

template <class F>
void launch_unary(const float* x, float* y, int64_t n, cudaStream_t s, F f) {
  unary_kernel<<<grid_for(n), kBlock, 0, s>>>(x, y, n, f);
  MGI_CUDA_LAUNCH();
}

// A fused chain, passed by value; the same functors as the single ops, so a
// chain rounds exactly like its ops one after another.
struct Chain {
  int count;
  UnaryOp op[kMaxChain];
  float alpha[kMaxChain];
};

__device__ float apply_op(UnaryOp op, float alpha, float v) {
  switch (op) {
    case UnaryOp::relu: return ReluF{}(v);
    case UnaryOp::leaky_relu: return LeakyReluF{alpha}(v);
    case UnaryOp::sigmoid: return SigmoidF{}(v);
    case UnaryOp::tanh: return TanhF{}(v);
    case UnaryOp::erf: return ErfF{}(v);
    case UnaryOp::gelu_erf: return GeluErfF{}(v);
    case UnaryOp::gelu_tanh: return GeluTanhF{}(v);
    case UnaryOp::exp: return ExpF{}(v);
    case UnaryOp::log: return LogF{}(v);
    case UnaryOp::sqrt: return SqrtF{}(v);
    case UnaryOp::neg: return NegF{}(v);
    case UnaryOp::abs: return AbsF{}(v);
  }
  return v;
}

__global__ void chain_kernel(const float* x, float* y, int64_t n, Chain c) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    float v = x[i];
    for (int k = 0; k < c.count; ++k) v = apply_op(c.op[k], c.alpha[k], v);
    y[i] = v;
  }
}

}  // namespace

void unary_chain(const std::vector<ChainStep>& steps, const float* x, float* y, int64_t n, cudaStream_t stream) {
  MGI_ASSERT(!steps.empty() && steps.size() <= kMaxChain, "unary_chain: 1.." + std::to_string(kMaxChain) + " steps");
  if (steps.size() == 1) return unary(steps[0].op, steps[0].alpha, x, y, n, stream);
  if (n == 0) return;
  Chain c{};
  c.count = static_cast<int>(steps.size());
  for (size_t k = 0; k < steps.size(); ++k) {
    c.op[k] = steps[k].op;
    c.alpha[k] = steps[k].alpha;
  }
  chain_kernel<<<grid_for(n), kBlock, 0, stream>>>(x, y, n, c);
  MGI_CUDA_LAUNCH();
}

void binary(BinaryOp op, const float* a, const Shape& a_shape, const float* b, const Shape& b_shape,
            float* y, cudaStream_t stream) {
  const Strided st = binary_strides(a_shape, b_shape);
  switch (op) {
    case BinaryOp::add: return launch_binary(a, b, y, st, stream, AddF{});
    case BinaryOp::sub: return launch_binary(a, b, y, st, stream, SubF{});
    case BinaryOp::mul: return launch_binary(a, b, y, st, stream, MulF{});
    case BinaryOp::div: return launch_binary(a, b, y, st, stream, DivF{});
    case BinaryOp::pow: return launch_binary(a, b, y, st, stream, PowF{});
  }
}

void expand(const float* x, const Shape& x_shape, float* y, const Shape& y_shape, cudaStream_t stream) {
  strided_copy(x, expand_strides(x_shape, y_shape), y, stream);
}

void strided_copy(const float* x, const Strided& st, float* y, cudaStream_t stream) {
  launch_binary(x, x, y, st, stream, FirstF{});
}

void unary(UnaryOp op, float alpha, const float* x, float* y, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  switch (op) {
    case UnaryOp::relu: return launch_unary(x, y, n, stream, ReluF{});
    case UnaryOp::leaky_relu: return launch_unary(x, y, n, stream, LeakyReluF{alpha});
    case UnaryOp::sigmoid: return launch_unary(x, y, n, stream, SigmoidF{});
    case UnaryOp::tanh: return launch_unary(x, y, n, stream, TanhF{});
    case UnaryOp::erf: return launch_unary(x, y, n, stream, ErfF{});
    case UnaryOp::gelu_erf: return launch_unary(x, y, n, stream, GeluErfF{});
    case UnaryOp::gelu_tanh: return launch_unary(x, y, n, stream, GeluTanhF{});
    case UnaryOp::exp: return launch_unary(x, y, n, stream, ExpF{});
    case UnaryOp::log: return launch_unary(x, y, n, stream, LogF{});
    case UnaryOp::sqrt: return launch_unary(x, y, n, stream, SqrtF{});
    case UnaryOp::neg: return launch_unary(x, y, n, stream, NegF{});
    case UnaryOp::abs: return launch_unary(x, y, n, stream, AbsF{});
  }
}

}  // namespace mgi::cuda
