// Gemm and MatMul on the packed-panel kernel of cpu_gemm_kernel.hpp. Its
// results do not depend on the batch, the thread count or the split into
// calls, so batches need no fixed tiles or padding. A constant 2-D B (the
// weights) comes packed from the backend's prepare(); anything else is packed
// per call, except the small products of a batched MatMul (at most
// kDirectMaxRows rows), computed in place with the same fma chains. Bias and
// activations of a fused node run on each block of rows while it is in cache.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "broadcast.hpp"
#include "cpu_gemm_kernel.hpp"
#include "cpu_ops.hpp"
#include "error.hpp"

namespace mgi::cpu {

namespace {

struct Scratch {
  std::vector<float> a;
  PackedB b;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// c[m, n] = alpha * op(a) op(b), then `ep`; a is [m, k] ([k, m] if ta), b is [k, n]
// ([n, k] if tb) unless `packed` holds op(b) already.
void gemm_block(int64_t m, int64_t n, int64_t k, float alpha, const float* a, bool ta, const float* b, bool tb,
                const PackedB* packed, float* c, int threads, const GemmEpilogue& ep) {
  Scratch& s = scratch();
  if (ta && m > 0 && k > 0) {  // the kernel reads rows of A: transpose [k, m] once
    s.a.resize(static_cast<size_t>(m * k));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t q = 0; q < k; ++q) s.a[static_cast<size_t>(i * k + q)] = a[q * m + i];
    a = s.a.data();
  }
  if (!packed || packed->k != k || packed->n != n) {
    pack_b(b, tb, k, n, s.b);
    packed = &s.b;
  }
  gemm_packed(m, n, k, alpha, a, k, *packed, c, n, ep, threads);
}

// c[m, n] = a[m, k] b[k, n] (row-major, alpha 1, no epilogue) computed in
// place, without packing B: the same float operations as the packed kernel,
// one fma chain per element over q in order from 0, so the same bits. For the
// small products of a batched MatMul (masked pooling: [1, S] x [S, H]), where
// packing B copied it once more than the product reads it.
template <int W>
inline __attribute__((always_inline)) void direct_cols(int64_t k, const float* a, const float* b, int64_t ldb,
                                                       float* c) {
  float acc[W];
  for (int j = 0; j < W; ++j) acc[j] = 0.0f;
  for (int64_t q = 0; q < k; ++q) {
    const float av = a[q];
    const float* bq = b + q * ldb;
#pragma GCC unroll 32
    for (int j = 0; j < W; ++j) acc[j] = std::fma(av, bq[j], acc[j]);
  }
  for (int j = 0; j < W; ++j) c[j] = acc[j];
}

inline __attribute__((always_inline)) void direct_body(int64_t m, int64_t n, int64_t k, const float* a,
                                                       const float* b, float* c) {
  for (int64_t i = 0; i < m; ++i) {
    const float* ai = a + i * k;
    float* ci = c + i * n;
    int64_t j = 0;
    for (; j + 32 <= n; j += 32) direct_cols<32>(k, ai, b + j, n, ci + j);
    for (; j + 8 <= n; j += 8) direct_cols<8>(k, ai, b + j, n, ci + j);
    for (; j < n; ++j) direct_cols<1>(k, ai, b + j, n, ci + j);
  }
}

void direct_portable(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c) {
  direct_body(m, n, k, a, b, c);
}
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("arch=x86-64-v3"))) void direct_fma(int64_t m, int64_t n, int64_t k, const float* a,
                                                          const float* b, float* c) {
  direct_body(m, n, k, a, b, c);
}
using DirectFn = void (*)(int64_t, int64_t, int64_t, const float*, const float*, float*);
DirectFn direct_fn() {
  static const DirectFn f =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? direct_fma : direct_portable;
  return f;
}
#else
using DirectFn = void (*)(int64_t, int64_t, int64_t, const float*, const float*, float*);
DirectFn direct_fn() { return direct_portable; }
#endif

// Products this small are cheaper to compute in place than to pack.
constexpr int64_t kDirectMaxRows = 4;

}  // namespace

