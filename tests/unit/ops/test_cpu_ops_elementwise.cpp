// CPU element-wise and row-wise kernels (binary with broadcasting, unary,
// softmax, batch and layer normalization) and Transpose against
// straightforward double-precision loops on random inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <functional>
#include <utility>

#include "cpu_ops_test_util.hpp"
#include "error.hpp"
#include "graph.hpp"
#include "op_registry.hpp"
#include "unary.hpp"

namespace mgi {
namespace {

TEST(CpuOps, BinaryBroadcasting) {
  Rng rng;
  SEED_TRACE(rng);
  const std::vector<std::pair<Shape, Shape>> cases = {{{4, 3, 5}, {5}},       {{4, 1, 5}, {3, 1}}, {{1}, {4, 3}},
                                                      {{4, 3}, {4, 3}},       {{2, 3, 1, 5}, {3, 4, 1}},
                                                      {{4, 3}, {}},           {{6, 1}, {1, 7}}};
  const std::vector<std::pair<std::string, std::function<double(double, double)>>> ops = {
      {"Add", [](double x, double y) { return x + y; }},
      {"Sub", [](double x, double y) { return x - y; }},
      {"Mul", [](double x, double y) { return x * y; }},
      {"Div", [](double x, double y) { return x / y; }},
      {"Pow", [](double x, double y) { return std::pow(x, y); }}};
  for (const auto& [as, bs] : cases)
    for (const auto& [op, f] : ops) {
      SCOPED_TRACE(op + " " + shape_str(as) + " with " + shape_str(bs));
      Node n = op_node(op, 2);
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
  const std::vector<std::pair<std::string, std::function<double(double)>>> ops = {
      {"Relu", [](double x) { return x > 0 ? x : 0; }},
      {"LeakyRelu", [](double x) { return x >= 0 ? x : 0.2 * x; }},
      {"Sigmoid", [](double x) { return 1 / (1 + std::exp(-x)); }},
      {"Tanh", [](double x) { return std::tanh(x); }},
      {"Erf", [](double x) { return std::erf(x); }},
      {"Gelu", [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }},
      {"Exp", [](double x) { return std::exp(x); }},
      {"Log", [](double x) { return std::log(x); }},
      {"Sqrt", [](double x) { return std::sqrt(x); }},
      {"Neg", [](double x) { return -x; }},
      {"Abs", [](double x) { return std::fabs(x); }}};
  const Shape s = {3, 50};
  for (const auto& [op, f] : ops) {
    SCOPED_TRACE(op);
    Node n = op_node(op, 1, 20);  // opset 20: ai.onnx Gelu
    n.alpha = 0.2f;
    const bool positive = op == "Log" || op == "Sqrt";
    const auto x = rng.uniform(s, positive ? 0.01f : -4.0f, 4.0f);
    const auto y = exec(n, {s}, {x.data()});
    std::vector<double> want;
    for (float v : x) want.push_back(f(v));
    expect_close(y, want, 3e-6, 1e-6);
  }
  // Gelu, tanh approximation (ONNX formula)
  Node n = op_node("Gelu", 1, 20);
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
  for (const std::string op : {"Softmax", "LogSoftmax"})
    for (int64_t axis : {-1, 0, 1, 2, -2}) {
      SCOPED_TRACE(op + " axis " + std::to_string(axis));
      Node n = op_node(op);
      n.axis = axis;
      const auto x = rng.uniform(s, -5.0f, 5.0f);
      const int64_t a = axis < 0 ? axis + 3 : axis;
      int64_t outer = 1, inner = 1;
      for (int64_t k = 0; k < a; ++k) outer *= s[static_cast<size_t>(k)];
      for (int64_t k = a + 1; k < 3; ++k) inner *= s[static_cast<size_t>(k)];
      expect_close(exec(n, {s}, {x.data()}, ExecOptions{2}), ref_softmax(x, outer, s[static_cast<size_t>(a)], inner, op == "LogSoftmax"), 1e-5, 1e-6);
      // opset < 13: flatten to 2-D at axis and normalize whole rows.
      n.softmax_2d = true;
      int64_t len = 1;
      for (int64_t k = a; k < 3; ++k) len *= s[static_cast<size_t>(k)];
      expect_close(exec(n, {s}, {x.data()}, ExecOptions{2}), ref_softmax(x, outer, len, 1, op == "LogSoftmax"), 1e-5, 1e-6);
    }
}

TEST(CpuOps, BatchAndLayerNormalization) {
  Rng rng;
  SEED_TRACE(rng);
  {
    const Shape xs = {2, 3, 4, 5};
    const auto x = rng.uniform(xs), sc = rng.uniform({3}), b = rng.uniform({3}), m = rng.uniform({3});
    const auto v = rng.uniform({3}, 0.1f, 2.0f);
    Node n = op_node("BatchNormalization", 5);
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
      Node n = op_node("LayerNormalization", 3);
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
    Node n = op_node("Transpose");
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
    Node n = op_node("Transpose");
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


// Shape arithmetic runs through the binary kernels: int64 and int32 Add/Sub/
// Mul/Div with broadcasting; Div truncates toward zero and x / 0 is 0.
TEST(CpuOps, IntegerBinaryOps) {
  const Tensor a = Tensor::i64({2, 3}, {7, -7, 9, 0, 100, std::numeric_limits<int64_t>::min()});
  const Tensor b = Tensor::i64({3}, {2, 0, -1});
  const std::vector<std::pair<std::string, std::vector<int64_t>>> cases = {
      {"Add", {9, -7, 8, 2, 100, std::numeric_limits<int64_t>::max()}},
      {"Sub", {5, -7, 10, -2, 100, std::numeric_limits<int64_t>::min() + 1}},
      {"Mul", {14, 0, -9, 0, 0, std::numeric_limits<int64_t>::min()}},
      {"Div", {3, 0, -9, 0, 0, std::numeric_limits<int64_t>::min()}}};
  for (const auto& [op, want] : cases) {
    SCOPED_TRACE(op);
    const auto out = run_cpu_node(op_node(op, 2), {&a, &b}, "t.onnx");
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].dtype, DType::i64);
    EXPECT_EQ(out[0].shape, (Shape{2, 3}));
    EXPECT_EQ(out[0].ints(), want);
  }
  const Tensor c = Tensor::of<int32_t>(DType::i32, {4}, {-7, 7, 5, -5});
  const Tensor d = Tensor::of<int32_t>(DType::i32, {}, {2});
  const auto q = run_cpu_node(op_node("Div", 2), {&c, &d}, "t.onnx");
  EXPECT_EQ(q[0].dtype, DType::i32);
  EXPECT_EQ(q[0].ints(), (std::vector<int64_t>{-3, 3, 2, -2}));
  const auto m = run_cpu_node(op_node("Mul", 2), {&d, &c}, "t.onnx");
  EXPECT_EQ(m[0].ints(), (std::vector<int64_t>{-14, 14, 10, -10}));
}

TEST(CpuOps, BinaryTypeChecks) {
  const Tensor i = Tensor::i64({2}, {1, 2});
  const Tensor f = Tensor::f32({2}, {1, 2});
  auto error = [](const std::string& op, const Tensor& x, const Tensor& y) {
    try {
      run_cpu_node(op_node(op, 2), {&x, &y}, "t.onnx");
    } catch (const ModelError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error("Add", i, f), "model t.onnx: node 't_Add' (Add): inputs have types int64 and float32");
  const Tensor bits = Tensor::of<uint8_t>(DType::b8, {2}, {1, 0});
  EXPECT_NE(error("Pow", bits, f).find("expected float32"), std::string::npos);  // int Pow: test_math_logic.cpp
  EXPECT_NE(error("Mul", bits, bits).find("expected float32, int32 or int64"), std::string::npos);
}

TEST(CpuOps, UnaryTypes) {
  const Tensor x = Tensor::i64({3}, {-4, 0, std::numeric_limits<int64_t>::min()});
  EXPECT_EQ(run_cpu_node(op_node("Neg"), {&x}, "t.onnx")[0].ints(),
            (std::vector<int64_t>{4, 0, std::numeric_limits<int64_t>::min()}));
  EXPECT_EQ(run_cpu_node(op_node("Abs"), {&x}, "t.onnx")[0].ints(),
            (std::vector<int64_t>{4, 0, std::numeric_limits<int64_t>::min()}));
  try {
    run_cpu_node(op_node("Relu"), {&x}, "t.onnx");
    ADD_FAILURE() << "Relu accepted int64";
  } catch (const ModelError& e) {
    EXPECT_EQ(std::string(e.what()), "model t.onnx: node 't_Relu' (Relu): input 0 has type int64; expected float32");
  }
}

// A unary node with an epilogue computes its chain in one pass, bitwise like separate nodes.
TEST(CpuOps, UnaryEpilogueLikeSeparateNodes) {
  Rng rng;
  SEED_TRACE(rng);
  const Shape s = {3, 7000};  // several blocks, threads split them
  const auto x = rng.uniform(s, -3.0f, 3.0f);
  Node chain = op_node("Tanh");
  Node gelu = op_node("Gelu", 1, 20);
  gelu.gelu_tanh = true;
  Node leaky = op_node("LeakyRelu");
  chain.epilogue = {unary_step(gelu), unary_step(leaky)};
  const auto fused = exec(chain, {s}, {x.data()}, ExecOptions{2});
  const auto t = exec(op_node("Tanh"), {s}, {x.data()});
  const auto g = exec(gelu, {s}, {t.data()});
  const auto want = exec(leaky, {s}, {g.data()});
  ASSERT_EQ(0, std::memcmp(fused.data(), want.data(), want.size() * sizeof(float)));
  EXPECT_TRUE(is_unary_node(chain));
  EXPECT_FALSE(is_unary_node(op_node("Add", 2)));
  EXPECT_STREQ(unary_fn_name(leaky.unary), "LeakyRelu");
  EXPECT_FLOAT_EQ(leaky.alpha, 0.01f);
}

}  // namespace
}  // namespace mgi
