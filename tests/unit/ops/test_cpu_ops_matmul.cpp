// CPU Gemm and MatMul kernels against straightforward double-precision loops on
// random inputs, and their bitwise independence of batch layout, M and threads.
#include <gtest/gtest.h>

#include <cstring>
#include <cmath>
#include <utility>

#include "cpu_ops_test_util.hpp"
#include "gemm.hpp"
#include "graph.hpp"

namespace mgi {
namespace {

TEST(CpuOps, GemmAllVariants) {
  Rng rng;
  SEED_TRACE(rng);
  const int64_t M = 45, N = 37, K = 19;
  const std::vector<Shape> c_shapes = {{}, {N}, {1, N}, {M, 1}, {M, N}, {1}};
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (size_t ci = 0; ci <= c_shapes.size(); ++ci)
        for (int variant = 0; variant < 2; ++variant) {
          SCOPED_TRACE("transA=" + std::to_string(ta) + " transB=" + std::to_string(tb) + " C#" +
                       std::to_string(ci) + " variant=" + std::to_string(variant));
          Node n = op_node("Gemm", 2);
          n.trans_a = ta, n.trans_b = tb;
          n.alpha = 0.75f, n.beta = ci % 2 ? 1.0f : -0.5f;
          const Shape as = ta ? Shape{K, M} : Shape{M, K}, bs = tb ? Shape{N, K} : Shape{K, N};
          const auto a = rng.uniform(as), b = rng.uniform(bs);
          std::vector<Shape> shapes = {as, bs};
          std::vector<const float*> in = {a.data(), b.data()};
          std::vector<float> c;
          Shape cs;
          const bool has_c = ci < c_shapes.size();
          if (has_c) {
            cs = c_shapes[ci];
            c = rng.uniform(cs);
            shapes.push_back(cs);
            in.push_back(c.data());
            n.inputs = {0, 1, 2};
          } else {
            n.inputs = {0, 1};
          }
          ExecOptions opt;
          opt.threads = 1 + (variant & 1);
          const auto y = exec(n, shapes, in, opt);
          std::vector<double> want(static_cast<size_t>(M * N)), scale(want.size());
          for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) {
              double s = 0, sa = 0;
              for (int64_t q = 0; q < K; ++q) {
                const double av = ta ? a[static_cast<size_t>(q * M + i)] : a[static_cast<size_t>(i * K + q)];
                const double bv = tb ? b[static_cast<size_t>(j * K + q)] : b[static_cast<size_t>(q * N + j)];
                s += av * bv;
                sa += std::fabs(av * bv);
              }
              double v = n.alpha * s;
              if (has_c) v += n.beta * c[static_cast<size_t>(bcast_offset(cs, {M, N}, {i, j}))];
              want[static_cast<size_t>(i * N + j)] = v;
              scale[static_cast<size_t>(i * N + j)] = sa + 1.0;
            }
          expect_close(y, want, 1e-5, 1e-6, scale);
        }
}

TEST(CpuOps, MatMulShapes) {
  Rng rng;
  SEED_TRACE(rng);
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{5, 7}, {7, 3}},       {{2, 3, 5, 7}, {7, 4}}, {{2, 1, 5, 7}, {3, 7, 4}}, {{7}, {7, 3}},
      {{2, 5, 7}, {7}},       {{7}, {2, 7, 3}},       {{3, 5, 7}, {3, 7, 2}},    {{40, 7}, {2, 7, 33}},
      {{1, 5, 7}, {4, 7, 3}}, {{7}, {7}}};
  for (const auto& [as, bs] : cases)
    for (int variant = 0; variant < 2; ++variant) {
      SCOPED_TRACE(shape_str(as) + " x " + shape_str(bs) + " variant=" + std::to_string(variant));
      Node n = op_node("MatMul", 2);
      n.inputs = {0, 1};
      const auto a = rng.uniform(as), b = rng.uniform(bs);
      ExecOptions opt;
      opt.threads = 1 + (variant & 1);
      const auto y = exec(n, {as, bs}, {a.data(), b.data()}, opt);
      // Reference: promote 1-D operands, broadcast batch dims, then drop promoted dims.
      Shape a2 = as, b2 = bs;
      if (a2.size() == 1) a2.insert(a2.begin(), 1);
      if (b2.size() == 1) b2.push_back(1);
      const int64_t m = a2[a2.size() - 2], k = a2.back(), nn = b2.back();
      const Shape ab(a2.begin(), a2.end() - 2), bb(b2.begin(), b2.end() - 2);
      const Shape ob = bshape(ab, bb);
      const int64_t batches = shape_numel(ob);
      std::vector<double> want;
      for (int64_t t = 0; t < batches; ++t) {
        const auto idx = unravel(t, ob);
        const int64_t ao = bcast_offset(ab, ob, idx) * m * k, bo = bcast_offset(bb, ob, idx) * k * nn;
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < nn; ++j) {
            double s = 0;
            for (int64_t q = 0; q < k; ++q)
              s += static_cast<double>(a[static_cast<size_t>(ao + i * k + q)]) * b[static_cast<size_t>(bo + q * nn + j)];
            want.push_back(s);
          }
      }
      expect_close(y, want, 1e-5, 1e-5);
    }
}

