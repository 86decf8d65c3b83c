// CPU kernels against straightforward double-precision loops on random inputs,
// and the bitwise batch-independence contract of the CPU backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cmath>
#include <functional>
#include <random>

#include "backend.hpp"
#include "cpu_backend.hpp"
#include "cpu_ops.hpp"
#include "error.hpp"
#include "graph.hpp"
#include "onnx_test_model.hpp"

namespace mgi {
namespace {

using cpu::ExecOptions;

// Seeded from the clock so runs explore new inputs; every test prints its seed on failure.
struct Rng {
  uint32_t seed = static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::mt19937 gen{seed};
  std::vector<float> uniform(const Shape& s, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(static_cast<size_t>(shape_numel(s)));
    for (float& x : v) x = d(gen);
    return v;
  }
};
#define SEED_TRACE(rng) SCOPED_TRACE("random seed " + std::to_string((rng).seed))

// Offset into a tensor of shape `in` for output multi-index `idx` under numpy broadcasting.
int64_t bcast_offset(const Shape& in, const Shape& out, const std::vector<int64_t>& idx) {
  int64_t off = 0, stride = 1;
  for (size_t k = 0; k < in.size(); ++k) {
    const size_t i = in.size() - 1 - k, o = out.size() - 1 - k;
    const int64_t j = in[i] == 1 ? 0 : idx[o];
    off += j * stride;
    stride *= in[i];
  }
  return off;
}
std::vector<int64_t> unravel(int64_t e, const Shape& s) {
  std::vector<int64_t> idx(s.size());
  for (size_t k = s.size(); k-- > 0;) {
    idx[k] = e % s[k];
    e /= s[k];
  }
  return idx;
}
Shape bshape(const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape o(r);
  for (size_t k = 0; k < r; ++k) {
    const int64_t da = k < r - a.size() ? 1 : a[k - (r - a.size())];
    const int64_t db = k < r - b.size() ? 1 : b[k - (r - b.size())];
    o[k] = da == 1 ? db : da;
  }
  return o;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double rel = 1e-5,
                  double abs = 1e-6, const std::vector<double>& scale = {}) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < got.size(); ++k) {
    const double s = scale.empty() ? std::fabs(want[k]) : scale[k];
    ASSERT_NEAR(got[k], want[k], rel * s + abs) << "element " << k;
  }
}

Node make_node(OpKind op) {
  Node n;
  n.op = op;
  n.name = std::string("t_") + op_name(op);
  n.op_type = op_name(op);
  return n;
}

std::vector<float> exec(const Node& n, const std::vector<Shape>& shapes, const std::vector<const float*>& in,
                        ExecOptions opt = {}) {
  const Shape out = infer_node_shape(n, shapes, "t.onnx", -1);
  std::vector<float> y(static_cast<size_t>(shape_numel(out)), std::nanf(""));
  cpu::exec_node(n, shapes, in, out, y.data(), opt);
  return y;
}

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
          Node n = make_node(OpKind::Gemm);
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
      Node n = make_node(OpKind::MatMul);
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

