// Graph fusion (graph_fuse.hpp): what fuses and what must not, and the CPU
// backend's contract that a fused graph gives BITWISE the same results as the
// same graph run node by node, for any batch size and thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "backend.hpp"
#include "cpu_backend.hpp"
#include "error.hpp"
#include "graph_fuse.hpp"
#include "unary.hpp"
#include "onnx_test_model.hpp"
#include "test_rng.hpp"

namespace mgi {
namespace {

using test::Rng;

std::vector<std::string> op_list(const Graph& g) {
  std::vector<std::string> ops;
  for (const Node& n : g.nodes) {
    std::string s = n.def->name;
    if (n.is("MatMul") && n.inputs.size() > 2) s += "+bias";
    for (const UnaryStep& st : n.epilogue) s += std::string("+") + unary_fn_name(st.fn);
    ops.push_back(s);
  }
  return ops;
}

// Runs `rows` rows in chunks of `batch`; one output.
std::vector<float> run(const Graph& g, const Shape& row, const std::vector<float>& x, int64_t rows, int64_t batch,
                       int threads, bool fuse) {
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

// Fused == unfused bitwise (memcmp: NaN payloads and signed zeros included), for
// several batch sizes and 1 or 2 threads.
void expect_fused_bitwise(const Graph& g, const Shape& row, Rng& rng, float lo = -3.0f, float hi = 3.0f) {
  const int64_t rows = 150;
  Shape xs = row;
  xs.insert(xs.begin(), rows);
  const auto x = rng.uniform(xs, lo, hi);
  const auto ref = run(g, row, x, rows, rows, 1, false);
  for (int threads : {1, 2})
    for (int64_t batch : {1, 13, 64, 150}) {
      const auto y = run(g, row, x, rows, batch, threads, true);
      ASSERT_EQ(y.size(), ref.size());
      for (size_t e = 0; e < y.size(); ++e)
        ASSERT_EQ(std::memcmp(&y[e], &ref[e], sizeof(float)), 0)
            << "element " << e << ": fused " << y[e] << " unfused " << ref[e] << " (batch " << batch << ", threads "
            << threads << ")";
    }
}

TEST(GraphFuse, GemmBiasReluChainsIntoOneNode) {
  Rng rng;
  SEED_TRACE(rng);
  test::OnnxModel m;
  m.input("x", {-1, 24});
  m.init("w1", {40, 24}, rng.uniform({40, 24}));
  m.init("b1", {40}, rng.uniform({40}));
  m.init("w2", {40, 7}, rng.uniform({40, 7}));
  m.init("b2", {7}, rng.uniform({7}));
  auto* g1 = m.node("Gemm", {"x", "w1", "b1"}, {"h"}, "fc1");  // PyTorch Linear: C is the bias
  test::OnnxModel::attr_i(g1, "transB", 1);
  m.node("Relu", {"h"}, {"hr"}, "relu");
  m.node("Gemm", {"hr", "w2"}, {"z"}, "fc2");  // bias as a separate Add
  m.node("Add", {"b2", "z"}, {"zb"}, "add2");  // bias first: b + y == y + b in IEEE arithmetic
  m.node("Tanh", {"zb"}, {"y"}, "tanh");
  m.output("y");
  const Graph g = m.load();
  FuseStats st;
  const Graph f = fuse_graph(g, {{24}}, &st);
  EXPECT_EQ(op_list(f), (std::vector<std::string>{"Gemm+Relu", "Gemm+Tanh"}));
  EXPECT_EQ(st.gemm_bias, 1);
  EXPECT_EQ(st.gemm_unary, 2);
  EXPECT_EQ(st.nodes_before, 5);
  EXPECT_EQ(st.nodes_after, 2);
  EXPECT_EQ(f.nodes[1].name, "fc2+add2+tanh");
  EXPECT_EQ(f.nodes[1].inputs.size(), 3u);  // C = the Add's bias
  EXPECT_EQ(f.nodes[1].beta, 1.0f);
  EXPECT_EQ(f.nodes[1].outputs[0], f.outputs[0]);
  // The unfused graph is untouched and still runs.
  EXPECT_EQ(op_list(g).size(), 5u);
  expect_fused_bitwise(g, {24}, rng);
}

TEST(GraphFuse, MatMulBiasGeluBothForms) {
  for (const char* approx : {"none", "tanh"}) {
    Rng rng;
    SEED_TRACE(rng);
    SCOPED_TRACE(approx);
    test::OnnxModel m(20);
    m.input("x", {-1, 33});
    m.init("w", {33, 70}, rng.uniform({33, 70}));
    m.init("b", {1, 70}, rng.uniform({1, 70}));
    m.node("MatMul", {"x", "w"}, {"h"}, "mm");
    m.node("Add", {"h", "b"}, {"hb"}, "add");
    auto* ge = m.node("Gelu", {"hb"}, {"y"}, "gelu");
    test::OnnxModel::attr_s(ge, "approximate", approx);
    m.output("y");
    const Graph g = m.load();
    const Graph f = fuse_graph(g, {{33}});
    EXPECT_EQ(op_list(f), (std::vector<std::string>{"MatMul+bias+Gelu"}));
    EXPECT_EQ(f.nodes[0].epilogue[0].gelu_tanh, std::string(approx) == "tanh");
    expect_fused_bitwise(g, {33}, rng);
  }
}

TEST(GraphFuse, SequenceMatMulBiasLeakyReluSigmoid) {
  // [N, 5, 16] x [16, 12] + [12]: A's leading dims fold into the GEMM rows.
  Rng rng;
  SEED_TRACE(rng);
  test::OnnxModel m;
  m.input("x", {-1, 5, 16});
  m.init("w", {16, 12}, rng.uniform({16, 12}));
  m.init("b", {12}, rng.uniform({12}));
  m.node("MatMul", {"x", "w"}, {"h"});
  m.node("Add", {"h", "b"}, {"hb"});
  auto* lr = m.node("LeakyRelu", {"hb"}, {"l"});
  test::OnnxModel::attr_f(lr, "alpha", 0.2f);
  m.node("Sigmoid", {"l"}, {"s"});
  m.node("Flatten", {"s"}, {"y"});
  m.output("y");
  const Graph g = m.load();
  const Graph f = fuse_graph(g, {{5, 16}});
  EXPECT_EQ(op_list(f), (std::vector<std::string>{"MatMul+bias+LeakyRelu+Sigmoid", "Flatten"}));
  EXPECT_EQ(f.nodes[0].epilogue[0].alpha, 0.2f);
  expect_fused_bitwise(g, {5, 16}, rng);
}

TEST(GraphFuse, GemmScaledC) {
  // alpha * A B + beta * C with beta != 1: the epilogue adds beta * C exactly as the Gemm did.
  Rng rng;
  SEED_TRACE(rng);
  test::OnnxModel m;
  m.input("x", {-1, 9});
  m.init("w", {9, 11}, rng.uniform({9, 11}));
  m.init("c", {1, 11}, rng.uniform({1, 11}));
  auto* gm = m.node("Gemm", {"x", "w", "c"}, {"h"});
  test::OnnxModel::attr_f(gm, "alpha", 0.7f);
  test::OnnxModel::attr_f(gm, "beta", -1.3f);
  m.node("Sigmoid", {"h"}, {"s"});
  m.node("Exp", {"s"}, {"y"});
  m.output("y");
  const Graph g = m.load();
  EXPECT_EQ(op_list(fuse_graph(g, {{9}})), (std::vector<std::string>{"Gemm+Sigmoid+Exp"}));
  expect_fused_bitwise(g, {9}, rng);
}

TEST(GraphFuse, UnaryChainOnePass) {
  Rng rng;
  SEED_TRACE(rng);
  test::OnnxModel m;
  m.input("x", {-1, 300});
  m.node("Abs", {"x"}, {"a"});
  m.node("Sqrt", {"a"}, {"s"});
  m.node("Log", {"s"}, {"l"});
  m.node("Neg", {"l"}, {"n"});
  m.node("Erf", {"n"}, {"y"});
  m.output("y");
  const Graph g = m.load();
  FuseStats st;
  EXPECT_EQ(op_list(fuse_graph(g, {{300}}, &st)), (std::vector<std::string>{"Abs+Sqrt+Log+Neg+Erf"}));
  EXPECT_EQ(st.chain_unary, 4);
  expect_fused_bitwise(g, {300}, rng);  // includes log(0) = -inf and NaN-free erf(inf)
}

// Conv + Relu (+ a further unary op) into the Conv's epilogue, on the im2col path and the
// depthwise direct loop; a Relu after a residual Add stays (Add is not fused).
TEST(GraphFuse, ConvReluIntoConvEpilogue) {
  Rng rng;
  SEED_TRACE(rng);
  test::OnnxModel m;
  m.input("x", {-1, 4, 9, 9});
  m.init("w1", {8, 4, 3, 3}, rng.uniform({8, 4, 3, 3}));
  m.init("b1", {8}, rng.uniform({8}));
  m.init("w2", {8, 1, 3, 3}, rng.uniform({8, 1, 3, 3}));
  auto* c1 = m.node("Conv", {"x", "w1", "b1"}, {"c1"});
  test::OnnxModel::attr_ints(c1, "pads", {1, 1, 1, 1});
  m.node("Relu", {"c1"}, {"r1"});
  auto* c2 = m.node("Conv", {"r1", "w2"}, {"c2"});  // depthwise: group 8
  test::OnnxModel::attr_i(c2, "group", 8);
  test::OnnxModel::attr_ints(c2, "pads", {1, 1, 1, 1});
  m.node("Relu", {"c2"}, {"r2"});
  m.node("Tanh", {"r2"}, {"t2"});
  m.node("Add", {"t2", "r1"}, {"s"});
  m.node("Relu", {"s"}, {"y"});
  m.output("y");
  const Graph g = m.load();
  FuseStats st;
  EXPECT_EQ(op_list(fuse_graph(g, {{4, 9, 9}}, &st)),
            (std::vector<std::string>{"Conv+Relu", "Conv+Relu+Tanh", "Add", "Relu"}));
  EXPECT_EQ(st.conv_unary, 3);
  expect_fused_bitwise(g, {4, 9, 9}, rng);
}

TEST(GraphFuse, LongChainSplitsAtTheLimit) {
  Rng rng;
  SEED_TRACE(rng);
  test::OnnxModel m;
  m.input("x", {-1, 8});
  std::string prev = "x";
  const int count = 2 * static_cast<int>(kMaxEpilogue) + 3;
  for (int i = 0; i < count; ++i) {
    const std::string out = i + 1 == count ? "y" : "t" + std::to_string(i);
    m.node(i % 2 ? "Tanh" : "Neg", {prev}, {out});
    prev = out;
  }
  m.output("y");
  const Graph g = m.load();
  const Graph f = fuse_graph(g, {{8}});
  ASSERT_EQ(f.nodes.size(), 3u);
  EXPECT_EQ(f.nodes[0].epilogue.size(), kMaxEpilogue);
  EXPECT_EQ(f.nodes[1].epilogue.size(), kMaxEpilogue);
  EXPECT_EQ(f.nodes[2].epilogue.size(), 0u);
  expect_fused_bitwise(g, {8}, rng);
}

TEST(GraphFuse, NothingFusesAcrossAnOutputOrASecondReader) {
  Rng rng;
  SEED_TRACE(rng);
  test::OnnxModel m;
  m.input("x", {-1, 6});
  m.init("w", {6, 4}, rng.uniform({6, 4}));
  m.init("b", {4}, rng.uniform({4}));
  m.node("MatMul", {"x", "w"}, {"h"});  // h is a graph output: the Add stays
  m.node("Add", {"h", "b"}, {"hb"});
  m.node("Relu", {"hb"}, {"r"});        // r read twice: the Exp and the Mul stay
  m.node("Exp", {"r"}, {"e"});
  m.node("Mul", {"r", "e"}, {"y"});
  m.output("h");
  m.output("y");
  const Graph g = m.load();
  EXPECT_EQ(op_list(fuse_graph(g, {{6}})), (std::vector<std::string>{"MatMul", "Add", "Relu", "Exp", "Mul"}));
}

TEST(GraphFuse, BiasMustBeAConstantRowVector) {
  Rng rng;
  SEED_TRACE(rng);
  auto fused = [&](const std::vector<int64_t>& bias_dims, bool constant) {
    test::OnnxModel m;
    m.input("x", {-1, 5});
    m.init("w", {5, 3}, rng.uniform({5, 3}));
    if (constant) m.init("b", bias_dims, rng.uniform(Shape(bias_dims)));
    else m.input("b", bias_dims);
    m.node("MatMul", {"x", "w"}, {"h"});
    m.node("Add", {"h", "b"}, {"y"});
    m.output("y");
    const Graph g = m.load();
    Shape row = bias_dims;
    if (!constant) row.erase(row.begin());
    const Graph f = constant ? fuse_graph(g, {{5}}) : fuse_graph(g, {{5}, row});
    return f.nodes.size() == 1;
  };
  EXPECT_TRUE(fused({3}, true));
  EXPECT_TRUE(fused({1, 3}, true));
  EXPECT_FALSE(fused({1}, true));        // a scalar broadcast: not a per-column bias
  EXPECT_FALSE(fused({1, 1, 3}, true));  // would broadcast the output to rank 3
  EXPECT_FALSE(fused({-1, 3}, false));   // a runtime value
}

TEST(GraphFuse, BatchedMatMulIsNotFused) {
  Rng rng;
  SEED_TRACE(rng);
  test::OnnxModel m;
  m.input("x", {-1, 2, 3, 4});
  m.init("w", {2, 4, 5}, rng.uniform({2, 4, 5}));
  m.init("b", {5}, rng.uniform({5}));
  m.node("MatMul", {"x", "w"}, {"h"});
  m.node("Add", {"h", "b"}, {"r"});
  m.node("Relu", {"r"}, {"y"});
  m.output("y");
  const Graph g = m.load();
  // The Add stays (3-D weights); the Relu still joins nothing (its producer is an Add).
  EXPECT_EQ(op_list(fuse_graph(g, {{2, 3, 4}})), (std::vector<std::string>{"MatMul", "Add", "Relu"}));
}

TEST(GraphFuse, FusedBiasShapeIsChecked) {
  // A hand-built fused MatMul with a bias of the wrong length is a model error, not a crash.
  Rng rng;
  test::OnnxModel m;
  m.input("x", {-1, 5});
  m.init("w", {5, 3}, rng.uniform({5, 3}));
  m.node("MatMul", {"x", "w"}, {"y"});
  m.output("y");
  Graph g = m.load();
  Value b;
  b.name = "b";
  b.is_constant = true;
  b.data = Tensor::f32({4}, rng.uniform({4}));
  g.values.push_back(b);
  g.nodes[0].inputs.push_back(static_cast<int>(g.values.size()) - 1);
  EXPECT_THROW(g.infer_shapes({{2, 5}}), ModelError);
  g.values.back().data = Tensor::f32({3}, rng.uniform({3}));
  EXPECT_EQ(g.infer_shapes({{2, 5}})[static_cast<size_t>(g.outputs[0])], (Shape{2, 3}));
}

TEST(GraphFuse, DescribeNamesPrecision) {
  CpuBackend fp32(1);
  EXPECT_NE(fp32.describe().find("fp32"), std::string::npos) << fp32.describe();
  BackendOptions o;
  o.precision = Precision::bf16;
  CpuBackend bf16(1, o);
  EXPECT_NE(bf16.describe().find("fp32; runtime.precision bf16 applies to CUDA only"), std::string::npos)
      << bf16.describe();
  EXPECT_EQ(parse_precision("tf32"), Precision::tf32);
  EXPECT_THROW(parse_precision("fp64"), ConfigError);
}

}  // namespace
}  // namespace mgi
