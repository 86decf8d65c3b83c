// Each op of the graph IR on the CUDA backend against the CPU backend, on
// graphs built in code with fresh random weights and inputs.
//
// Tolerances (max|cuda - cpu| / max|cpu|), chosen per op:
//   1e-6  layout ops, Add/Sub/Mul/Div, Relu/LeakyRelu/Neg/Abs, BatchNorm: both sides
//         round each element once in the same order, so any difference is at most an ulp
//   2e-6  Exp/Log/Sqrt/Tanh/Erf/Sigmoid/Gelu, Softmax/LogSoftmax: CUDA's libm is within
//         2 ulp, glibc within 1
//   1e-5  Pow (CUDA powf within 4 ulp; results span orders of magnitude), Gemm/MatMul
//         (cuBLAS sums K products in another order), LayerNormalization (mean/var
//         sums in another order, then divided by a small std)
#include <gtest/gtest.h>

#include "gpu_test_util.hpp"

namespace mgi::gputest {
namespace {

constexpr double kExact = 1e-6;
constexpr double kLibm = 2e-6;
constexpr double kSums = 1e-5;

// ---- Gemm ----

struct GemmCase {
  bool trans_a, trans_b;
  float alpha, beta;
  int c_kind;  // 0: none, 1: [N] constant, 2: [1, N] constant, 3: [rows, N] input, 4: [rows, 1] input, 5: scalar
};

class GemmOp : public ::testing::TestWithParam<GemmCase> {};

TEST_P(GemmOp, MatchesCpu) {
  MGI_REQUIRE_CUDA_DEVICE();
  const GemmCase p = GetParam();
  Rng w(test_seed() ^ 0x9e37);
  const int64_t k = 67, n = 45;
  GraphBuilder b;
  int x = b.input({k});
  // transA needs A stored [K, M]: transpose the [rows, K] input first.
  if (p.trans_a) x = b.node("Transpose", {x}, [](Node& nd) { nd.perm = {1, 0}; });
  const int wgt = b.random_constant(w, p.trans_b ? Shape{n, k} : Shape{k, n});
  std::vector<int> ins = {x, wgt};
  switch (p.c_kind) {
    case 1: ins.push_back(b.random_constant(w, {n})); break;
    case 2: ins.push_back(b.random_constant(w, {1, n})); break;
    case 3: ins.push_back(b.input({n})); break;
    case 4: ins.push_back(b.input({1})); break;
    case 5: ins.push_back(b.random_constant(w, {})); break;
    default: break;
  }
  const int y = b.node("Gemm", ins, [&](Node& nd) {
    nd.trans_a = p.trans_a;
    nd.trans_b = p.trans_b;
    nd.alpha = p.alpha;
    nd.beta = p.beta;
  });
  b.output(y);
  compare_backends(b, {kSums}, "Gemm");
}

INSTANTIATE_TEST_SUITE_P(Variants, GemmOp,
                         ::testing::Values(GemmCase{false, false, 1.0f, 1.0f, 0}, GemmCase{false, true, 1.0f, 1.0f, 1},
                                           GemmCase{false, true, 0.5f, 2.0f, 2}, GemmCase{true, false, 1.0f, 1.0f, 1},
                                           GemmCase{true, true, 1.5f, 0.25f, 3}, GemmCase{false, false, 1.0f, 1.0f, 4},
                                           GemmCase{false, true, 1.0f, 0.0f, 1}, GemmCase{false, false, 2.0f, -1.0f, 5}),
                         [](const ::testing::TestParamInfo<GemmCase>& i) {
                           const GemmCase& c = i.param;
                           return "tA" + std::to_string(c.trans_a) + "_tB" + std::to_string(c.trans_b) + "_C" +
                                  std::to_string(c.c_kind) + "_" + std::to_string(i.index);
                         });

// ---- MatMul ----

TEST(MatMulOp, TwoD) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  GraphBuilder b;
  b.output(b.node("MatMul", {b.input({96}), b.random_constant(w, {96, 33})}));
  compare_backends(b, {kSums}, "MatMul [r,96]x[96,33]");
}

TEST(MatMulOp, LeadingDimsFoldIntoRows) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  GraphBuilder b;
  b.output(b.node("MatMul", {b.input({5, 24}), b.random_constant(w, {24, 17})}));
  compare_backends(b, {kSums}, "MatMul [r,5,24]x[24,17]");
}

