// Elementwise kernels: numpy-broadcast binary ops (float32; Add/Sub/Mul/Div
// also int32/int64) and PRelu, unary activations (Neg/Abs also int32/int64), fused unary
// chains, and the float strided copy the GEMM engine expands biases with; and
// the node-level kernels of these ops (cuda_kernels.hpp).
#include <cmath>
#include <type_traits>

#include "cuda_check.hpp"
#include "cuda_kernels.hpp"
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
struct PReluF {  // a = x, b = its slope
  __device__ float operator()(float a, float b) const { return a < 0.0f ? b * a : a; }
};

// Integers as the CPU backend (src/ops/binary.cpp): wrap on overflow through
// the unsigned type; division truncates, x / 0 == 0, MIN / -1 == MIN.
template <class T>
struct IntOps {
  using U = std::make_unsigned_t<T>;
  struct Add { __device__ T operator()(T a, T b) const { return static_cast<T>(static_cast<U>(a) + static_cast<U>(b)); } };
  struct Sub { __device__ T operator()(T a, T b) const { return static_cast<T>(static_cast<U>(a) - static_cast<U>(b)); } };
  struct Mul { __device__ T operator()(T a, T b) const { return static_cast<T>(static_cast<U>(a) * static_cast<U>(b)); } };
  struct Div {
    __device__ T operator()(T a, T b) const {
      if (b == 0) return T{0};
      if (b == -1) return static_cast<T>(U{0} - static_cast<U>(a));
      return static_cast<T>(a / b);
    }
  };
};

// Rank 1: strides are 0 (broadcast scalar) or 1.
template <class T, class F>
__global__ void binary_flat(const T* a, int64_t sa, const T* b, int64_t sb, T* y, int64_t n, F f) {
  for (int64_t i = global_index(); i < n; i += global_stride()) y[i] = f(a[i * sa], b[i * sb]);
}

// Rank R known at compile time (R = 0: the rank is read from st at run time).
template <class T, class F, int R>
__global__ void binary_strided(const T* a, const T* b, T* y, int64_t n, Strided st, F f) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    int64_t oa, ob;
    strided_offsets<R>(st, i, oa, ob);
    y[i] = f(a[oa], b[ob]);
  }
}

template <class T, class F>
void launch_binary(const T* a, const T* b, T* y, const Strided& st, cudaStream_t s, F f) {
  const int64_t n = st.numel();
  if (n == 0) return;
  const unsigned grid = grid_for(n);
  switch (st.rank) {
    case 1: binary_flat<<<grid, kBlock, 0, s>>>(a, st.sa[0], b, st.sb[0], y, n, f); break;
    case 2: binary_strided<T, F, 2><<<grid, kBlock, 0, s>>>(a, b, y, n, st, f); break;
    case 3: binary_strided<T, F, 3><<<grid, kBlock, 0, s>>>(a, b, y, n, st, f); break;
    default: binary_strided<T, F, 0><<<grid, kBlock, 0, s>>>(a, b, y, n, st, f); break;
  }
  MGI_CUDA_LAUNCH();
}

template <class T>
void launch_binary_int(BinaryOp op, const T* a, const T* b, T* y, const Strided& st, cudaStream_t s) {
  using O = IntOps<T>;
  switch (op) {
    case BinaryOp::add: return launch_binary(a, b, y, st, s, typename O::Add{});
    case BinaryOp::sub: return launch_binary(a, b, y, st, s, typename O::Sub{});
    case BinaryOp::mul: return launch_binary(a, b, y, st, s, typename O::Mul{});
    case BinaryOp::div: return launch_binary(a, b, y, st, s, typename O::Div{});
    case BinaryOp::pow: break;
  }
  MGI_ASSERT(false, "CUDA binary: Pow takes float32 only");
}