TEST(CpuOps, BinaryBroadcasting) {
  Rng rng;
  SEED_TRACE(rng);
  const std::vector<std::pair<Shape, Shape>> cases = {{{4, 3, 5}, {5}},       {{4, 1, 5}, {3, 1}}, {{1}, {4, 3}},
                                                      {{4, 3}, {4, 3}},       {{2, 3, 1, 5}, {3, 4, 1}},
                                                      {{4, 3}, {}},           {{6, 1}, {1, 7}}};
  const std::vector<std::pair<OpKind, std::function<double(double, double)>>> ops = {
      {OpKind::Add, [](double x, double y) { return x + y; }},
      {OpKind::Sub, [](double x, double y) { return x - y; }},
      {OpKind::Mul, [](double x, double y) { return x * y; }},
      {OpKind::Div, [](double x, double y) { return x / y; }},
      {OpKind::Pow, [](double x, double y) { return std::pow(x, y); }}};
  for (const auto& [as, bs] : cases)
    for (const auto& [op, f] : ops) {
      SCOPED_TRACE(std::string(op_name(op)) + " " + shape_str(as) + " with " + shape_str(bs));
      Node n = make_node(op);
      n.inputs = {0, 1};
      const auto a = rng.uniform(as, 0.5f, 2.0f), b = rng.uniform(bs, 0.5f, 2.0f);
      const auto y = exec(n, {as, bs}, {a.data(), b.data()}, ExecOptions{2});
      const Shape os = bshape(as, bs);
      std::vector<double> want;
      for (int64_t e = 0; e < shape_numel(os); ++e) {
        const auto idx = unravel(e, os);
        want.push_back(f(a[static_cast<size_t>(bcast_offset(as, os, idx))], b[static_cast<size_t>(bcast_offset(bs, os, idx))]));
      }
      expect_close(y, want, 2e-6, 1e-7);
    }
}

TEST(CpuOps, UnaryOps) {
  Rng rng;
  SEED_TRACE(rng);
  const std::vector<std::pair<OpKind, std::function<double(double)>>> ops = {
      {OpKind::Relu, [](double x) { return x > 0 ? x : 0; }},
      {OpKind::LeakyRelu, [](double x) { return x >= 0 ? x : 0.2 * x; }},
      {OpKind::Sigmoid, [](double x) { return 1 / (1 + std::exp(-x)); }},
      {OpKind::Tanh, [](double x) { return std::tanh(x); }},
      {OpKind::Erf, [](double x) { return std::erf(x); }},
      {OpKind::Gelu, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }},
      {OpKind::Exp, [](double x) { return std::exp(x); }},
      {OpKind::Log, [](double x) { return std::log(x); }},
      {OpKind::Sqrt, [](double x) { return std::sqrt(x); }},
      {OpKind::Neg, [](double x) { return -x; }},
      {OpKind::Abs, [](double x) { return std::fabs(x); }}};
  const Shape s = {3, 50};
  for (const auto& [op, f] : ops) {
    SCOPED_TRACE(op_name(op));
    Node n = make_node(op);
    n.inputs = {0};
    n.alpha = 0.2f;
    const bool positive = op == OpKind::Log || op == OpKind::Sqrt;
    const auto x = rng.uniform(s, positive ? 0.01f : -4.0f, 4.0f);
    const auto y = exec(n, {s}, {x.data()});
    std::vector<double> want;
    for (float v : x) want.push_back(f(v));
    expect_close(y, want, 3e-6, 1e-6);
  }
  // Gelu, tanh approximation (ONNX formula)
  Node n = make_node(OpKind::Gelu);
  n.inputs = {0};
  n.gelu_tanh = true;
  const auto x = rng.uniform(s, -4.0f, 4.0f);
  const auto y = exec(n, {s}, {x.data()});
  std::vector<double> want;
  for (double v : x) want.push_back(0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))));
  expect_close(y, want, 3e-6, 1e-6);
}

std::vector<double> ref_softmax(const std::vector<float>& x, int64_t outer, int64_t len, int64_t inner, bool log) {
  std::vector<double> y(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t j) { return static_cast<size_t>((o * len + j) * inner + i); };
      double mx = -INFINITY, s = 0;
      for (int64_t j = 0; j < len; ++j) mx = std::max(mx, static_cast<double>(x[at(j)]));
      for (int64_t j = 0; j < len; ++j) s += std::exp(x[at(j)] - mx);
      for (int64_t j = 0; j < len; ++j) y[at(j)] = log ? x[at(j)] - mx - std::log(s) : std::exp(x[at(j)] - mx) / s;
    }
  return y;
}

