// The activations (Elu, Selu, Celu, HardSigmoid, HardSwish, Softplus, Softsign,
// Mish), Reciprocal/Floor/Ceil/Round/Sign/Sin/Cos, PRelu and the normalizations
// (InstanceNormalization, GroupNormalization, LRN, LpNormalization,
// BatchNormalization's opset 9-15 attributes) against references written here
// from the ONNX spec formulas in double precision; bitwise independence of
// batch size and threads; fused chains (Elu -> HardSwish, a GEMM epilogue of
// the new functions) bitwise equal to the unfused graph.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "backend.hpp"
#include "cpu_backend.hpp"
#include "cpu_ops_test_util.hpp"
#include "error.hpp"
#include "graph_fuse.hpp"
#include "onnx_attrs.hpp"
#include "onnx_test_model.hpp"
#include "unary.hpp"

namespace mgi {
namespace {

using FloatAttrs = std::vector<std::pair<std::string, float>>;
using IntAttrs = std::vector<std::pair<std::string, int64_t>>;

// A node of `op` parsed from a NodeProto with these attributes (as the loader does).
Node attr_node(const std::string& op, int arity, int64_t opset, const FloatAttrs& fa = {}, const IntAttrs& ia = {}) {
  onnx::NodeProto proto;
  proto.set_op_type(op);
  for (const auto& [name, v] : fa) test::OnnxModel::attr_f(&proto, name, v);
  for (const auto& [name, v] : ia) test::OnnxModel::attr_i(&proto, name, v);
  Node n;
  n.def = OpRegistry::get().find("", op, opset);
  if (!n.def) throw ModelError("no op " + op + " at opset " + std::to_string(opset));
  n.name = "t_" + op;
  n.op_type = op;
  n.opset = opset;
  for (int k = 0; k < arity; ++k) n.inputs.push_back(k);
  n.outputs = {arity};
  static const std::string source = "t.onnx";
  if (n.def->parse) n.def->parse(OnnxNode(proto, n.name, source), n);
  return n;
}

// |got - want| <= rel * |want| + abs; infinities and NaN must match exactly.
void expect_near_ref(const std::vector<float>& got, const std::vector<double>& want, const std::vector<float>& x,
                     double rel, double abs) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < got.size(); ++k) {
    const double w = want[k], g = got[k];
    const std::string at = "element " + std::to_string(k) + " (x = " + std::to_string(x[k % x.size()]) + ")";
    if (std::isnan(w)) {
      EXPECT_TRUE(std::isnan(g)) << at << ": got " << g << ", want NaN";
    } else if (std::isinf(w)) {
      EXPECT_EQ(g, w) << at;
    } else {
      ASSERT_NEAR(g, w, rel * std::fabs(w) + abs) << at;
    }
  }
}

// ---------------------------------------------------------------- unary functions

struct UnaryCase {
  const char* op;
  int64_t opset;
  FloatAttrs attrs;
  std::function<double(double)> ref;
};

double round_half_even(double x) {
  const double f = std::floor(x), d = x - f;
  if (d > 0.5) return f + 1.0;
  if (d < 0.5) return f;
  return std::fmod(f, 2.0) == 0.0 ? f : f + 1.0;
}
// ln(exp(x) + 1); beyond x = 700 exp overflows a double, and ln(e^x + 1) == x to double precision there.
double softplus_ref(double x) { return x > 700.0 ? x : std::log(1.0 + std::exp(x)); }
double hard_sigmoid_ref(double x, double a, double b) { return std::max(0.0, std::min(1.0, a * x + b)); }