GemmDims gemm_dims(const Node& node, const std::vector<Shape>& s) {
  GemmDims d;
  const Shape& a = s[0];
  const Shape& b = s[1];
  if (node.op == OpKind::Gemm) {
    d.m = node.trans_a ? a[1] : a[0];
    d.k = node.trans_a ? a[0] : a[1];
    d.n = node.trans_b ? b[0] : b[1];
    return d;
  }
  d.k = a.back();
  d.n = b.size() == 1 ? 1 : b.back();
  if (b.size() <= 2) {  // A's leading dims fold into m
    d.m = 1;
    for (size_t q = 0; q + 1 < a.size(); ++q) d.m *= a[q];
    return d;
  }
  d.m = a.size() == 1 ? 1 : a[a.size() - 2];
  const Shape ab = a.size() == 1 ? Shape{} : Shape(a.begin(), a.end() - 2);
  const Shape bb(b.begin(), b.end() - 2);
  d.batch = shape_numel(broadcast_shapes(ab, bb).out);
  return d;
}

void gemm(const Node& node, const std::vector<Shape>& s, const std::vector<const float*>& in, float* out,
          const ExecOptions& opt) {
  const GemmDims d = gemm_dims(node, s);
  GemmEpilogue ep;
  ep.steps = &node.epilogue;
  if (in.size() >= 3 && in[2] != nullptr && node.beta != 0.0f) {
    // + beta * C, C broadcast to [m, n] (shapes checked by infer_node_shape).
    const Shape& cs = s[2];
    const int64_t cm = cs.size() == 2 ? cs[0] : 1, cn = cs.empty() ? 1 : cs.back();
    ep.bias = in[2];
    ep.sm = cm == 1 ? 0 : cn;
    ep.sn = cn == 1 ? 0 : 1;
    ep.beta = node.beta;
  }
  gemm_block(d.m, d.n, d.k, node.alpha, in[0], node.trans_a, in[1], node.trans_b, opt.packed_b, out, opt.threads,
             ep);
}

void matmul(const Node& node, const std::vector<Shape>& s, const std::vector<const float*>& in, float* out,
            const ExecOptions& opt) {
  const GemmDims d = gemm_dims(node, s);
  const Shape& a = s[0];
  const Shape& b = s[1];
  if (b.size() <= 2) {
    GemmEpilogue ep;
    ep.steps = &node.epilogue;
    if (in.size() >= 3 && in[2] != nullptr) ep.bias = in[2], ep.sn = 1;  // fused row bias [n] / [1, n]
    gemm_block(d.m, d.n, d.k, 1.0f, in[0], false, in[1], false, opt.packed_b, out, opt.threads, ep);
    return;
  }
  MGI_ASSERT(node.epilogue.empty() && in.size() == 2, "fused batched MatMul");
  // Batched: one product per broadcast batch index, all of the same size.
  const Shape ab = a.size() == 1 ? Shape{} : Shape(a.begin(), a.end() - 2);
  const Shape bb(b.begin(), b.end() - 2);
  const Broadcast bc = broadcast_shapes(ab, bb);
  const size_t rank = bc.out.size();
  const int64_t a_mat = d.m * d.k, b_mat = d.k * d.n, c_mat = d.m * d.n;
  const bool outer = d.batch >= opt.threads;
  const int inner_threads = outer ? 1 : opt.threads;
  const DirectFn direct = d.m <= kDirectMaxRows && d.k > 0 ? direct_fn() : nullptr;
#pragma omp parallel for num_threads(opt.threads) schedule(static) if (outer && opt.threads > 1 && d.batch > 1)
  for (int64_t t = 0; t < d.batch; ++t) {
    int64_t rem = t, ao = 0, bo = 0;
    for (size_t q = rank; q-- > 0;) {
      const int64_t idx = rem % bc.out[q];
      rem /= bc.out[q];
      ao += idx * bc.a_strides[q];
      bo += idx * bc.b_strides[q];
    }
    if (direct)
      direct(d.m, d.n, d.k, in[0] + ao * a_mat, in[1] + bo * b_mat, out + t * c_mat);
    else
      gemm_block(d.m, d.n, d.k, 1.0f, in[0] + ao * a_mat, false, in[1] + bo * b_mat, false, nullptr,
                 out + t * c_mat, inner_threads, GemmEpilogue{});
  }
}

}  // namespace mgi::cpu
