// Conv and the pools on the CUDA backend against the CPU backend: 1-D, 2-D
// and 3-D convs with strides, dilations, pads, auto_pad, groups, depthwise
// (the direct kernel), 1x1 (X as the GEMM operand), bias and a fused unary
// epilogue; MaxPool / AveragePool / LpPool with ceil_mode, dilations and
// count_include_pad; the global pools. Fresh random weights and inputs per run
// (seed printed, MGI_TEST_SEED replays); full, single-row and tail batches.
//
// Tolerances (max|cuda - cpu| / max|cpu|):
//   1e-6  direct conv, pools: each element summed in the CPU backend's order
//   1e-5  GEMM convs (cuBLAS sums the C*k products in another order)
//   2e-3  tf32 (10-bit mantissa operands)
#include <gtest/gtest.h>

#include "gpu_test_util.hpp"

namespace mgi::gputest {
namespace {

constexpr double kExact = 1e-6;
constexpr double kGemm = 1e-5;

struct ConvCase {
  Shape x;  // row shape [C, spatial...]
  int64_t m = 4, group = 1;
  std::vector<int64_t> k, strides, pads, dilations;
  std::string auto_pad = "NOTSET";
  bool bias = true;
};

ConvCase cc(Shape x, int64_t m, int64_t group, std::vector<int64_t> k, std::vector<int64_t> strides = {},
            std::vector<int64_t> pads = {}, std::vector<int64_t> dilations = {}) {
  ConvCase c;
  c.x = std::move(x);
  c.m = m;
  c.group = group;
  c.k = std::move(k);
  c.strides = std::move(strides);
  c.pads = std::move(pads);
  c.dilations = std::move(dilations);
  return c;
}

GraphBuilder conv_graph(Rng& w, const ConvCase& c, bool relu_epilogue = false) {
  GraphBuilder b;
  const int x = b.input(c.x);
  Shape ws{c.m, c.x[0] / c.group};
  ws.insert(ws.end(), c.k.begin(), c.k.end());
  const int64_t fan_in = shape_numel(ws) / c.m;
  std::vector<int> in{x, b.weight(w, ws, fan_in)};
  if (c.bias) in.push_back(b.random_constant(w, {c.m}));
  b.output(b.node("Conv", in, [&](Node& n) {
    n.group = c.group;
    n.strides = c.strides;
    n.pads = c.pads;
    n.dilations = c.dilations;
    n.auto_pad = c.auto_pad;
    if (relu_epilogue) n.epilogue.push_back(UnaryStep{UnaryFn::relu});
  }));
  return b;
}

void check_conv(const ConvCase& c, double tol, const std::string& what) {
  Rng w(test_seed());
  CompareOptions opt{tol};
  opt.max_batch = 9;
  compare_backends(conv_graph(w, c), opt, what);
}

TEST(ConvOp, TwoDPadsBias) { MGI_REQUIRE_CUDA_DEVICE(); check_conv(cc({3, 11, 9}, 8, 1, {3, 3}, {}, {1, 1, 1, 1}), kGemm, "conv 3x3 pad 1"); }

TEST(ConvOp, TwoDStridesDilationsAsymmetricPads) {
  MGI_REQUIRE_CUDA_DEVICE();
  check_conv(cc({5, 13, 12}, 6, 1, {3, 2}, {2, 3}, {1, 0, 2, 1}, {2, 1}), kGemm, "conv strides dilations");
}

TEST(ConvOp, AutoPadSameUpperNoBias) {
  MGI_REQUIRE_CUDA_DEVICE();
  ConvCase c = cc({4, 10, 7}, 5, 1, {4, 3}, {2, 2});
  c.auto_pad = "SAME_UPPER";
  c.bias = false;
  check_conv(c, kGemm, "conv SAME_UPPER");
  c.auto_pad = "SAME_LOWER";
  check_conv(c, kGemm, "conv SAME_LOWER");
  c.auto_pad = "VALID";
  check_conv(c, kGemm, "conv VALID");
}

TEST(ConvOp, Grouped) { MGI_REQUIRE_CUDA_DEVICE(); check_conv(cc({6, 9, 9}, 12, 3, {3, 3}, {}, {1, 1, 1, 1}), kGemm, "conv group 3"); }

TEST(ConvOp, DepthwiseDirect) {
  MGI_REQUIRE_CUDA_DEVICE();
  check_conv(cc({8, 10, 11}, 8, 8, {3, 3}, {2, 1}, {1, 1, 1, 1}), kExact, "depthwise 3x3");
  check_conv(cc({4, 10, 11}, 8, 4, {5, 3}, {1, 2}, {2, 1, 2, 1}, {1, 2}), kExact, "depthwise multiplier 2");
  check_conv(cc({3, 7, 6}, 2, 1, {3, 3}), kExact, "two output channels (direct)");
}

TEST(ConvOp, Pointwise) {
  MGI_REQUIRE_CUDA_DEVICE();
  check_conv(cc({16, 7, 5}, 24, 1, {1, 1}), kGemm, "conv 1x1");
  check_conv(cc({16, 7, 5}, 24, 4, {1, 1}), kGemm, "conv 1x1 group 4");
  check_conv(cc({16, 7, 5}, 24, 1, {1, 1}, {2, 2}), kGemm, "conv 1x1 stride 2 (im2col)");
}

TEST(ConvOp, OneD) {
  MGI_REQUIRE_CUDA_DEVICE();
  check_conv(cc({2, 64}, 8, 1, {7}, {2}, {3, 3}), kGemm, "conv1d k7 s2");
  check_conv(cc({8, 33}, 16, 2, {3}, {1}, {2, 2}, {2}), kGemm, "conv1d dilated grouped");
}

TEST(ConvOp, ThreeD) {
  MGI_REQUIRE_CUDA_DEVICE();
  check_conv(cc({3, 6, 7, 5}, 4, 1, {3, 3, 2}, {1, 2, 1}, {1, 1, 0, 1, 0, 1}), kGemm, "conv3d");
  check_conv(cc({4, 5, 6, 5}, 4, 4, {3, 3, 3}, {}, {1, 1, 1, 1, 1, 1}), kExact, "conv3d depthwise");
}

TEST(ConvOp, FusedReluEpilogue) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  CompareOptions opt{kGemm};
  opt.max_batch = 5;
  opt.cuda.fuse = false;  // the epilogue set by hand stays as written
  compare_backends(conv_graph(w, cc({3, 8, 8}, 6, 1, {3, 3}, {}, {1, 1, 1, 1}), true), opt, "conv + relu epilogue");
  compare_backends(conv_graph(w, cc({3, 8, 8}, 3, 3, {3, 3}, {}, {1, 1, 1, 1}), true), opt, "depthwise + relu epilogue");
}

TEST(ConvOp, Tf32) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  CompareOptions opt{2e-3};
  opt.max_batch = 6;
  opt.cuda.precision = Precision::tf32;
  compare_backends(conv_graph(w, cc({16, 12, 12}, 32, 1, {3, 3}, {}, {1, 1, 1, 1})), opt, "conv tf32");
}