std::vector<UnaryCase> unary_cases() {
  const double selu_a = 1.67326319217681884765625, selu_g = 1.05070102214813232421875;
  return {
      {"Elu", 9, {}, [](double x) { return x < 0 ? 1.0 * (std::exp(x) - 1.0) : x; }},
      {"Elu", 21, {{"alpha", 0.5f}}, [](double x) { return x < 0 ? 0.5 * (std::exp(x) - 1.0) : x; }},
      {"Selu", 9, {}, [=](double x) { return x > 0 ? selu_g * x : selu_g * (selu_a * std::exp(x) - selu_a); }},
      {"Selu", 17, {{"alpha", 2.0f}, {"gamma", 0.75f}},
       [](double x) { return x > 0 ? 0.75 * x : 0.75 * (2.0 * std::exp(x) - 2.0); }},
      {"Celu", 12, {}, [](double x) { return std::max(0.0, x) + std::min(0.0, 1.0 * (std::exp(x / 1.0) - 1.0)); }},
      {"Celu", 17, {{"alpha", 2.5f}},
       [](double x) { return std::max(0.0, x) + std::min(0.0, 2.5 * (std::exp(x / 2.5) - 1.0)); }},
      {"HardSigmoid", 9, {}, [](double x) { return hard_sigmoid_ref(x, double{0.2f}, 0.5); }},
      {"HardSigmoid", 17, {{"alpha", 0.25f}, {"beta", 0.4f}},
       [](double x) { return hard_sigmoid_ref(x, 0.25, double{0.4f}); }},
      {"HardSwish", 14, {}, [](double x) { return x * hard_sigmoid_ref(x, 1.0 / 6.0, 0.5); }},
      {"Softplus", 9, {}, softplus_ref},
      {"Softsign", 9, {}, [](double x) { return x / (1.0 + std::fabs(x)); }},
      {"Mish", 18, {}, [](double x) { return x * std::tanh(softplus_ref(x)); }},
      {"Reciprocal", 9, {}, [](double x) { return 1.0 / x; }},
      {"Floor", 9, {}, [](double x) { return std::floor(x); }},
      {"Ceil", 9, {}, [](double x) { return std::ceil(x); }},
      {"Round", 11, {}, round_half_even},
      {"Sign", 9, {}, [](double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }},
      {"Sin", 9, {}, [](double x) { return std::sin(x); }},
      {"Cos", 9, {}, [](double x) { return std::cos(x); }},
  };
}

std::vector<float> edge_values() {
  return {0.0f,  -0.0f, 1e-8f, -1e-8f, 0.5f,  -0.5f,  1.5f,  -1.5f,  2.5f,  -2.5f,  3.0f, -3.0f, 1.0f,
          -1.0f, 20.0f, -20.0f, 88.0f, -88.0f, 100.0f, -100.0f, 1e4f, -1e4f, 1e30f, -1e30f, 8388607.5f};
}

TEST(ActivationOps, EveryUnaryMatchesDoubleReference) {
  Rng rng;
  SEED_TRACE(rng);
  std::vector<float> x = rng.uniform({2000}, -6.0f, 6.0f);
  const std::vector<float> edges = edge_values();
  x.insert(x.end(), edges.begin(), edges.end());
  const Shape s{static_cast<int64_t>(x.size())};
  for (const UnaryCase& c : unary_cases()) {
    SCOPED_TRACE(std::string(c.op) + " opset " + std::to_string(c.opset));
    const Node n = attr_node(c.op, 1, c.opset, c.attrs);
    ASSERT_TRUE(is_unary_node(n));
    EXPECT_STREQ(unary_fn_name(n.unary), c.op);
    std::vector<float> xin = x;
    if (std::string(c.op) == "Mish") {  // -inf * tanh(0) is NaN as in the spec's formula: keep to finite tails
      for (float& v : xin) v = std::max(v, -80.0f);
    }
    const std::vector<float> y = exec(n, {s}, {xin.data()});
    std::vector<double> want;
    for (float v : xin) want.push_back(c.ref(v));
    expect_near_ref(y, want, xin, 2e-6, 5e-7);
    if (HasFatalFailure()) return;
  }
}

TEST(ActivationOps, NaNPropagatesAndInfinitiesFollowTheFormula) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {std::nanf(""), inf, -inf};
  const Shape s{3};
  for (const UnaryCase& c : unary_cases()) {
    SCOPED_TRACE(c.op);
    const std::vector<float> y = exec(attr_node(c.op, 1, c.opset, c.attrs), {s}, {x.data()});
    EXPECT_TRUE(std::isnan(y[0])) << "NaN in gives " << y[0];
  }
  auto run1 = [&](const char* op, int64_t opset, float v) {
    return exec(attr_node(op, 1, opset), {Shape{1}}, {&v})[0];
  };
  EXPECT_EQ(run1("Elu", 9, -inf), -1.0f);
  EXPECT_EQ(run1("Softplus", 9, inf), inf);
  EXPECT_EQ(run1("Softplus", 9, -inf), 0.0f);
  EXPECT_EQ(run1("HardSigmoid", 9, -inf), 0.0f);
  EXPECT_EQ(run1("HardSigmoid", 9, inf), 1.0f);
  EXPECT_EQ(run1("Reciprocal", 9, 0.0f), inf);
  EXPECT_EQ(run1("Reciprocal", 9, -0.0f), -inf);
  EXPECT_EQ(run1("Floor", 9, -inf), -inf);
  EXPECT_EQ(run1("Round", 11, 0.5f), 0.0f);
  EXPECT_EQ(run1("Round", 11, -2.5f), -2.0f);
  EXPECT_EQ(run1("Round", 11, 3.5f), 4.0f);
  EXPECT_EQ(run1("Sign", 9, 0.0f), 0.0f);
  EXPECT_EQ(run1("Sign", 9, -7.0f), -1.0f);
}