template <class T>
__global__ void neg_abs_kernel(const T* x, T* y, int64_t n, bool abs) {
  using U = std::make_unsigned_t<T>;
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    const T v = x[i];
    y[i] = abs && v >= 0 ? v : static_cast<T>(U{0} - static_cast<U>(v));
  }
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
// The activations as the CPU backend writes them (src/ops/unary.cpp).
struct EluF {
  float alpha;
  __device__ float operator()(float x) const { return x < 0.0f ? alpha * expm1f(x) : x; }
};
struct SeluF {
  float alpha, gamma;
  __device__ float operator()(float x) const { return x > 0.0f ? gamma * x : gamma * (alpha * expm1f(x)); }
};
struct CeluF {
  float alpha;
  __device__ float operator()(float x) const { return x > 0.0f ? x : alpha * expm1f(x / alpha); }
};
struct HardSigmoidF {
  float alpha, beta;
  __device__ float operator()(float x) const {
    const float t = __fadd_rn(__fmul_rn(alpha, x), beta);  // no FMA contraction: as the CPU rounds
    return t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
  }
};
struct HardSwishF {
  __device__ float operator()(float x) const { return __fmul_rn(x, HardSigmoidF{1.0f / 6.0f, 0.5f}(x)); }
};
struct SoftplusF {
  __device__ float operator()(float x) const { return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x)); }
};
struct SoftsignF { __device__ float operator()(float x) const { return x / (1.0f + fabsf(x)); } };
struct MishF { __device__ float operator()(float x) const { return x * tanhf(SoftplusF{}(x)); } };
struct ReciprocalF { __device__ float operator()(float x) const { return 1.0f / x; } };
struct FloorF { __device__ float operator()(float x) const { return floorf(x); } };
struct CeilF { __device__ float operator()(float x) const { return ceilf(x); } };
struct RoundF { __device__ float operator()(float x) const { return rintf(x); } };  // halves to even
struct SignF { __device__ float operator()(float x) const { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x); } };
struct SinF { __device__ float operator()(float x) const { return sinf(x); } };
struct CosF { __device__ float operator()(float x) const { return cosf(x); } };

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
  float beta[kMaxChain];
};

__device__ float apply_op(UnaryOp op, float alpha, float beta, float v) {
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
    case UnaryOp::elu: return EluF{alpha}(v);
    case UnaryOp::selu: return SeluF{alpha, beta}(v);
    case UnaryOp::celu: return CeluF{alpha}(v);
    case UnaryOp::hard_sigmoid: return HardSigmoidF{alpha, beta}(v);
    case UnaryOp::hard_swish: return HardSwishF{}(v);
    case UnaryOp::softplus: return SoftplusF{}(v);
    case UnaryOp::softsign: return SoftsignF{}(v);
    case UnaryOp::mish: return MishF{}(v);
    case UnaryOp::reciprocal: return ReciprocalF{}(v);
    case UnaryOp::floor: return FloorF{}(v);
    case UnaryOp::ceil: return CeilF{}(v);
    case UnaryOp::round: return RoundF{}(v);
    case UnaryOp::sign: return SignF{}(v);
    case UnaryOp::sin: return SinF{}(v);
    case UnaryOp::cos: return CosF{}(v);
  }
  return v;
}

__global__ void chain_kernel(const float* x, float* y, int64_t n, Chain c) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    float v = x[i];
    for (int k = 0; k < c.count; ++k) v = apply_op(c.op[k], c.alpha[k], c.beta[k], v);
    y[i] = v;
  }
}

}  // namespace

