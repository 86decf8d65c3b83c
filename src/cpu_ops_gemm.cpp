// Gemm and MatMul through cblas_sgemm. BLAS picks different kernels for
// different sizes (small-matrix paths, edge kernels), so along a dimension that
// grows with the batch every call has the same size: kGemmTile rows, the last
// partial tile zero-padded in scratch. A wide fixed dimension is cut into
// kGemmColumnBlock columns (the same cut for every batch). Tiles run in
// parallel on OpenMP threads with BLAS itself single-threaded; bias and
// activations of a fused node are applied to each tile while it is in cache.
#include <cblas.h>

#include <algorithm>
#include <cstring>

#include "broadcast.hpp"
#include "cpu_ops.hpp"
#include "error.hpp"

namespace mgi::cpu {

namespace {

struct Scratch {
  std::vector<float> a, b, c;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}
float* sized(std::vector<float>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
  return v.data();
}

// What follows the product, per element: + beta * bias (broadcast: element
// (i, j) reads bias[i * sm + j * sn]), then each unary step. Done per tile
// while it is in cache, with the same float operations as the separate Add
// (or Gemm C) and unary nodes: y + b when beta == 1, else y + beta * b.
struct Epilogue {
  const float* bias = nullptr;
  int64_t sm = 0, sn = 0;
  float beta = 1.0f;
  const std::vector<UnaryStep>* steps = nullptr;

  bool empty() const { return bias == nullptr && (steps == nullptr || steps->empty()); }
  // Rows [i0, i0 + rows) x columns [j0, j0 + cols) of c (row stride ldc).
  void apply(float* c, int64_t ldc, int64_t i0, int64_t rows, int64_t j0, int64_t cols) const {
    for (int64_t r = 0; r < rows; ++r) {
      float* row = c + (i0 + r) * ldc + j0;
      if (bias) {
        const float* brow = bias + (i0 + r) * sm + j0 * sn;
        if (beta == 1.0f && sn == 1)  // the common row-vector bias: contiguous, vectorized
          for (int64_t j = 0; j < cols; ++j) row[j] += brow[j];
        else if (beta == 1.0f)
          for (int64_t j = 0; j < cols; ++j) row[j] += brow[j * sn];
        else
          for (int64_t j = 0; j < cols; ++j) row[j] += beta * brow[j * sn];
      }
      if (steps)
        for (const UnaryStep& s : *steps) apply_unary(s, row, row, cols);
    }
  }
};

// c[m, n] = alpha * op(a) op(b), then `ep`; a is [m, k] ([k, m] if ta), b is [k, n] ([n, k] if tb).
void gemm_block(int64_t m, int64_t n, int64_t k, float alpha, const float* a, bool ta, const float* b,
                bool tb, float* c, bool tile_m, bool tile_n, int threads, const Epilogue& ep) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    std::fill(c, c + m * n, 0.0f);
    if (!ep.empty()) ep.apply(c, n, 0, m, 0, n);
    return;
  }
  const int64_t mt = tile_m ? kGemmTile : m, nt = tile_n ? kGemmTile : std::min(n, kGemmColumnBlock);
  const int64_t tiles_m = (m + mt - 1) / mt, tiles_n = (n + nt - 1) / nt;
  const int64_t tiles = tiles_m * tiles_n;
  const int64_t lda = ta ? m : k, ldb = tb ? k : n;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && tiles > 1)
  for (int64_t t = 0; t < tiles; ++t) {
    Scratch& s = scratch();
    const int64_t m0 = (t / tiles_n) * mt, n0 = (t % tiles_n) * nt;
    const int64_t mlen = std::min(mt, m - m0), nlen = std::min(nt, n - n0);

    const float* pa = ta ? a + m0 : a + m0 * k;
    int64_t lda_ = lda;
    bool ta_ = ta;
    if (tile_m && (ta || mlen < mt)) {  // same call for every tile: packed, untransposed, padded
      float* p = sized(s.a, mt * k);
      for (int64_t r = 0; r < mt; ++r)
        for (int64_t q = 0; q < k; ++q)
          p[r * k + q] = r < mlen ? (ta ? a[q * m + m0 + r] : a[(m0 + r) * k + q]) : 0.0f;
      pa = p, lda_ = k, ta_ = false;
    }
    const float* pb = tb ? b + n0 * k : b + n0;
    int64_t ldb_ = ldb;
    bool tb_ = tb;
    if (tile_n && (tb || nlen < nt)) {
      float* p = sized(s.b, k * nt);
      for (int64_t q = 0; q < k; ++q)
        for (int64_t col = 0; col < nt; ++col)
          p[q * nt + col] = col < nlen ? (tb ? b[(n0 + col) * k + q] : b[q * n + n0 + col]) : 0.0f;
      pb = p, ldb_ = nt, tb_ = false;
    }
    const int64_t mcall = tile_m ? mt : mlen, ncall = tile_n ? nt : nlen;
    const bool partial = mcall != mlen || ncall != nlen;
    float* pc = partial ? sized(s.c, mcall * ncall) : c + m0 * n + n0;
    const int64_t ldc = partial ? ncall : n;
    cblas_sgemm(CblasRowMajor, ta_ ? CblasTrans : CblasNoTrans, tb_ ? CblasTrans : CblasNoTrans,
                static_cast<int>(mcall), static_cast<int>(ncall), static_cast<int>(k), alpha, pa,
                static_cast<int>(lda_), pb, static_cast<int>(ldb_), 0.0f, pc, static_cast<int>(ldc));
    if (partial)
      for (int64_t r = 0; r < mlen; ++r)
        std::memcpy(c + (m0 + r) * n + n0, pc + r * ldc, static_cast<size_t>(nlen) * sizeof(float));
    if (!ep.empty()) ep.apply(c, n, m0, mlen, n0, nlen);
  }
}