TEST(ActivationOps, AttributeErrorsAndOpsetRanges) {
  EXPECT_THROW(attr_node("Celu", 1, 12, {{"alpha", 0.0f}}), ModelError);
  EXPECT_THROW(attr_node("HardSwish", 1, 13), ModelError);  // from opset 14
  EXPECT_THROW(attr_node("Mish", 1, 17), ModelError);       // from opset 18
  EXPECT_THROW(attr_node("Round", 1, 10), ModelError);      // from opset 11
  // Float only: an int64 input is refused by the inference.
  const Node n = attr_node("Sign", 1, 13);
  const Shape s{2};
  const std::string source = "t.onnx";
  InferArgs ia{n, source, {DType::i64}, {&s}, {nullptr}};
  std::vector<OutInfo> out(1);
  EXPECT_THROW(n.def->infer(ia, out), ModelError);
}

// ---------------------------------------------------------------- PRelu

TEST(PRelu, SlopeBroadcastsToX) {
  Rng rng;
  SEED_TRACE(rng);
  const Shape xs{2, 3, 4, 5};
  const auto x = rng.uniform(xs, -3.0f, 3.0f);
  for (const Shape& ss : {Shape{3, 1, 1}, Shape{5}, Shape{1}, Shape{}, Shape{2, 3, 4, 5}, Shape{4, 1}, Shape{1, 3, 1, 1}}) {
    SCOPED_TRACE("slope " + shape_str(ss));
    const auto slope = rng.uniform(ss, -1.0f, 1.0f);
    for (int64_t opset : {9, 16, 21}) {
      const Node n = attr_node("PRelu", 2, opset);
      const auto y = exec(n, {xs, ss}, {x.data(), slope.data()});
      std::vector<double> want;
      for (int64_t e = 0; e < shape_numel(xs); ++e) {
        const double v = x[static_cast<size_t>(e)];
        const double sl = slope[static_cast<size_t>(bcast_offset(ss, xs, unravel(e, xs)))];
        want.push_back(v < 0 ? sl * v : v);
      }
      expect_close(y, want, 1e-6, 0.0);
    }
  }
}

TEST(PRelu, SlopeThatWouldGrowXIsRefused) {
  const Node n = attr_node("PRelu", 2, 9);
  const std::vector<float> x(60, 1.0f), big(120, 0.5f);
  EXPECT_THROW(exec(n, {Shape{3, 4, 5}, Shape{2, 3, 4, 5}}, {x.data(), big.data()}), ModelError);
  EXPECT_THROW(exec(n, {Shape{3, 4, 5}, Shape{7}}, {x.data(), big.data()}), ModelError);
  EXPECT_THROW(exec(n, {Shape{3, 1, 5}, Shape{4, 1}}, {x.data(), big.data()}), ModelError);  // would broadcast X
}

// ---------------------------------------------------------------- normalizations

// Runs n on [batch, rest...] inputs whole, row by row, and with 3 threads: all bitwise equal.
void expect_rows_independent(const Node& n, const std::vector<Shape>& shapes, const std::vector<const float*>& in) {
  const std::vector<float> whole = exec(n, shapes, in);
  ExecOptions three;
  three.threads = 3;
  const std::vector<float> threaded = exec(n, shapes, in, three);
  ASSERT_EQ(std::memcmp(whole.data(), threaded.data(), whole.size() * sizeof(float)), 0) << "threads change bits";
  const int64_t rows = shapes[0][0], in_row = shape_numel(shapes[0]) / rows;
  const size_t out_row = whole.size() / static_cast<size_t>(rows);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<Shape> s1 = shapes;
    s1[0][0] = 1;
    std::vector<const float*> in1 = in;
    in1[0] = in[0] + r * in_row;
    const std::vector<float> one = exec(n, s1, in1);
    ASSERT_EQ(one.size(), out_row);
    ASSERT_EQ(std::memcmp(one.data(), whole.data() + static_cast<size_t>(r) * out_row, out_row * sizeof(float)), 0)
        << "row " << r << " alone differs from the batch";
  }
}

