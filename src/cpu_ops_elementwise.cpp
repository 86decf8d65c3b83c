// Elementwise ops. Each output element depends on its inputs only, so OpenMP
// over elements keeps results bitwise independent of threads and batch size.
#include <cmath>

#include "broadcast.hpp"
#include "cpu_ops.hpp"
#include "error.hpp"

namespace mgi::cpu {

namespace {

constexpr int64_t kParallelMin = 16384;  // below this, threads cost more than they save

template <class F>
void map1(int64_t count, const float* x, float* y, int threads, F f) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && count > kParallelMin)
  for (int64_t i = 0; i < count; ++i) y[i] = f(x[i]);
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

void unary(const Node& n, int64_t count, const float* x, float* y, const ExecOptions& opt) {
  const int t = opt.threads;
  switch (n.op) {
    case OpKind::Relu: return map1(count, x, y, t, [](float v) { return v > 0.0f ? v : 0.0f; });
    case OpKind::LeakyRelu: {
      const float al = n.alpha;
      return map1(count, x, y, t, [al](float v) { return v >= 0.0f ? v : al * v; });
    }
    case OpKind::Sigmoid: return map1(count, x, y, t, [](float v) { return 1.0f / (1.0f + std::exp(-v)); });
    case OpKind::Tanh: return map1(count, x, y, t, [](float v) { return std::tanh(v); });
    case OpKind::Erf: return map1(count, x, y, t, [](float v) { return std::erf(v); });
    case OpKind::Gelu:
      if (n.gelu_tanh) return map1(count, x, y, t, gelu_tanh);
      return map1(count, x, y, t, gelu_exact);
    case OpKind::Exp: return map1(count, x, y, t, [](float v) { return std::exp(v); });
    case OpKind::Log: return map1(count, x, y, t, [](float v) { return std::log(v); });
    case OpKind::Sqrt: return map1(count, x, y, t, [](float v) { return std::sqrt(v); });
    case OpKind::Neg: return map1(count, x, y, t, [](float v) { return -v; });
    case OpKind::Abs: return map1(count, x, y, t, [](float v) { return std::fabs(v); });
    default: break;
  }
  MGI_ASSERT(false, std::string("unary called for ") + op_name(n.op));
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