TEST(CpuOps, SoftmaxAndLogSoftmax) {
  Rng rng;
  SEED_TRACE(rng);
  const Shape s = {3, 4, 5};
  for (OpKind op : {OpKind::Softmax, OpKind::LogSoftmax})
    for (int64_t axis : {-1, 0, 1, 2, -2}) {
      SCOPED_TRACE(std::string(op_name(op)) + " axis " + std::to_string(axis));
      Node n = make_node(op);
      n.inputs = {0};
      n.axis = axis;
      const auto x = rng.uniform(s, -5.0f, 5.0f);
      const int64_t a = axis < 0 ? axis + 3 : axis;
      int64_t outer = 1, inner = 1;
      for (int64_t k = 0; k < a; ++k) outer *= s[static_cast<size_t>(k)];
      for (int64_t k = a + 1; k < 3; ++k) inner *= s[static_cast<size_t>(k)];
      expect_close(exec(n, {s}, {x.data()}, ExecOptions{2}), ref_softmax(x, outer, s[static_cast<size_t>(a)], inner, op == OpKind::LogSoftmax), 1e-5, 1e-6);
      // opset < 13: flatten to 2-D at axis and normalize whole rows.
      n.softmax_2d = true;
      int64_t len = 1;
      for (int64_t k = a; k < 3; ++k) len *= s[static_cast<size_t>(k)];
      expect_close(exec(n, {s}, {x.data()}, ExecOptions{2}), ref_softmax(x, outer, len, 1, op == OpKind::LogSoftmax), 1e-5, 1e-6);
    }
}

TEST(CpuOps, BatchAndLayerNormalization) {
  Rng rng;
  SEED_TRACE(rng);
  {
    const Shape xs = {2, 3, 4, 5};
    const auto x = rng.uniform(xs), sc = rng.uniform({3}), b = rng.uniform({3}), m = rng.uniform({3});
    const auto v = rng.uniform({3}, 0.1f, 2.0f);
    Node n = make_node(OpKind::BatchNormalization);
    n.inputs = {0, 1, 2, 3, 4};
    n.epsilon = 1e-3f;
    const auto y = exec(n, {xs, {3}, {3}, {3}, {3}}, {x.data(), sc.data(), b.data(), m.data(), v.data()});
    std::vector<double> want;
    for (int64_t e = 0; e < shape_numel(xs); ++e) {
      const size_t c = static_cast<size_t>((e / 20) % 3);
      want.push_back((x[static_cast<size_t>(e)] - m[c]) / std::sqrt(static_cast<double>(v[c]) + 1e-3) * sc[c] + b[c]);
    }
    expect_close(y, want, 1e-5, 1e-6);
  }
  const Shape xs = {3, 4, 6};
  for (int64_t axis : {-1, 1, -2})
    for (bool bias : {true, false}) {
      SCOPED_TRACE("LayerNorm axis " + std::to_string(axis) + (bias ? " with bias" : ""));
      const int64_t a = axis < 0 ? axis + 3 : axis;
      Shape ns(xs.begin() + a, xs.end());
      const int64_t d = shape_numel(ns), rows = shape_numel(xs) / d;
      const auto x = rng.uniform(xs, -3.0f, 3.0f), sc = rng.uniform(ns), b = rng.uniform(ns);
      Node n = make_node(OpKind::LayerNormalization);
      n.axis = axis;
      n.epsilon = 1e-5f;
      std::vector<Shape> shapes = {xs, ns};
      std::vector<const float*> in = {x.data(), sc.data()};
      n.inputs = {0, 1};
      if (bias) {
        shapes.push_back(ns);
        in.push_back(b.data());
        n.inputs.push_back(2);
      }
      const auto y = exec(n, shapes, in, ExecOptions{2});
      std::vector<double> want;
      for (int64_t r = 0; r < rows; ++r) {
        double mean = 0, var = 0;
        for (int64_t j = 0; j < d; ++j) mean += x[static_cast<size_t>(r * d + j)];
        mean /= static_cast<double>(d);
        for (int64_t j = 0; j < d; ++j) var += std::pow(x[static_cast<size_t>(r * d + j)] - mean, 2);
        var /= static_cast<double>(d);
        for (int64_t j = 0; j < d; ++j)
          want.push_back((x[static_cast<size_t>(r * d + j)] - mean) / std::sqrt(var + 1e-5) * sc[static_cast<size_t>(j)] +
                         (bias ? b[static_cast<size_t>(j)] : 0.0));
      }
      expect_close(y, want, 1e-5, 2e-6);
    }
}