// Mean/var normalization of x [N, C, S] in groups of `per` channels; param index per channel or group.
std::vector<double> group_norm_ref(const std::vector<float>& x, int64_t n, int64_t c, int64_t s, int64_t per,
                                   const std::vector<float>& scale, const std::vector<float>& bias, bool per_channel,
                                   double eps) {
  std::vector<double> y(x.size());
  const int64_t groups = c / per, len = per * s;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t g = 0; g < groups; ++g) {
      const size_t base = static_cast<size_t>((i * c + g * per) * s);
      double mean = 0, var = 0;
      for (int64_t j = 0; j < len; ++j) mean += x[base + static_cast<size_t>(j)];
      mean /= static_cast<double>(len);
      for (int64_t j = 0; j < len; ++j) var += std::pow(x[base + static_cast<size_t>(j)] - mean, 2);
      var /= static_cast<double>(len);
      for (int64_t j = 0; j < len; ++j) {
        const size_t q = static_cast<size_t>(per_channel ? g * per + j / s : g);
        y[base + static_cast<size_t>(j)] = (x[base + static_cast<size_t>(j)] - mean) / std::sqrt(var + eps) * scale[q] + bias[q];
      }
    }
  return y;
}

TEST(Normalization, InstanceNormalization) {
  Rng rng;
  SEED_TRACE(rng);
  for (const Shape& xs : {Shape{3, 4, 5, 6}, Shape{2, 3, 7}, Shape{2, 5, 1}}) {
    SCOPED_TRACE(shape_str(xs));
    const int64_t n = xs[0], c = xs[1], s = shape_numel(xs) / (n * c);
    auto x = rng.uniform(xs, -4.0f, 6.0f);
    const auto scale = rng.uniform({c}), bias = rng.uniform({c});
    for (const float eps : {1e-5f, 1e-2f}) {
      const Node node = attr_node("InstanceNormalization", 3, 9, {{"epsilon", eps}});
      const auto y = exec(node, {xs, {c}, {c}}, {x.data(), scale.data(), bias.data()});
      expect_close(y, group_norm_ref(x, n, c, s, 1, scale, bias, true, eps), 1e-5, 1e-5);
      expect_rows_independent(node, {xs, {c}, {c}}, {x.data(), scale.data(), bias.data()});
    }
  }
  const Node node = attr_node("InstanceNormalization", 3, 17);
  const std::vector<float> x(24, 1.0f), p(4, 1.0f);
  EXPECT_THROW(exec(node, {Shape{2, 3, 4}, Shape{4}, Shape{3}}, {x.data(), p.data(), p.data()}), ModelError);
}

TEST(Normalization, GroupNormalizationOpset18PerGroupAnd21PerChannel) {
  Rng rng;
  SEED_TRACE(rng);
  const Shape xs{3, 6, 4, 5};
  const int64_t n = 3, c = 6, s = 20;
  const auto x = rng.uniform(xs, -2.0f, 5.0f);
  for (int64_t groups : {1, 2, 3, 6}) {
    for (int64_t opset : {18, 21}) {
      SCOPED_TRACE("num_groups " + std::to_string(groups) + " opset " + std::to_string(opset));
      const bool per_c = opset >= 21;
      const int64_t np = per_c ? c : groups;
      const auto scale = rng.uniform({np}), bias = rng.uniform({np});
      const Node node = attr_node("GroupNormalization", 3, opset, {{"epsilon", 1e-4f}}, {{"num_groups", groups}});
      const auto y = exec(node, {xs, {np}, {np}}, {x.data(), scale.data(), bias.data()});
      expect_close(y, group_norm_ref(x, n, c, s, c / groups, scale, bias, per_c, double{1e-4f}), 1e-5, 1e-5);
      expect_rows_independent(node, {xs, {np}, {np}}, {x.data(), scale.data(), bias.data()});
      if (groups != c) {  // the other opset's parameter shape is refused
        const int64_t wrong = per_c ? groups : c;
        const std::vector<float> w(static_cast<size_t>(wrong), 1.0f);
        EXPECT_THROW(exec(node, {xs, {wrong}, {wrong}}, {x.data(), w.data(), w.data()}), ModelError);
      }
    }
  }
  EXPECT_THROW(attr_node("GroupNormalization", 3, 18), ModelError);  // num_groups is required
  EXPECT_THROW(attr_node("GroupNormalization", 3, 18, {}, {{"num_groups", 0}}), ModelError);
  EXPECT_THROW(attr_node("GroupNormalization", 3, 17, {}, {{"num_groups", 2}}), ModelError);  // from opset 18
  const Node bad = attr_node("GroupNormalization", 3, 21, {}, {{"num_groups", 4}});
  const std::vector<float> p(6, 1.0f);
  EXPECT_THROW(exec(bad, {xs, {6}, {6}}, {x.data(), p.data(), p.data()}), ModelError);  // 6 % 4 != 0
}