// A batched MatMul of few rows ([B, m, k] x [B, k, n], m <= 4: computed in
// place, B not packed) gives the same bits as the packed kernel on each
// product alone (a 2-D MatMul), for every width, K past one K block, and threads.
TEST(CpuOps, BatchedMatMulFewRowsBitwiseLikePacked) {
  Rng rng;
  SEED_TRACE(rng);
  for (int64_t m : {1, 2, 4, 5})
    for (int64_t k : {1, 13, 200, 600})
      for (int64_t nn : {1, 5, 8, 32, 41, 70}) {
        SCOPED_TRACE("m=" + std::to_string(m) + " k=" + std::to_string(k) + " n=" + std::to_string(nn));
        const int64_t batch = 3;
        const Shape as = {batch, m, k}, bs = {batch, k, nn};
        auto a = rng.uniform(as);
        const auto b = rng.uniform(bs);
        for (size_t q = 0; q < a.size(); q += 7) a[q] = 0.0f;  // zeros, as a padding mask has
        Node n = op_node("MatMul", 2);
        n.inputs = {0, 1};
        for (int threads : {1, 2}) {
          ExecOptions opt;
          opt.threads = threads;
          const auto y = exec(n, {as, bs}, {a.data(), b.data()}, opt);
          for (int64_t t = 0; t < batch; ++t) {
            const auto one = exec(n, {{m, k}, {k, nn}}, {a.data() + t * m * k, b.data() + t * k * nn});
            ASSERT_EQ(0, std::memcmp(one.data(), y.data() + t * m * nn, one.size() * sizeof(float)))
                << "batch " << t << ", threads " << threads;
          }
        }
      }
}

// Row r of a GEMM is the same bits whatever M is and where the row sits.
TEST(CpuOps, TiledGemmRowsIndependentOfM) {
  Rng rng;
  SEED_TRACE(rng);
  const int64_t K = 23, N = 17, rows = 100;
  const auto a = rng.uniform({rows, K}), w = rng.uniform({K, N});
  Node n = op_node("MatMul", 2);
  n.inputs = {0, 1};
  ExecOptions opt;
  opt.threads = 2;
  const auto full = exec(n, {{rows, K}, {K, N}}, {a.data(), w.data()}, opt);
  for (int64_t start : {0, 1, 31, 33, 64, 99})
    for (int64_t m : {1, 2, 7, 32, 33, 67}) {
      if (start + m > rows) continue;
      const auto part = exec(n, {{m, K}, {K, N}}, {a.data() + start * K, w.data()}, opt);
      for (int64_t e = 0; e < m * N; ++e)
        ASSERT_EQ(part[static_cast<size_t>(e)], full[static_cast<size_t>(start * N + e)])
            << "start " << start << " m " << m << " element " << e;
    }
}


// A MatMul with a fused row bias and epilogue (fuse_graph()) gives the bits of
// the separate MatMul, Add and unary nodes; gemm_dims folds A's leading dims.
TEST(CpuOps, FusedMatMulLikeSeparateNodes) {
  Rng rng;
  SEED_TRACE(rng);
  const Shape as = {2, 9, 13}, ws = {13, 21}, bs = {21};
  const auto a = rng.uniform(as), w = rng.uniform(ws), bias = rng.uniform(bs);
  Node fused = op_node("MatMul", 3);
  Node relu = op_node("Relu");
  Node sig = op_node("Sigmoid");
  fused.epilogue = {unary_step(relu), unary_step(sig)};
  for (int threads : {1, 2}) {
    const auto y = exec(fused, {as, ws, bs}, {a.data(), w.data(), bias.data()}, ExecOptions{threads});
    const auto p = exec(op_node("MatMul", 2), {as, ws}, {a.data(), w.data()});
    const Shape ps = {2, 9, 21};
    const auto s1 = exec(op_node("Add", 2), {ps, bs}, {p.data(), bias.data()});
    const auto s2 = exec(relu, {ps}, {s1.data()});
    const auto want = exec(sig, {ps}, {s2.data()});
    ASSERT_EQ(0, std::memcmp(y.data(), want.data(), want.size() * sizeof(float))) << "threads " << threads;
  }
  const cpu::GemmDims d = cpu::gemm_dims(fused, {as, ws, bs});
  EXPECT_EQ(d.batch, 1);
  EXPECT_EQ(d.m, 18);
  EXPECT_EQ(d.k, 13);
  EXPECT_EQ(d.n, 21);
  Node g = op_node("Gemm", 2);
  g.trans_a = true;
  const cpu::GemmDims e = cpu::gemm_dims(g, {{13, 5}, {13, 4}});
  EXPECT_EQ(e.m, 5);
  EXPECT_EQ(e.k, 13);
  EXPECT_EQ(e.n, 4);
}

}  // namespace
}  // namespace mgi