TEST(MatMulOp, BatchedBothInputs) {
  MGI_REQUIRE_CUDA_DEVICE();
  GraphBuilder b;
  b.output(b.node("MatMul", {b.input({6, 20}), b.input({20, 9})}));
  compare_backends(b, {kSums}, "MatMul [r,6,20]x[r,20,9]");
}

TEST(MatMulOp, BroadcastBatchNeedsHostLoop) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  GraphBuilder b;  // batch [r, 3] against [3]: strides do not merge
  b.output(b.node("MatMul", {b.input({3, 4, 10}), b.random_constant(w, {3, 10, 7})}));
  compare_backends(b, {kSums}, "MatMul [r,3,4,10]x[3,10,7]");
}

TEST(MatMulOp, SharedLeftOperand) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  GraphBuilder b;
  b.output(b.node("MatMul", {b.random_constant(w, {8, 12}), b.input({12, 5})}));
  compare_backends(b, {kSums}, "MatMul [8,12]x[r,12,5]");
}

TEST(MatMulOp, VectorOperands) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  GraphBuilder b;
  b.output(b.node("MatMul", {b.input({30}), b.random_constant(w, {30})}));          // -> [r]
  b.output(b.node("MatMul", {b.random_constant(w, {14}), b.input({14, 6})}));       // -> [r, 6]
  compare_backends(b, {kSums}, "MatMul 1-D operands");
}

// ---- Binary elementwise with broadcasting ----

struct BinaryCase {
  Shape a, b;  // per-row shapes of inputs; full shapes of constants
  bool a_const, b_const;
};

class BinaryOpTest : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

const std::vector<BinaryCase>& binary_cases() {
  static const std::vector<BinaryCase> cases = {
      {{23}, {23}, false, false},         // same shape: flat path
      {{23}, {23}, false, true},          // row-vector bias
      {{23}, {}, false, true},            // scalar
      {{4, 6}, {4, 1}, false, false},     // column broadcast inside each row
      {{1, 5}, {4, 1}, false, true},      // both broadcast: [r,1,5] op [4,1] -> [r,4,5]
      {{7}, {7}, true, false},            // constant on the left
      {{2, 3, 4, 5}, {3, 1, 5}, false, true},
  };
  return cases;
}

TEST_P(BinaryOpTest, MatchesCpu) {
  MGI_REQUIRE_CUDA_DEVICE();
  const auto [op, idx] = GetParam();
  const BinaryCase& c = binary_cases()[static_cast<size_t>(idx)];
  Rng w(test_seed() ^ 0x51);
  const bool pow = op == "Pow", div = op == "Div";
  // Pow: positive bases, moderate exponents; Div: divisors away from 0.
  const float blo = pow ? -2.0f : div ? 0.5f : -1.0f, bhi = pow ? 2.0f : div ? 2.0f : 1.0f;
  GraphBuilder b;
  const int a = c.a_const ? b.random_constant(w, c.a, 0.1f, 3.0f) : b.input(c.a);
  const int bb = c.b_const ? b.random_constant(w, c.b, blo, bhi) : b.input(c.b);
  b.output(b.node(op, {a, bb}));
  CompareOptions opt{pow ? kSums : kExact};
  if (pow || div) opt.lo = 0.1f, opt.hi = 3.0f;  // inputs: bases and divisors positive
  compare_backends(b, opt, op + " case " + std::to_string(idx));
}

INSTANTIATE_TEST_SUITE_P(Broadcast, BinaryOpTest,
                         ::testing::Combine(::testing::Values("Add", "Sub", "Mul", "Div", "Pow"),
                                            ::testing::Range(0, 7)),
                         [](const ::testing::TestParamInfo<std::tuple<std::string, int>>& i) {
                           return std::get<0>(i.param) + "_case" +
                                  std::to_string(std::get<1>(i.param));
                         });

TEST(PowOp, SquareIsExact) {
  MGI_REQUIRE_CUDA_DEVICE();
  GraphBuilder b;
  b.output(b.node("Pow", {b.input({50}), b.constant({}, {2.0f})}));
  compare_backends(b, {0.0}, "Pow x^2");  // x * x on both sides
}

// ---- Unary ----

struct UnaryCase {
  std::string op;
  bool gelu_tanh;
  float lo, hi;
  double tol;
};

class UnaryOpTest : public ::testing::TestWithParam<UnaryCase> {};