TEST(Normalization, LRN) {
  Rng rng;
  SEED_TRACE(rng);
  const Shape xs{2, 7, 3, 4};
  const int64_t n = 2, c = 7, s = 12;
  const auto x = rng.uniform(xs, -3.0f, 3.0f);
  struct Cfg {
    int64_t size;
    float alpha, beta, bias;
    bool defaults;
  };
  for (const Cfg& cfg : {Cfg{3, 1e-4f, 0.75f, 1.0f, true}, Cfg{4, 0.5f, 0.6f, 2.0f, false}, Cfg{1, 0.3f, 1.0f, 1.5f, false},
                         Cfg{5, 2e-2f, 0.75f, 1.0f, false}, Cfg{9, 0.1f, 0.5f, 0.5f, false}}) {
    SCOPED_TRACE("size " + std::to_string(cfg.size));
    const Node node = cfg.defaults ? attr_node("LRN", 1, 13, {}, {{"size", cfg.size}})
                                   : attr_node("LRN", 1, 9, {{"alpha", cfg.alpha}, {"beta", cfg.beta}, {"bias", cfg.bias}},
                                               {{"size", cfg.size}});
    const auto y = exec(node, {xs}, {x.data()});
    std::vector<double> want(x.size());
    const int64_t before = (cfg.size - 1) / 2, after = (cfg.size - 1 + 1) / 2;  // floor and ceil of (size-1)/2
    for (int64_t i = 0; i < n; ++i)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t j = 0; j < s; ++j) {
          double sq = 0;
          for (int64_t q = std::max<int64_t>(0, ch - before); q <= std::min<int64_t>(c - 1, ch + after); ++q)
            sq += std::pow(x[static_cast<size_t>((i * c + q) * s + j)], 2);
          const size_t e = static_cast<size_t>((i * c + ch) * s + j);
          want[e] = x[e] / std::pow(double{cfg.bias} + double{cfg.alpha} / static_cast<double>(cfg.size) * sq,
                                    double{cfg.beta});
        }
    expect_close(y, want, 2e-6, 1e-7);
    expect_rows_independent(node, {xs}, {x.data()});
  }
  EXPECT_THROW(attr_node("LRN", 1, 13), ModelError);  // size is required
  EXPECT_THROW(attr_node("LRN", 1, 13, {}, {{"size", 0}}), ModelError);
}