TEST(ConvOp, ResNetStem) {
  MGI_REQUIRE_CUDA_DEVICE();
  check_conv(cc({3, 64, 64}, 16, 1, {7, 7}, {2, 2}, {3, 3, 3, 3}), kGemm, "conv 7x7 s2 stem");
}

TEST(ConvTransposeOp, StridesPadsGroupsOutputPadding) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  struct Case {
    Shape x, w;
    int64_t group;
    std::vector<int64_t> strides, pads, dilations, output_padding;
  };
  const std::vector<Case> cases = {
      {{8, 6, 6}, {8, 4, 2, 2}, 1, {2, 2}, {0, 0, 0, 0}, {1, 1}, {0, 0}},            // U-Net up-sampling
      {{6, 5, 7}, {6, 3, 3, 3}, 2, {2, 1}, {1, 0, 1, 1}, {1, 2}, {1, 0}},
      {{4, 17}, {4, 5, 4}, 1, {3}, {1, 2}, {1}, {2}},                                   // 1-D
      {{3, 3, 4, 3}, {3, 2, 2, 3, 2}, 1, {2, 1, 2}, {0, 1, 0, 0, 1, 1}, {1, 1, 1}, {1, 0, 0}},  // 3-D
  };
  for (const Case& c : cases) {
    GraphBuilder b;
    const int x = b.input(c.x);
    const int64_t m = c.w[1] * c.group;
    b.output(b.node("ConvTranspose", {x, b.weight(w, c.w, shape_numel(c.w) / c.w[0]), b.random_constant(w, {m})},
                    [&](Node& n) {
                      n.group = c.group;
                      n.strides = c.strides;
                      n.pads = c.pads;
                      n.dilations = c.dilations;
                      n.output_padding = c.output_padding;
                    }));
    CompareOptions opt{kGemm};
    opt.max_batch = 6;
    compare_backends(b, opt, "ConvTranspose x " + shape_str(c.x) + " w " + shape_str(c.w));
  }
}

// ---- pools ----

GraphBuilder pool_graph(const std::string& op, const Shape& row, const std::function<void(Node&)>& set) {
  GraphBuilder b;
  b.output(b.node(op, {b.input(row)}, set));
  return b;
}