void check_blas_range(const Node& node, const GemmDims& d) {
  const int64_t lim = 2147483647;
  if (d.m > lim || d.n > lim || d.k > lim)
    throw ModelError("node '" + node.name + "' (" + node.op_type + "): matrix dimensions [" +
                     std::to_string(d.m) + ", " + std::to_string(d.k) + "] x [" + std::to_string(d.k) +
                     ", " + std::to_string(d.n) + "] exceed the BLAS int range");
}

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
  check_blas_range(node, d);
  Epilogue ep;
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
  gemm_block(d.m, d.n, d.k, node.alpha, in[0], node.trans_a, in[1], node.trans_b, out, opt.tile_m, opt.tile_n,
             opt.threads, ep);
}

void matmul(const Node& node, const std::vector<Shape>& s, const std::vector<const float*>& in, float* out,
            const ExecOptions& opt) {
  const GemmDims d = gemm_dims(node, s);
  check_blas_range(node, d);
  const Shape& a = s[0];
  const Shape& b = s[1];
  if (b.size() <= 2) {
    Epilogue ep;
    ep.steps = &node.epilogue;
    if (in.size() >= 3 && in[2] != nullptr) ep.bias = in[2], ep.sn = 1;  // fused row bias [n] / [1, n]
    gemm_block(d.m, d.n, d.k, 1.0f, in[0], false, in[1], false, out, opt.tile_m, opt.tile_n, opt.threads, ep);
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
#pragma omp parallel for num_threads(opt.threads) schedule(static) if (outer && opt.threads > 1 && d.batch > 1)
  for (int64_t t = 0; t < d.batch; ++t) {
    int64_t rem = t, ao = 0, bo = 0;
    for (size_t q = rank; q-- > 0;) {
      const int64_t idx = rem % bc.out[q];
      rem /= bc.out[q];
      ao += idx * bc.a_strides[q];
      bo += idx * bc.b_strides[q];
    }
    gemm_block(d.m, d.n, d.k, 1.0f, in[0] + ao * a_mat, false, in[1] + bo * b_mat, false, out + t * c_mat,
               opt.tile_m, opt.tile_n, inner_threads, Epilogue{});
  }
}

}  // namespace mgi::cpu