TEST(Normalization, LpNormalization) {
  Rng rng;
  SEED_TRACE(rng);
  const Shape xs{3, 4, 5};
  auto x = rng.uniform(xs, -3.0f, 3.0f);
  for (int i = 0; i < 4; ++i) x[static_cast<size_t>(i * 5 + 2)] = 0.0f;  // the vector x[0, :, 2] along axis 1 is zero
  for (int64_t p : {1, 2}) {
    for (int64_t axis : {-1, 1, 2, -2}) {
      SCOPED_TRACE("p " + std::to_string(p) + " axis " + std::to_string(axis));
      const Node node = attr_node("LpNormalization", 1, 9, {}, {{"p", p}, {"axis", axis}});
      const auto y = exec(node, {xs}, {x.data()});
      const int64_t ax = axis < 0 ? axis + 3 : axis;
      std::vector<double> want(x.size());
      for (int64_t e = 0; e < shape_numel(xs); ++e) {
        auto idx = unravel(e, xs);
        double norm = 0;
        for (int64_t k = 0; k < xs[static_cast<size_t>(ax)]; ++k) {
          idx[static_cast<size_t>(ax)] = k;
          int64_t off = 0;
          for (size_t d = 0; d < 3; ++d) off = off * xs[d] + idx[d];
          norm += p == 1 ? std::fabs(x[static_cast<size_t>(off)]) : std::pow(x[static_cast<size_t>(off)], 2);
        }
        norm = p == 1 ? norm : std::sqrt(norm);
        want[static_cast<size_t>(e)] = norm == 0 ? 0.0 : x[static_cast<size_t>(e)] / norm;
      }
      expect_close(y, want, 1e-6, 1e-7);
      if (ax != 0) expect_rows_independent(node, {xs}, {x.data()});
    }
  }
  const Node dflt = attr_node("LpNormalization", 1, 17);  // p = 2, axis = -1
  EXPECT_EQ(dflt.ints, std::vector<int64_t>{2});
  EXPECT_EQ(dflt.axis, -1);
  EXPECT_THROW(attr_node("LpNormalization", 1, 9, {}, {{"p", 3}}), ModelError);
}

TEST(Normalization, BatchNormalizationAttributesOfOpsets9To15) {
  Rng rng;
  SEED_TRACE(rng);
  const Shape xs{4, 3, 5};
  const auto x = rng.uniform(xs, -3.0f, 3.0f);
  const auto scale = rng.uniform({3}), bias = rng.uniform({3}), mean = rng.uniform({3});
  const auto var = rng.uniform({3}, 0.2f, 2.0f);
  std::vector<double> want(x.size());
  for (size_t e = 0; e < x.size(); ++e) {
    const size_t ch = (e / 5) % 3;
    want[e] = (x[e] - mean[ch]) / std::sqrt(var[ch] + double{1e-3f}) * scale[ch] + bias[ch];
  }
  for (int64_t opset : {7, 9, 13, 14, 15, 21}) {
    SCOPED_TRACE("opset " + std::to_string(opset));
    IntAttrs ints;
    if (opset < 9) ints.push_back({"spatial", 1});
    if (opset >= 14) ints.push_back({"training_mode", 0});
    const Node n = attr_node("BatchNormalization", 5, opset, {{"epsilon", 1e-3f}, {"momentum", 0.8f}}, ints);
    const auto y = exec(n, {xs, {3}, {3}, {3}, {3}}, {x.data(), scale.data(), bias.data(), mean.data(), var.data()});
    expect_close(y, want, 1e-5, 1e-5);
  }
  EXPECT_THROW(attr_node("BatchNormalization", 5, 7, {}, {{"spatial", 0}}), ModelError);
  EXPECT_THROW(attr_node("BatchNormalization", 5, 14, {}, {{"training_mode", 1}}), ModelError);
  EXPECT_THROW(attr_node("BatchNormalization", 5, 15, {}, {{"training_mode", 1}}), ModelError);
}

// ---------------------------------------------------------------- fusion

std::vector<float> run_graph(const Graph& g, const Shape& row, const std::vector<float>& x, int64_t rows,
                             int64_t batch, int threads, bool fuse) {
  BackendOptions opt;
  opt.fuse = fuse;
  CpuBackend be(threads, opt);
  be.prepare(g, {row}, batch);
  Shape s1 = row;
  s1.insert(s1.begin(), 1);
  const int64_t out_row = shape_numel(g.infer_shapes({s1})[static_cast<size_t>(g.outputs[0])]);
  const int64_t in_row = shape_numel(row);
  std::vector<float> y(static_cast<size_t>(rows * out_row), NAN);
  for (int64_t r0 = 0; r0 < rows; r0 += batch) {
    const int64_t n = std::min(batch, rows - r0);
    be.run(n, {x.data() + r0 * in_row}, {y.data() + r0 * out_row});
  }
  return y;
}

void expect_fused_equals_unfused(const Graph& g, const Shape& row, Rng& rng) {
  const int64_t rows = 90;
  Shape xs = row;
  xs.insert(xs.begin(), rows);
  auto x = rng.uniform(xs, -5.0f, 5.0f);
  x[0] = 0.0f;
  x[1] = -0.0f;
  x[2] = -3.0f;
  x[3] = 3.0f;
  const auto ref = run_graph(g, row, x, rows, rows, 1, false);
  for (int threads : {1, 2})
    for (int64_t batch : {1, 7, 90}) {
      const auto y = run_graph(g, row, x, rows, batch, threads, true);
      ASSERT_EQ(y.size(), ref.size());
      for (size_t e = 0; e < y.size(); ++e)
        ASSERT_EQ(std::memcmp(&y[e], &ref[e], sizeof(float)), 0)
            << "element " << e << ": fused " << y[e] << " unfused " << ref[e] << " (batch " << batch << ", threads "
            << threads << ")";
    }
}

