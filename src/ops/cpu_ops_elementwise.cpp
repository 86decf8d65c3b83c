// Elementwise ops. Each output element depends on its inputs only, so OpenMP
// over elements keeps results bitwise independent of threads and batch size.
#include <algorithm>
#include <cmath>

#include "broadcast.hpp"
#include "cpu_ops.hpp"
#include "error.hpp"

namespace mgi::cpu {

namespace {

constexpr int64_t kParallelMin = 16384;  // below this, threads cost more than they save

template <class F>
void each(int64_t count, const float* x, float* y, F f) {
  for (int64_t i = 0; i < count; ++i) y[i] = f(x[i]);
}

// tanh as a rational approximation in x^2 (degree 13/6), the form vectorizing
// math libraries use: libm's tanhf is a scalar call and took half the time of
// the shipped ragged model. Within 4.2e-7 relative error of tanh over all floats
// (libm: 1.7e-7); NaN stays NaN, +-inf gives +-1. Plain float ops with no
// branches, so the loop vectorizes and every element gets the same bits
// whichever lane or remainder loop computes it.
float tanh_rational(float x) {
  constexpr float kClamp = 7.90531110763549805f;  // beyond it the result rounds to +-1
  const float c = x > kClamp ? kClamp : (x < -kClamp ? -kClamp : x);
  const float x2 = c * c;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 - 8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * c;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  const float r = p / q;
  return std::fabs(x) < 0.0004f ? x : r;  // tiny x: tanh(x) == x in float
}

float gelu_exact(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }
float gelu_tanh(float x) {
  return 0.5f * x * (1.0f + std::tanh(0.79788456080286536f * (x + 0.044715f * x * x * x)));
}

template <class F>
void map2(const Shape& as, const float* a, const Shape& bs, const float* b, const Shape& os, float* out,
          int threads, F f) {
  const int64_t total = shape_numel(os);
  if (as == bs) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && total > kParallelMin)
    for (int64_t i = 0; i < total; ++i) out[i] = f(a[i], b[i]);
    return;
  }
  const int64_t na = shape_numel(as), nb = shape_numel(bs);
  if (nb == 1) {
    const float bv = b[0];
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && total > kParallelMin)
    for (int64_t i = 0; i < total; ++i) out[i] = f(a[i], bv);
    return;
  }
  if (na == 1) {
    const float av = a[0];
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && total > kParallelMin)
    for (int64_t i = 0; i < total; ++i) out[i] = f(av, b[i]);
    return;
  }
  // General case: loop over the last output dim with strides, outer index decoded per row.
  const Broadcast bc = broadcast_shapes(as, bs);
  const size_t rank = bc.out.size();
  const int64_t inner = rank ? bc.out[rank - 1] : 1;
  if (inner == 0 || total == 0) return;
  const int64_t rows = total / inner;
  const int64_t sa = rank ? bc.a_strides[rank - 1] : 0, sb = rank ? bc.b_strides[rank - 1] : 0;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && total > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, ao = 0, bo = 0;
    for (size_t q = rank - 1; q-- > 0;) {
      const int64_t idx = rem % bc.out[q];
      rem /= bc.out[q];
      ao += idx * bc.a_strides[q];
      bo += idx * bc.b_strides[q];
    }
    const float* pa = a + ao;
    const float* pb = b + bo;
    float* po = out + r * inner;
    for (int64_t j = 0; j < inner; ++j) po[j] = f(pa[j * sa], pb[j * sb]);
  }
}

}  // namespace

void apply_unary(const UnaryStep& s, const float* x, float* y, int64_t count) {
  switch (s.op) {
    case OpKind::Relu: return each(count, x, y, [](float v) { return v > 0.0f ? v : 0.0f; });
    case OpKind::LeakyRelu: {
      const float al = s.alpha;
      return each(count, x, y, [al](float v) { return v >= 0.0f ? v : al * v; });
    }
    case OpKind::Sigmoid: return each(count, x, y, [](float v) { return 1.0f / (1.0f + std::exp(-v)); });
    case OpKind::Tanh: return each(count, x, y, tanh_rational);
    case OpKind::Erf: return each(count, x, y, [](float v) { return std::erf(v); });
    case OpKind::Gelu:
      if (s.gelu_tanh) return each(count, x, y, gelu_tanh);
      return each(count, x, y, gelu_exact);
    case OpKind::Exp: return each(count, x, y, [](float v) { return std::exp(v); });
    case OpKind::Log: return each(count, x, y, [](float v) { return std::log(v); });
    case OpKind::Sqrt: return each(count, x, y, [](float v) { return std::sqrt(v); });
    case OpKind::Neg: return each(count, x, y, [](float v) { return -v; });
    case OpKind::Abs: return each(count, x, y, [](float v) { return std::fabs(v); });
    default: break;
  }
  MGI_ASSERT(false, std::string("unary called for ") + op_name(s.op));
}

void unary(const Node& n, int64_t count, const float* x, float* y, const ExecOptions& opt) {
  const UnaryStep first = unary_step(n);
  // Blocks small enough to stay in L1 between the steps of a chain.
  constexpr int64_t kBlockElems = 4096;
  const int64_t blocks = (count + kBlockElems - 1) / kBlockElems;
#pragma omp parallel for num_threads(opt.threads) schedule(static) if (opt.threads > 1 && count > kParallelMin)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t lo = b * kBlockElems, len = std::min(kBlockElems, count - lo);
    apply_unary(first, x + lo, y + lo, len);
    for (const UnaryStep& s : n.epilogue) apply_unary(s, y + lo, y + lo, len);
  }
}

void binary(OpKind op, const Shape& as, const float* a, const Shape& bs, const float* b, const Shape& os,
            float* out, const ExecOptions& opt) {
  const int t = opt.threads;
  switch (op) {
    case OpKind::Add: return map2(as, a, bs, b, os, out, t, [](float x, float y) { return x + y; });
    case OpKind::Sub: return map2(as, a, bs, b, os, out, t, [](float x, float y) { return x - y; });
    case OpKind::Mul: return map2(as, a, bs, b, os, out, t, [](float x, float y) { return x * y; });
    case OpKind::Div: return map2(as, a, bs, b, os, out, t, [](float x, float y) { return x / y; });
    case OpKind::Pow:
      return map2(as, a, bs, b, os, out, t, [](float x, float y) {
        if (y == 2.0f) return x * x;  // the common case in exported norms; exact either way
        return std::pow(x, y);
      });
    default: break;
  }
  MGI_ASSERT(false, std::string("binary called for ") + op_name(op));
}

}  // namespace mgi::cpu