TEST_P(UnaryOpTest, MatchesCpu) {
  MGI_REQUIRE_CUDA_DEVICE();
  const UnaryCase c = GetParam();
  GraphBuilder b;
  b.output(b.node(c.op, {b.input({3, 41})}, [&](Node& n) {
    n.gelu_tanh = c.gelu_tanh;
    if (c.op == "LeakyRelu") n.alpha = 0.13f;
  }));
  CompareOptions opt{c.tol};
  opt.lo = c.lo;
  opt.hi = c.hi;
  compare_backends(b, opt, c.op + (c.gelu_tanh ? "(tanh)" : ""));
}

INSTANTIATE_TEST_SUITE_P(
    All, UnaryOpTest,
    ::testing::Values(UnaryCase{"Relu", false, -3, 3, kExact}, UnaryCase{"LeakyRelu", false, -3, 3, kExact},
                      UnaryCase{"Sigmoid", false, -8, 8, kLibm}, UnaryCase{"Tanh", false, -4, 4, kLibm},
                      UnaryCase{"Erf", false, -3, 3, kLibm}, UnaryCase{"Gelu", false, -4, 4, kLibm},
                      UnaryCase{"Gelu", true, -4, 4, kLibm}, UnaryCase{"Exp", false, -5, 5, kLibm},
                      UnaryCase{"Log", false, 0.01f, 50, kLibm}, UnaryCase{"Sqrt", false, 0, 100, kExact},
                      UnaryCase{"Neg", false, -3, 3, kExact}, UnaryCase{"Abs", false, -3, 3, kExact}),
    [](const ::testing::TestParamInfo<UnaryCase>& i) {
      return i.param.op + (i.param.gelu_tanh ? "_tanh" : "");
    });

// ---- Softmax / LogSoftmax ----

struct SoftmaxCase {
  Shape row;
  int64_t axis;
  bool flatten_2d;  // opset < 13 semantics
};

class SoftmaxOpTest : public ::testing::TestWithParam<std::tuple<std::string, SoftmaxCase>> {};

TEST_P(SoftmaxOpTest, MatchesCpu) {
  MGI_REQUIRE_CUDA_DEVICE();
  const auto [op, c] = GetParam();
  GraphBuilder b;
  b.output(b.node(op, {b.input(c.row)}, [&](Node& n) {
    n.axis = c.axis;
    n.softmax_2d = c.flatten_2d;
  }));
  CompareOptions opt{kLibm};
  opt.lo = -6.0f;
  opt.hi = 6.0f;
  compare_backends(b, opt, op + " row " + shape_str(c.row) + " axis " + std::to_string(c.axis) +
                               (c.flatten_2d ? " (2-D)" : ""));
}

INSTANTIATE_TEST_SUITE_P(
    Axes, SoftmaxOpTest,
    ::testing::Combine(::testing::Values("Softmax", "LogSoftmax"),
                       ::testing::Values(SoftmaxCase{{10}, -1, false},         // a warp per row
                                         SoftmaxCase{{3000}, 1, false},        // a block per row
                                         SoftmaxCase{{3, 7}, 1, false},        // strided (inner 7)
                                         SoftmaxCase{{3, 7}, -1, false},
                                         SoftmaxCase{{3, 4}, 1, true},         // opset < 13: over 12 values
                                         SoftmaxCase{{2, 3, 4}, 2, true})),
    [](const ::testing::TestParamInfo<std::tuple<std::string, SoftmaxCase>>& i) {
      return std::get<0>(i.param) + "_" + std::to_string(i.index);
    });

// ---- Layout: Flatten / Reshape / Identity / Transpose ----

TEST(LayoutOps, AliasesFeedLaterNodes) {
  MGI_REQUIRE_CUDA_DEVICE();
  GraphBuilder b;
  const int x = b.input({2, 3, 4});
  const int f = b.node("Flatten", {x}, [](Node& n) { n.axis = 1; });           // [r, 24]
  const int r = b.node("Reshape", {f, b.constant_i64({3}, {0, 6, -1})});  // [r, 6, 4]: 0 copies the batch
  const int i = b.node("Identity", {r});
  const int y = b.node("Relu", {i});
  b.output(y);
  b.output(i);  // an alias as a graph output
  b.output(f);
  compare_backends(b, {0.0}, "Flatten/Reshape/Identity");
}

TEST(LayoutOps, IdentityOfInputIsOutput) {
  MGI_REQUIRE_CUDA_DEVICE();
  GraphBuilder b;
  b.output(b.node("Identity", {b.input({5})}));
  compare_backends(b, {0.0}, "Identity");
}

class TransposeOp : public ::testing::TestWithParam<std::vector<int64_t>> {};