std::vector<std::string> fused_ops(const Graph& g) {
  std::vector<std::string> ops;
  for (const Node& n : g.nodes) {
    std::string s = n.def->name;
    for (const UnaryStep& st : n.epilogue) s += std::string("+") + unary_fn_name(st.fn);
    ops.push_back(s);
  }
  return ops;
}

TEST(ActivationFusion, EluHardSwishChainBitwiseEqualsUnfused) {
  Rng rng;
  SEED_TRACE(rng);
  test::OnnxModel m(18);
  m.input("x", {-1, 37});
  auto* elu = m.node("Elu", {"x"}, {"e"}, "elu");
  test::OnnxModel::attr_f(elu, "alpha", 0.7f);
  m.node("HardSwish", {"e"}, {"y"}, "hswish");
  m.output("y");
  const Graph g = m.load();
  const Graph f = fuse_graph(g, {{37}});
  EXPECT_EQ(fused_ops(f), (std::vector<std::string>{"Elu+HardSwish"}));
  EXPECT_EQ(f.nodes[0].alpha, 0.7f);
  expect_fused_equals_unfused(g, {37}, rng);
}

TEST(ActivationFusion, GemmEpilogueOfParameterizedActivations) {
  Rng rng;
  SEED_TRACE(rng);
  test::OnnxModel m(18);
  m.input("x", {-1, 24});
  m.init("w", {24, 16}, rng.uniform({24, 16}));
  m.init("b", {16}, rng.uniform({16}));
  m.node("MatMul", {"x", "w"}, {"h"}, "mm");
  m.node("Add", {"h", "b"}, {"hb"}, "add");
  auto* selu = m.node("Selu", {"hb"}, {"s"}, "selu");
  test::OnnxModel::attr_f(selu, "alpha", 1.5f);
  test::OnnxModel::attr_f(selu, "gamma", 0.9f);
  auto* hs = m.node("HardSigmoid", {"s"}, {"h2"}, "hsig");
  test::OnnxModel::attr_f(hs, "alpha", 0.3f);
  test::OnnxModel::attr_f(hs, "beta", 0.45f);
  m.node("Mish", {"h2"}, {"h3"}, "mish");
  m.node("Softplus", {"h3"}, {"y"}, "softplus");
  m.output("y");
  const Graph g = m.load();
  const Graph f = fuse_graph(g, {{24}});
  ASSERT_EQ(fused_ops(f), (std::vector<std::string>{"MatMul+Selu+HardSigmoid+Mish+Softplus"}));
  const auto& ep = f.nodes[0].epilogue;
  EXPECT_EQ(ep[0].alpha, 1.5f);
  EXPECT_EQ(ep[0].beta, 0.9f);  // Selu gamma
  EXPECT_EQ(ep[1].alpha, 0.3f);
  EXPECT_EQ(ep[1].beta, 0.45f);
  expect_fused_equals_unfused(g, {24}, rng);
}

TEST(ActivationFusion, RoundingAndTrigChain) {
  Rng rng;
  SEED_TRACE(rng);
  test::OnnxModel m(17);
  m.input("x", {-1, 3, 11});
  const char* ops[] = {"Sin", "Celu", "Softsign", "Reciprocal", "Round", "Sign", "Cos", "Floor", "Ceil"};
  std::string prev = "x";
  for (size_t k = 0; k < 9; ++k) {
    const std::string out = k + 1 == 9 ? "y" : "t" + std::to_string(k);
    m.node(ops[k], {prev}, {out});
    prev = out;
  }
  m.output("y");
  const Graph g = m.load();
  const Graph f = fuse_graph(g, {{3, 11}});
  ASSERT_EQ(f.nodes.size(), 1u);
  EXPECT_EQ(f.nodes[0].epilogue.size(), 8u);
  expect_fused_equals_unfused(g, {3, 11}, rng);
}

}  // namespace
}  // namespace mgi
