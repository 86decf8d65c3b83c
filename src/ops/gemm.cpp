// Gemm and MatMul on the packed-panel kernel of gemm_kernel.hpp. Its
// results do not depend on the batch, the thread count or the split into
// calls, so batches need no fixed tiles or padding. A constant 2-D B (the
// weights) comes packed from the backend's prepare(); anything else is packed
// per call, except the small products of a batched MatMul (at most
// kDirectMaxRows rows), computed in place with the same fma chains. Bias and
// activations of a fused node run on each block of rows while it is in cache.
#include "gemm.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "broadcast.hpp"
#include "error.hpp"
#include "gemm_kernel.hpp"
#include "onnx_attrs.hpp"
#include "op_registry.hpp"

namespace mgi {
namespace cpu {

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

namespace {

GemmDims dims(const Node& node, const Shape& a, const Shape& b) {
  GemmDims d;
  if (node.is("Gemm")) {
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

}  // namespace

GemmDims gemm_dims(const Node& node, const std::vector<Shape>& s) { return dims(node, s[0], s[1]); }

}  // namespace cpu

namespace {

using cpu::GemmEpilogue;

bool present(const KernelArgs& k, size_t i) { return k.in.size() > i && k.in[i].present(); }

void gemm_kernel(const KernelArgs& k) {
  const Node& node = k.node;
  const cpu::GemmDims d = cpu::dims(node, *k.in[0].shape, *k.in[1].shape);
  GemmEpilogue ep;
  ep.steps = &node.epilogue;
  if (present(k, 2) && node.beta != 0.0f) {
    // + beta * C, C broadcast to [m, n] (shapes checked by infer_gemm).
    const Shape& cs = *k.in[2].shape;
    const int64_t cm = cs.size() == 2 ? cs[0] : 1, cn = cs.empty() ? 1 : cs.back();
    ep.bias = k.in[2].as<float>();
    ep.sm = cm == 1 ? 0 : cn;
    ep.sn = cn == 1 ? 0 : 1;
    ep.beta = node.beta;
  }
  cpu::gemm_block(d.m, d.n, d.k, node.alpha, k.in[0].as<float>(), node.trans_a, k.in[1].as<float>(), node.trans_b,
                  k.opt.packed_b, k.out[0].as<float>(), k.opt.threads, ep);
}

void matmul_kernel(const KernelArgs& k) {
  const Node& node = k.node;
  const Shape& a = *k.in[0].shape;
  const Shape& b = *k.in[1].shape;
  const cpu::GemmDims d = cpu::dims(node, a, b);
  const float* in0 = k.in[0].as<float>();
  const float* in1 = k.in[1].as<float>();
  float* out = k.out[0].as<float>();
  const cpu::ExecOptions& opt = k.opt;
  if (b.size() <= 2) {
    GemmEpilogue ep;
    ep.steps = &node.epilogue;
    if (present(k, 2)) ep.bias = k.in[2].as<float>(), ep.sn = 1;  // fused row bias [n] / [1, n]
    cpu::gemm_block(d.m, d.n, d.k, 1.0f, in0, false, in1, false, opt.packed_b, out, opt.threads, ep);
    return;
  }
  MGI_ASSERT(node.epilogue.empty() && !present(k, 2), "fused batched MatMul");
  // Batched: one product per broadcast batch index, all of the same size.
  const Shape ab = a.size() == 1 ? Shape{} : Shape(a.begin(), a.end() - 2);
  const Shape bb(b.begin(), b.end() - 2);
  const Broadcast bc = broadcast_shapes(ab, bb);
  const size_t rank = bc.out.size();
  const int64_t a_mat = d.m * d.k, b_mat = d.k * d.n, c_mat = d.m * d.n;
  const bool outer = d.batch >= opt.threads;
  const int inner_threads = outer ? 1 : opt.threads;
  const cpu::DirectFn direct = d.m <= cpu::kDirectMaxRows && d.k > 0 ? cpu::direct_fn() : nullptr;
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
      direct(d.m, d.n, d.k, in0 + ao * a_mat, in1 + bo * b_mat, out + t * c_mat);
    else
      cpu::gemm_block(d.m, d.n, d.k, 1.0f, in0 + ao * a_mat, false, in1 + bo * b_mat, false, nullptr,
                      out + t * c_mat, inner_threads, GemmEpilogue{});
  }
}

void want_f32(const InferArgs& a) {
  for (size_t k = 0; k < a.count(); ++k) a.want_type(k, DType::f32);
}

void infer_gemm(const InferArgs& c, std::vector<OutInfo>& out) {
  const Shape& a = c.shape(0);
  const Shape& b = c.shape(1);
  want_f32(c);
  if (a.size() != 2) c.fail("input A has shape " + shape_str(a) + "; Gemm needs a 2-D A");
  if (b.size() != 2) c.fail("input B has shape " + shape_str(b) + "; Gemm needs a 2-D B");
  const Node& nd = c.node;
  const int64_t m = nd.trans_a ? a[1] : a[0], ka = nd.trans_a ? a[0] : a[1];
  const int64_t kb = nd.trans_b ? b[1] : b[0], n = nd.trans_b ? b[0] : b[1];
  if (ka != kb)
    c.fail("input A has shape " + shape_str(a) + " but B has shape " + shape_str(b) + " (transA=" +
           std::to_string(nd.trans_a) + ", transB=" + std::to_string(nd.trans_b) + "): inner dimensions differ");
  if (c.has(2)) {
    const Shape& cs = c.shape(2);
    bool ok = cs.size() <= 2;
    for (size_t k = 0; ok && k < cs.size(); ++k) {
      const int64_t want = (cs.size() == 2 && k == 0) ? m : n;
      ok = cs[k] == 1 || cs[k] == want;
    }
    if (!ok)
      c.fail("input C has shape " + shape_str(cs) + ", which does not broadcast to the output [" +
             std::to_string(m) + ", " + std::to_string(n) + "]");
  }
  out[0].dtype = DType::f32;
  out[0].shape = {m, n};
}

void infer_matmul(const InferArgs& c, std::vector<OutInfo>& result) {
  Shape a = c.shape(0), b = c.shape(1);
  want_f32(c);
  if (a.empty() || b.empty())
    c.fail("inputs have shapes " + shape_str(a) + " and " + shape_str(b) + "; MatMul needs rank >= 1");
  const bool a1 = a.size() == 1, b1 = b.size() == 1;
  if (a1) a.insert(a.begin(), 1);
  if (b1) b.push_back(1);
  const int64_t m = a[a.size() - 2], ka = a.back(), kb = b[b.size() - 2], n = b.back();
  if (ka != kb)
    c.fail("input A has shape " + shape_str(c.shape(0)) + " but B has shape " + shape_str(c.shape(1)) +
           ": inner dimensions differ (" + std::to_string(ka) + " vs " + std::to_string(kb) + ")");
  Shape out;
  try {
    out = broadcast_shapes(Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2)).out;
  } catch (const ModelError&) {
    c.fail("input A has shape " + shape_str(c.shape(0)) + " but B has shape " + shape_str(c.shape(1)) +
           ": batch dimensions do not broadcast");
  }
  if (!a1) out.push_back(m);
  if (!b1) out.push_back(n);
  if (c.has(2)) {  // fused bias (graph_fuse.cpp): a row vector over 2-D weights
    const Shape& bias = c.shape(2);
    const bool row = (bias.size() == 1 && bias[0] == n) || (bias.size() == 2 && bias[0] == 1 && bias[1] == n);
    if (b.size() != 2 || b1 || out.size() < bias.size() || !row)
      c.fail("fused bias has shape " + shape_str(bias) + " for A " + shape_str(c.shape(0)) + " x B " +
             shape_str(c.shape(1)) + "; expected [" + std::to_string(n) + "] or [1, " + std::to_string(n) +
             "] with a 2-D B");
  }
  result[0].dtype = DType::f32;
  result[0].shape = out;
}

void parse_gemm(const OnnxNode& on, Node& n) {
  n.alpha = on.get_float("alpha", 1.0f);
  n.beta = on.get_float("beta", 1.0f);
  n.trans_a = on.get_int("transA", 0) != 0;
  n.trans_b = on.get_int("transB", 0) != 0;
}

}  // namespace

void register_gemm_ops(OpRegistry& r) {
  {
    OpDef d;
    d.name = "Gemm";
    d.min_inputs = 2;
    d.max_inputs = 3;
    d.parse = parse_gemm;
    d.infer = infer_gemm;
    d.cpu = gemm_kernel;
    d.types = "float32";
    d.notes = "C broadcast per ONNX (unidirectional to [M, N])";
    r.add(std::move(d));
  }
  {
    OpDef d;
    d.name = "MatMul";
    d.min_inputs = 2;
    d.max_inputs = 3;  // input 2: a row bias fused by fuse_graph(), never in a model file
    d.infer = infer_matmul;
    d.cpu = matmul_kernel;
    d.types = "float32";
    d.notes = "numpy semantics (1-D operands promoted, batch dims broadcast)";
    r.add(std::move(d));
  }
}

}  // namespace mgi