void check_pool(const std::string& op, const Shape& row, double tol, const std::function<void(Node&)>& set,
                const std::string& what) {
  CompareOptions opt{tol};
  opt.max_batch = 7;
  compare_backends(pool_graph(op, row, set), opt, what);
}

TEST(PoolOp, MaxPool) {
  MGI_REQUIRE_CUDA_DEVICE();
  check_pool("MaxPool", {3, 12, 11}, kExact, [](Node& n) { n.kernel_shape = {3, 3}; n.strides = {2, 2}; n.pads = {1, 1, 1, 1}; },
             "maxpool 3x3 s2 p1");
  check_pool("MaxPool", {3, 12, 11}, kExact,
             [](Node& n) { n.kernel_shape = {3, 2}; n.strides = {2, 2}; n.ceil_mode = true; n.dilations = {2, 1}; },
             "maxpool ceil_mode dilations");
  check_pool("MaxPool", {2, 40}, kExact, [](Node& n) { n.kernel_shape = {4}; n.strides = {3}; n.auto_pad = "SAME_UPPER"; },
             "maxpool 1-D SAME_UPPER");
  check_pool("MaxPool", {2, 6, 7, 5}, kExact, [](Node& n) { n.kernel_shape = {2, 3, 2}; n.strides = {2, 1, 2}; },
             "maxpool 3-D");
}

TEST(PoolOp, AveragePool) {
  MGI_REQUIRE_CUDA_DEVICE();
  check_pool("AveragePool", {3, 12, 11}, kExact,
             [](Node& n) { n.kernel_shape = {3, 3}; n.strides = {2, 2}; n.pads = {1, 1, 1, 1}; }, "avgpool excl pad");
  check_pool("AveragePool", {3, 12, 11}, kExact,
             [](Node& n) { n.kernel_shape = {3, 3}; n.strides = {2, 2}; n.pads = {1, 0, 1, 2}; n.count_include_pad = true; },
             "avgpool count_include_pad");
  check_pool("AveragePool", {3, 12, 11}, kExact,
             [](Node& n) { n.kernel_shape = {2, 3}; n.strides = {2, 2}; n.ceil_mode = true; n.count_include_pad = true; },
             "avgpool ceil_mode");
  check_pool("AveragePool", {4, 50}, kExact, [](Node& n) { n.kernel_shape = {5}; n.strides = {2}; }, "avgpool 1-D");
}

TEST(PoolOp, LpPool) {
  MGI_REQUIRE_CUDA_DEVICE();
  check_pool("LpPool", {3, 9, 8}, 1e-5, [](Node& n) { n.kernel_shape = {2, 2}; n.strides = {2, 2}; n.lp_p = 2; }, "lppool p2");
  check_pool("LpPool", {3, 9, 8}, 1e-5, [](Node& n) { n.kernel_shape = {3, 3}; n.lp_p = 3; }, "lppool p3");
}

TEST(PoolOp, GlobalPools) {
  MGI_REQUIRE_CUDA_DEVICE();
  check_pool("GlobalAveragePool", {5, 7, 7}, kExact, {}, "global avg 7x7");
  check_pool("GlobalAveragePool", {3, 37}, kExact, {}, "global avg 1-D");
  check_pool("GlobalAveragePool", {2, 3, 5, 4}, kExact, {}, "global avg 3-D");
  check_pool("GlobalMaxPool", {5, 9, 6}, kExact, {}, "global max");
}

// A small CNN: conv -> relu -> maxpool -> depthwise -> 1x1 -> global pool -> gemm.
TEST(ConvOp, SmallCnn) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  GraphBuilder b;
  int x = b.input({3, 20, 20});
  x = b.node("Conv", {x, b.weight(w, {8, 3, 3, 3}, 27), b.random_constant(w, {8})}, [](Node& n) { n.pads = {1, 1, 1, 1}; });
  x = b.node("Relu", {x});
  x = b.node("MaxPool", {x}, [](Node& n) { n.kernel_shape = {2, 2}; n.strides = {2, 2}; });
  x = b.node("Conv", {x, b.weight(w, {8, 1, 3, 3}, 9)}, [](Node& n) { n.group = 8; n.pads = {1, 1, 1, 1}; });
  x = b.node("Relu", {x});
  x = b.node("Conv", {x, b.weight(w, {16, 8, 1, 1}, 8), b.random_constant(w, {16})});
  x = b.node("GlobalAveragePool", {x});
  x = b.node("Flatten", {x});
  b.output(b.linear_relu(x, w, {16, 5}));
  CompareOptions opt{kGemm};
  opt.max_batch = 11;
  compare_backends(b, opt, "small cnn");
  opt.cuda.cuda_graphs = true;
  compare_backends(b, opt, "small cnn (CUDA graphs)");
}

}  // namespace
}  // namespace mgi::gputest