TEST(CpuOps, Transpose) {
  Rng rng;
  SEED_TRACE(rng);
  const Shape xs = {2, 3, 4};
  const auto x = rng.uniform(xs);
  for (const std::vector<int64_t>& perm : {std::vector<int64_t>{2, 0, 1}, std::vector<int64_t>{}, std::vector<int64_t>{0, 2, 1}}) {
    Node n = make_node(OpKind::Transpose);
    n.inputs = {0};
    n.perm = perm;
    const auto y = exec(n, {xs}, {x.data()});
    const std::vector<int64_t> p = perm.empty() ? std::vector<int64_t>{2, 1, 0} : perm;
    Shape os = {xs[static_cast<size_t>(p[0])], xs[static_cast<size_t>(p[1])], xs[static_cast<size_t>(p[2])]};
    for (int64_t e = 0; e < 24; ++e) {
      const auto oi = unravel(e, os);
      std::vector<int64_t> ii(3);
      for (size_t k = 0; k < 3; ++k) ii[static_cast<size_t>(p[k])] = oi[k];
      EXPECT_EQ(y[static_cast<size_t>(e)], x[static_cast<size_t>((ii[0] * 3 + ii[1]) * 4 + ii[2])]);
    }
  }
}

// Transposes that only move dims of size 1 are copies; the others are not.
TEST(CpuOps, TransposeWithUnitDims) {
  Rng rng;
  SEED_TRACE(rng);
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{2, 1, 5}, {0, 2, 1}}, {{1, 3, 1, 4}, {2, 1, 0, 3}}, {{3, 1, 4}, {2, 1, 0}}, {{1, 1}, {1, 0}},
      {{2, 3, 1}, {1, 0, 2}}, {{4, 1, 3}, {1, 2, 0}}};
  for (const auto& [xs, perm] : cases) {
    SCOPED_TRACE(shape_str(xs));
    const auto x = rng.uniform(xs);
    Node n = make_node(OpKind::Transpose);
    n.inputs = {0};
    n.perm = perm;
    const auto y = exec(n, {xs}, {x.data()});
    Shape os;
    for (int64_t p : perm) os.push_back(xs[static_cast<size_t>(p)]);
    for (int64_t e = 0; e < shape_numel(os); ++e) {
      const auto oi = unravel(e, os);
      std::vector<int64_t> ii(xs.size());
      for (size_t k = 0; k < perm.size(); ++k) ii[static_cast<size_t>(perm[k])] = oi[k];
      int64_t off = 0;
      for (size_t k = 0; k < xs.size(); ++k) off = off * xs[k] + ii[k];
      ASSERT_EQ(y[static_cast<size_t>(e)], x[static_cast<size_t>(off)]) << "element " << e;
    }
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
        Node n = make_node(OpKind::MatMul);
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
  Node n = make_node(OpKind::MatMul);
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

// --- end to end through the backend ---

test::OnnxModel mlp_model(Rng& rng, int64_t in, int64_t hidden, int64_t out) {
  test::OnnxModel m;
  m.input("x", {-1, in});
  m.init("w1", {hidden, in}, rng.uniform({hidden, in}));
  m.init("b1", {hidden}, rng.uniform({hidden}));
  m.init("w2", {hidden, out}, rng.uniform({hidden, out}));
  m.init("b2", {out}, rng.uniform({out}));
  auto* g1 = m.node("Gemm", {"x", "w1", "b1"}, {"h"}, "fc1");
  test::OnnxModel::attr_i(g1, "transB", 1);
  m.node("Relu", {"h"}, {"hr"}, "relu");
  m.node("Gemm", {"hr", "w2", "b2"}, {"z"}, "fc2");
  m.node("Softmax", {"z"}, {"y"}, "softmax");
  m.output("y");
  return m;
}

// Runs `rows` rows in chunks of `batch` on a backend with `threads` threads.
std::vector<float> run_chunked(const Graph& g, const Shape& row, const std::vector<float>& x, int64_t rows,
                               int64_t batch, int threads, int64_t out_row) {
  auto be = make_cpu_backend(threads);
  be->prepare(g, {row}, batch);
  const int64_t in_row = shape_numel(row);
  std::vector<float> y(static_cast<size_t>(rows * out_row));
  for (int64_t r0 = 0; r0 < rows; r0 += batch) {
    const int64_t n = std::min(batch, rows - r0);
    be->run(n, {x.data() + r0 * in_row}, {y.data() + r0 * out_row});
  }
  return y;
}

void expect_batch_independent(const Graph& g, const Shape& row, Rng& rng, int64_t out_row) {
  const int64_t rows = 100;
  Shape xs = row;
  xs.insert(xs.begin(), rows);
  const auto x = rng.uniform(xs, -2.0f, 2.0f);
  const auto ref = run_chunked(g, row, x, rows, rows, 1, out_row);
  for (int threads : {1, 2})
    for (int64_t batch : {1, 7, 64, 100}) {
      const auto y = run_chunked(g, row, x, rows, batch, threads, out_row);
      for (size_t e = 0; e < y.size(); ++e)
        ASSERT_EQ(y[e], ref[e]) << "batch " << batch << " threads " << threads << " element " << e;
    }
  // Rows from an offset slice (as another rank would get) give the same bits too.
  const int64_t off = 13, in_row = shape_numel(row);
  std::vector<float> xs_off(x.begin() + off * in_row, x.end());
  const auto y = run_chunked(g, row, xs_off, rows - off, 32, 2, out_row);
  for (size_t e = 0; e < y.size(); ++e) ASSERT_EQ(y[e], ref[static_cast<size_t>(off * out_row) + e]);
}

// The masked-mean-pooling model of tools/make_ragged_example.py: x [B, S, D], mask [B, S].
test::OnnxModel pool_model(Rng& rng, int64_t d, int64_t hidden, int64_t classes) {
  test::OnnxModel m;
  m.input("x", {-1, -1, d});
  m.input("mask", {-1, -1});
  m.init("wt", {d, hidden}, rng.uniform({d, hidden}));
  m.init("bt", {hidden}, rng.uniform({hidden}));
  m.init("w1", {hidden, classes}, rng.uniform({hidden, classes}));
  m.init("b1", {classes}, rng.uniform({classes}));
  m.init_i64("row_mask_shape", {3}, {0, 1, -1});
  m.init_i64("flat_shape", {2}, {0, -1});
  m.node("MatMul", {"x", "wt"}, {"tok_lin"});
  m.node("Add", {"tok_lin", "bt"}, {"tok_pre"});
  m.node("Tanh", {"tok_pre"}, {"tok"});
  m.node("Reshape", {"mask", "row_mask_shape"}, {"m_row"});
  m.node("MatMul", {"m_row", "tok"}, {"pooled_sum"});
  test::OnnxModel::attr_ints(m.node("Transpose", {"m_row"}, {"m_col"}), "perm", {0, 2, 1});
  m.node("MatMul", {"m_row", "m_col"}, {"count"});
  m.node("Div", {"pooled_sum", "count"}, {"pooled3"});
  m.node("Reshape", {"pooled3", "flat_shape"}, {"pooled"});
  m.node("Gemm", {"pooled", "w1", "b1"}, {"y"});
  m.output("y");
  return m;
}

// run_shaped() on padded batches of varying (rows, length), shapes repeating
// (its cache of inferred shapes), gives each row the bits of that row run
// alone at its own length, for 1 and 2 threads.
TEST(CpuBackend, RunShapedPaddedBatchesBitwiseLikeSingleRows) {
  Rng rng;
  SEED_TRACE(rng);
  const int64_t d = 8, classes = 4, max_len = 40, max_batch = 6;
  const Graph g = pool_model(rng, d, 32, classes).load("pool.onnx");
  std::uniform_int_distribution<int64_t> len_d(1, max_len), n_d(1, max_batch);
  struct Batch {
    int64_t n, seq;
    std::vector<int64_t> len;
    std::vector<float> x, mask;
  };
  std::vector<Batch> batches;
  for (int k = 0; k < 12; ++k) {
    Batch b;
    b.n = n_d(rng.gen);
    for (int64_t j = 0; j < b.n; ++j) b.len.push_back(len_d(rng.gen));
    if (k % 3 == 2) b.len.assign(static_cast<size_t>(b.n), batches[static_cast<size_t>(k - 2)].len[0]);
    b.seq = *std::max_element(b.len.begin(), b.len.end());
    b.x = rng.uniform({b.n, b.seq, d});
    b.mask.assign(static_cast<size_t>(b.n * b.seq), 0.0f);
    for (int64_t j = 0; j < b.n; ++j) {
      std::fill_n(b.mask.begin() + j * b.seq, b.len[static_cast<size_t>(j)], 1.0f);
      std::fill(b.x.begin() + (j * b.seq + b.len[static_cast<size_t>(j)]) * d, b.x.begin() + (j + 1) * b.seq * d,
                0.0f);  // padding, as the batch runner writes it
    }
    batches.push_back(std::move(b));
  }
  auto single = make_cpu_backend(1);
  single->prepare(g, {{max_len, d}, {max_len}}, 1);
  for (int threads : {1, 2}) {
    auto be = make_cpu_backend(threads);
    be->prepare(g, {{max_len, d}, {max_len}}, max_batch);
    for (int pass = 0; pass < 2; ++pass)
      for (const Batch& b : batches) {
        std::vector<float> y(static_cast<size_t>(b.n * classes));
        be->run_shaped({{b.n, b.seq, d}, {b.n, b.seq}}, {b.x.data(), b.mask.data()}, {y.data()});
        for (int64_t j = 0; j < b.n; ++j) {
          const int64_t len = b.len[static_cast<size_t>(j)];
          std::vector<float> one(static_cast<size_t>(classes)), ones(static_cast<size_t>(len), 1.0f);
          single->run_shaped({{1, len, d}, {1, len}}, {b.x.data() + j * b.seq * d, ones.data()}, {one.data()});
          ASSERT_EQ(0, std::memcmp(one.data(), y.data() + j * classes, sizeof(float) * classes))
              << "threads " << threads << " pass " << pass << " row " << j << " of " << b.n << " length " << len
              << " padded to " << b.seq;
        }
      }
  }
}

TEST(CpuBackend, MlpBitwiseIndependentOfBatchAndThreads) {
  Rng rng;
  SEED_TRACE(rng);
  const Graph g = mlp_model(rng, 20, 50, 10).load("mlp.onnx");
  expect_batch_independent(g, {20}, rng, 10);
}

TEST(CpuBackend, SequenceModelBitwiseIndependentOfBatch) {
  // [N, 4, 16] -> MatMul [16, 8] -> Add -> LayerNorm -> Transpose -> MatMul (batched) -> Softmax -> Flatten
  Rng rng;
  SEED_TRACE(rng);
  test::OnnxModel m;
  m.input("x", {-1, 4, 16});
  m.init("w", {16, 8}, rng.uniform({16, 8}));
  m.init("b", {8}, rng.uniform({8}));
  m.init("s", {8}, rng.uniform({8}));
  m.init("lb", {8}, rng.uniform({8}));
  m.node("MatMul", {"x", "w"}, {"h"});
  m.node("Add", {"h", "b"}, {"hb"});
  m.node("LayerNormalization", {"hb", "s", "lb"}, {"ln"});
  auto* t = m.node("Transpose", {"ln"}, {"lt"});
  test::OnnxModel::attr_ints(t, "perm", {0, 2, 1});
  m.node("MatMul", {"ln", "lt"}, {"att"});  // [N, 4, 4]
  m.node("Softmax", {"att"}, {"p"});
  m.node("Flatten", {"p"}, {"y"});
  m.output("y");
  const Graph g = m.load("seq.onnx");
  expect_batch_independent(g, {4, 16}, rng, 16);
}

TEST(CpuBackend, MatchesReferenceAndReusesBuffers) {
  Rng rng;
  SEED_TRACE(rng);
  const test::OnnxModel m = mlp_model(rng, 6, 9, 4);
  const Graph g = m.load();
  CpuBackend be(2);
  EXPECT_NE(be.describe().find("cpu"), std::string::npos);
  be.prepare(g, {{6}}, 16);
  EXPECT_GT(be.buffer_bytes(), 0);
  // Weights back from the ONNX initializers for the double reference.
  auto w = [&](const std::string& name) {
    for (const auto& t : m.g->initializer())
      if (t.name() == name) {
        std::vector<float> v(t.raw_data().size() / 4);
        std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
        return v;
      }
    return std::vector<float>{};
  };
  const auto w1 = w("w1"), b1 = w("b1"), w2 = w("w2"), b2 = w("b2");
  for (int64_t rows : {16, 3, 1, 16, 5}) {
    const auto x = rng.uniform({rows, 6});
    std::vector<float> y(static_cast<size_t>(rows * 4));
    be.run(rows, {x.data()}, {y.data()});
    std::vector<double> want;
    for (int64_t r = 0; r < rows; ++r) {
      double h[9], z[4], mx = -INFINITY, s = 0;
      for (int j = 0; j < 9; ++j) {
        h[j] = b1[static_cast<size_t>(j)];
        for (int q = 0; q < 6; ++q) h[j] += static_cast<double>(x[static_cast<size_t>(r * 6 + q)]) * w1[static_cast<size_t>(j * 6 + q)];
        h[j] = std::max(h[j], 0.0);
      }
      for (int j = 0; j < 4; ++j) {
        z[j] = b2[static_cast<size_t>(j)];
        for (int q = 0; q < 9; ++q) z[j] += h[q] * w2[static_cast<size_t>(q * 4 + j)];
        mx = std::max(mx, z[j]);
      }
      for (int j = 0; j < 4; ++j) s += std::exp(z[j] - mx);
      for (int j = 0; j < 4; ++j) want.push_back(std::exp(z[j] - mx) / s);
    }
    expect_close(y, want, 1e-5, 1e-6);
  }
  std::vector<float> x(17 * 6), y(17 * 4);
  EXPECT_THROW(be.run(17, {x.data()}, {y.data()}), Error);
  EXPECT_THROW(be.run(0, {x.data()}, {y.data()}), Error);
}

TEST(CpuBackend, FixedBatchExportIsRejected) {
  test::OnnxModel m;
  m.input("x", {1, 4});
  m.init_i64("shape", {2}, {1, -1});
  m.node("Reshape", {"x", "shape"}, {"y"});
  m.output("y");
  const Graph g = m.load("fixed.onnx");
  CpuBackend be(1);
  try {
    be.prepare(g, {{4}}, 8);
    ADD_FAILURE() << "prepare accepted a fixed-batch model";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("fixed.onnx"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mgi