void unary_chain(const std::vector<ChainStep>& steps, const float* x, float* y, int64_t n, cudaStream_t stream) {
  MGI_ASSERT(!steps.empty() && steps.size() <= kMaxChain, "unary_chain: 1.." + std::to_string(kMaxChain) + " steps");
  if (steps.size() == 1) return unary(steps[0].op, steps[0].alpha, steps[0].beta, x, y, n, stream);
  if (n == 0) return;
  Chain c{};
  c.count = static_cast<int>(steps.size());
  for (size_t k = 0; k < steps.size(); ++k) {
    c.op[k] = steps[k].op;
    c.alpha[k] = steps[k].alpha;
    c.beta[k] = steps[k].beta;
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

void unary(UnaryOp op, float alpha, float beta, const float* x, float* y, int64_t n, cudaStream_t stream) {
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
    case UnaryOp::elu: return launch_unary(x, y, n, stream, EluF{alpha});
    case UnaryOp::selu: return launch_unary(x, y, n, stream, SeluF{alpha, beta});
    case UnaryOp::celu: return launch_unary(x, y, n, stream, CeluF{alpha});
    case UnaryOp::hard_sigmoid: return launch_unary(x, y, n, stream, HardSigmoidF{alpha, beta});
    case UnaryOp::hard_swish: return launch_unary(x, y, n, stream, HardSwishF{});
    case UnaryOp::softplus: return launch_unary(x, y, n, stream, SoftplusF{});
    case UnaryOp::softsign: return launch_unary(x, y, n, stream, SoftsignF{});
    case UnaryOp::mish: return launch_unary(x, y, n, stream, MishF{});
    case UnaryOp::reciprocal: return launch_unary(x, y, n, stream, ReciprocalF{});
    case UnaryOp::floor: return launch_unary(x, y, n, stream, FloorF{});
    case UnaryOp::ceil: return launch_unary(x, y, n, stream, CeilF{});
    case UnaryOp::round: return launch_unary(x, y, n, stream, RoundF{});
    case UnaryOp::sign: return launch_unary(x, y, n, stream, SignF{});
    case UnaryOp::sin: return launch_unary(x, y, n, stream, SinF{});
    case UnaryOp::cos: return launch_unary(x, y, n, stream, CosF{});
  }
}

void binary_int(BinaryOp op, DType t, const void* a, const Shape& a_shape, const void* b, const Shape& b_shape,
                void* y, cudaStream_t stream) {
  const Strided st = binary_strides(a_shape, b_shape);
  if (t == DType::i64)
    return launch_binary_int(op, static_cast<const int64_t*>(a), static_cast<const int64_t*>(b),
                             static_cast<int64_t*>(y), st, stream);
  MGI_ASSERT(t == DType::i32, "CUDA binary: integer type must be int32 or int64");
  launch_binary_int(op, static_cast<const int32_t*>(a), static_cast<const int32_t*>(b), static_cast<int32_t*>(y),
                    st, stream);
}

void neg_abs_int(bool abs, DType t, const void* x, void* y, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  if (t == DType::i64)
    neg_abs_kernel<<<grid_for(n), kBlock, 0, stream>>>(static_cast<const int64_t*>(x), static_cast<int64_t*>(y), n,
                                                       abs);
  else
    neg_abs_kernel<<<grid_for(n), kBlock, 0, stream>>>(static_cast<const int32_t*>(x), static_cast<int32_t*>(y), n,
                                                       abs);
  MGI_CUDA_LAUNCH();
}

UnaryOp unary_op(const UnaryStep& s) {
  switch (s.fn) {
    case UnaryFn::relu: return UnaryOp::relu;
    case UnaryFn::leaky_relu: return UnaryOp::leaky_relu;
    case UnaryFn::sigmoid: return UnaryOp::sigmoid;
    case UnaryFn::tanh: return UnaryOp::tanh;
    case UnaryFn::erf: return UnaryOp::erf;
    case UnaryFn::gelu: return s.gelu_tanh ? UnaryOp::gelu_tanh : UnaryOp::gelu_erf;
    case UnaryFn::exp: return UnaryOp::exp;
    case UnaryFn::log: return UnaryOp::log;
    case UnaryFn::sqrt: return UnaryOp::sqrt;
    case UnaryFn::neg: return UnaryOp::neg;
    case UnaryFn::abs: return UnaryOp::abs;
    case UnaryFn::elu: return UnaryOp::elu;
    case UnaryFn::selu: return UnaryOp::selu;
    case UnaryFn::celu: return UnaryOp::celu;
    case UnaryFn::hard_sigmoid: return UnaryOp::hard_sigmoid;
    case UnaryFn::hard_swish: return UnaryOp::hard_swish;
    case UnaryFn::softplus: return UnaryOp::softplus;
    case UnaryFn::softsign: return UnaryOp::softsign;
    case UnaryFn::mish: return UnaryOp::mish;
    case UnaryFn::reciprocal: return UnaryOp::reciprocal;
    case UnaryFn::floor: return UnaryOp::floor;
    case UnaryFn::ceil: return UnaryOp::ceil;
    case UnaryFn::round: return UnaryOp::round;
    case UnaryFn::sign: return UnaryOp::sign;
    case UnaryFn::sin: return UnaryOp::sin;
    case UnaryFn::cos: return UnaryOp::cos;
  }
  MGI_ASSERT(false, "unary_op: unknown UnaryFn " + std::to_string(static_cast<int>(s.fn)));
  return UnaryOp::relu;
}

namespace {

// ---- node-level kernels ----

template <BinaryOp Op>
void binary_node(CudaOpContext& c) {
  const CudaTensor &a = c.in[0], &b = c.in[1], &y = c.out[0];
  if (a.dtype != b.dtype) c.fail("inputs of different types");
  if (a.dtype == DType::f32)
    return binary(Op, a.as<const float>(), *a.shape, b.as<const float>(), *b.shape, y.as<float>(), c.stream);
  if (Op == BinaryOp::pow) c.want(0, {DType::f32});
  c.want(0, {DType::f32, DType::i64, DType::i32});
  binary_int(Op, a.dtype, a.data, *a.shape, b.data, *b.shape, y.data, c.stream);
}

// PRelu: the slope broadcasts to X (the inference checked it).
void prelu_node(CudaOpContext& c) {
  c.want(0, {DType::f32});
  c.want(1, {DType::f32});
  const CudaTensor &x = c.in[0], &s = c.in[1], &y = c.out[0];
  launch_binary(x.as<const float>(), s.as<const float>(), y.as<float>(), binary_strides(*x.shape, *s.shape), c.stream,
                PReluF{});
}

// A unary node, with the chain fused after it (graph_fuse.hpp) if any.
void unary_node(CudaOpContext& c) {
  const Node& n = c.node;
  const CudaTensor &x = c.in[0], &y = c.out[0];
  const int64_t count = y.numel();
  if (x.dtype != DType::f32) {  // Neg / Abs on integers (never fused)
    c.want(0, {DType::i64, DType::i32});
    if (!(n.unary == UnaryFn::neg || n.unary == UnaryFn::abs) || !n.epilogue.empty())
      c.fail(std::string("no integer kernel for this op on ") + dtype_name(x.dtype));
    return neg_abs_int(n.unary == UnaryFn::abs, x.dtype, x.data, y.data, count, c.stream);
  }
  const UnaryOp first = unary_op(unary_step(n));
  const UnaryStep own = unary_step(n);
  if (n.epilogue.empty())
    return unary(first, own.alpha, own.beta, x.as<const float>(), y.as<float>(), count, c.stream);
  std::vector<ChainStep> steps = {{first, own.alpha, own.beta}};
  for (const UnaryStep& st : n.epilogue) steps.push_back({unary_op(st), st.alpha, st.beta});
  unary_chain(steps, x.as<const float>(), y.as<float>(), count, c.stream);
}

}  // namespace

void register_elementwise_cuda_kernels(CudaKernelRegistry& r) {
  r.add({"", "Add", binary_node<BinaryOp::add>});
  r.add({"", "Sub", binary_node<BinaryOp::sub>});
  r.add({"", "Mul", binary_node<BinaryOp::mul>});
  r.add({"", "Div", binary_node<BinaryOp::div>});
  r.add({"", "Pow", binary_node<BinaryOp::pow>});
  r.add({"", "PRelu", prelu_node});
  for (const char* name : {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Erf", "Gelu", "Exp", "Log", "Sqrt", "Neg", "Abs",
                           "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Mish",
                           "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos"})
    r.add({"", name, unary_node});
  r.add({"com.microsoft", "Gelu", unary_node});
}

}  // namespace mgi::cuda