TEST_P(TransposeOp, MatchesCpu) {
  MGI_REQUIRE_CUDA_DEVICE();
  GraphBuilder b;
  const std::vector<int64_t> perm = GetParam();
  const int t = b.node("Transpose", {b.input({2, 1, 3, 5})}, [&](Node& n) { n.perm = perm; });
  b.output(b.node("Abs", {t}));  // also checks the transposed layout is what a consumer reads
  compare_backends(b, {0.0}, "Transpose " + shape_str(perm));
}

INSTANTIATE_TEST_SUITE_P(Perms, TransposeOp,
                         ::testing::Values(std::vector<int64_t>{0, 1, 2, 3, 4}, std::vector<int64_t>{0, 4, 3, 2, 1},
                                           std::vector<int64_t>{0, 3, 1, 4, 2}, std::vector<int64_t>{0, 2, 1, 3, 4}),
                         [](const ::testing::TestParamInfo<std::vector<int64_t>>& i) {
                           std::string s = "perm";
                           for (int64_t d : i.param) s += std::to_string(d);
                           return s;
                         });

TEST(TransposeOp2, BatchMovesInside) {
  MGI_REQUIRE_CUDA_DEVICE();
  GraphBuilder b;  // [r, 6] -> [6, r] -> MatMul-free consumer -> back to [r, 6]
  const int t = b.node("Transpose", {b.input({6})}, [](Node& n) { n.perm = {1, 0}; });
  const int s = b.node("Sigmoid", {t});
  b.output(b.node("Transpose", {s}));  // empty perm = reverse
  compare_backends(b, {kLibm}, "Transpose through the batch dim");
}

// ---- Normalization ----

TEST(BatchNormOp, NCHW) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  const int64_t c = 5;
  GraphBuilder b;
  const int x = b.input({c, 3, 4});
  b.output(b.node("BatchNormalization",
                  {x, b.random_constant(w, {c}, 0.5f, 2.0f), b.random_constant(w, {c}),
                   b.random_constant(w, {c}), b.random_constant(w, {c}, 0.1f, 3.0f)},
                  [](Node& n) { n.epsilon = 1e-3f; }));
  compare_backends(b, {kExact}, "BatchNormalization [r,5,3,4]");
}

TEST(BatchNormOp, NC) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  const int64_t c = 33;
  GraphBuilder b;
  b.output(b.node("BatchNormalization",
                  {b.input({c}), b.random_constant(w, {c}, 0.5f, 2.0f), b.random_constant(w, {c}),
                   b.random_constant(w, {c}), b.random_constant(w, {c}, 0.1f, 3.0f)}));
  compare_backends(b, {kExact}, "BatchNormalization [r,33]");
}

struct LayerNormCase {
  Shape row;
  int64_t axis;
  Shape scale, bias;
  bool has_bias;
};

class LayerNormOp : public ::testing::TestWithParam<LayerNormCase> {};

TEST_P(LayerNormOp, MatchesCpu) {
  MGI_REQUIRE_CUDA_DEVICE();
  const LayerNormCase c = GetParam();
  Rng w(test_seed());
  GraphBuilder b;
  std::vector<int> ins = {b.input(c.row), b.random_constant(w, c.scale, 0.5f, 1.5f)};
  if (c.has_bias) ins.push_back(b.random_constant(w, c.bias));
  b.output(b.node("LayerNormalization", ins, [&](Node& n) {
    n.axis = c.axis;
    n.epsilon = 1e-5f;
  }));
  CompareOptions opt{kSums};
  opt.lo = 3.0f;  // a large mean relative to the spread checks the centred variance
  opt.hi = 5.0f;
  compare_backends(b, opt, "LayerNormalization row " + shape_str(c.row) + " axis " + std::to_string(c.axis));
}

INSTANTIATE_TEST_SUITE_P(Shapes, LayerNormOp,
                         ::testing::Values(LayerNormCase{{64}, -1, {64}, {64}, true},
                                           LayerNormCase{{4, 8}, 1, {4, 8}, {4, 8}, true},
                                           LayerNormCase{{3, 16}, -1, {16}, {}, false},
                                           LayerNormCase{{3000}, 1, {3000}, {3000}, true},  // a block per row
                                           LayerNormCase{{40}, -1, {1}, {1}, true}),
                         [](const ::testing::TestParamInfo<LayerNormCase>& i) { return "case" + std::to_string(i.index); });

}  // namespace
}  // namespace mgi::gputest
