// Graph::infer_shapes on hand-built graphs: good shapes and the messages for bad ones.
#include <gtest/gtest.h>

#include "error.hpp"
#include "graph.hpp"
#include "op_registry.hpp"
#include "error_test_util.hpp"

namespace mgi {
namespace {

// A graph with one runtime input x of declared shape `x_shape`, constants, and nodes appended by tests.
struct G {
  Graph g;
  explicit G(const Shape& x_shape) {
    g.source = "m.onnx";
    g.opset = 17;
    Value x;
    x.name = "x";
    g.values.push_back(x);
    g.inputs = {0};
    g.input_shapes = {x_shape};
  }
  int add_constant(const std::string& name, Tensor data) {
    Value v;
    v.name = name;
    v.dtype = data.dtype;
    v.is_constant = true;
    v.data = std::move(data);
    g.values.push_back(std::move(v));
    return static_cast<int>(g.values.size() - 1);
  }
  int constant(const std::string& name, const Shape& shape) { return add_constant(name, Tensor(DType::f32, shape)); }
  int ints(const std::string& name, const std::vector<int64_t>& v) {
    return add_constant(name, Tensor::i64({static_cast<int64_t>(v.size())}, v));
  }
  // Appends node `op` (ai.onnx, opset 17, ONNX defaults) and makes its output the graph's output.
  // `host`: its output is int64 shape arithmetic, computed on the host.
  Node& node(const std::string& op, const std::string& name, std::vector<int> inputs, bool host = false) {
    Value out;
    out.name = name + "_out";
    out.dtype = host ? DType::i64 : DType::f32;
    out.host = host;
    g.values.push_back(out);
    const int id = static_cast<int>(g.values.size() - 1);
    Node n = make_node(op, std::move(inputs), {id}, g.opset);
    n.name = name;
    g.nodes.push_back(n);
    g.outputs = {id};
    return g.nodes.back();
  }
  int last() const { return g.nodes.back().outputs[0]; }
  Shape out(const Shape& x) const { return g.infer_shapes({x})[static_cast<size_t>(g.outputs[0])]; }
  std::string error(const Shape& x) const {
    try {
      g.infer_shapes({x});
    } catch (const ModelError& e) {
      return e.what();
    }
    return "no error";
  }
};


TEST(ShapeInfer, GemmGoodAndTransposed) {
  G t({-1, 64});
  t.node("Gemm", "fc", {0, t.constant("w", {64, 10}), t.constant("b", {10})});
  EXPECT_EQ(t.out({7, 64}), (Shape{7, 10}));
  G u({-1, 64});
  Node& n = u.node("Gemm", "fc", {0, u.constant("w", {10, 64}), u.constant("b", {1, 10})});
  n.trans_b = true;
  EXPECT_EQ(u.out({3, 64}), (Shape{3, 10}));
}

TEST(ShapeInfer, GemmInnerMismatchMessage) {
  G t({-1, 64});
  t.node("Gemm", "fc2", {0, t.constant("w", {32, 10})});
  EXPECT_EQ(t.error({8, 64}),
            "model m.onnx: node 'fc2' (Gemm): input A has shape [8, 64] but B has shape [32, 10] "
            "(transA=0, transB=0): inner dimensions differ");
}

TEST(ShapeInfer, GemmBadBiasAndRank) {
  G t({-1, 64});
  t.node("Gemm", "fc", {0, t.constant("w", {64, 10}), t.constant("b", {7})});
  EXPECT_HAS(t.error({2, 64}), "input C has shape [7]");
  G u({-1, 4, 64});
  u.node("Gemm", "fc3d", {0, u.constant("w", {64, 10})});
  EXPECT_HAS(u.error({2, 4, 64}), "node 'fc3d' (Gemm): input A has shape [2, 4, 64]; Gemm needs a 2-D A");
}

TEST(ShapeInfer, MatMulVariants) {
  {
    G t({-1, 5, 8});  // N-D x 2-D
    t.node("MatMul", "mm", {0, t.constant("w", {8, 3})});
    EXPECT_EQ(t.out({2, 5, 8}), (Shape{2, 5, 3}));
  }
  {
    G t({-1, 4, 5, 8});  // batched with broadcasting batch dims
    t.node("MatMul", "mm", {0, t.constant("w", {1, 4, 8, 6})});
    EXPECT_EQ(t.out({3, 4, 5, 8}), (Shape{3, 4, 5, 6}));
  }
  {
    G t({-1, 8});  // 1-D B
    t.node("MatMul", "mm", {0, t.constant("v", {8})});
    EXPECT_EQ(t.out({3, 8}), (Shape{3}));
  }
  {
    G t({-1, 8, 2});  // 1-D A, batched B
    t.node("MatMul", "mm", {t.constant("v", {8}), 0});
    EXPECT_EQ(t.out({3, 8, 2}), (Shape{3, 2}));
  }
  {
    G t({-1, 8});
    t.node("MatMul", "mm_bad", {0, t.constant("w", {7, 3})});
    const std::string e = t.error({2, 8});
    EXPECT_HAS(e, "node 'mm_bad' (MatMul)");
    EXPECT_HAS(e, "[2, 8]");
    EXPECT_HAS(e, "[7, 3]");
    EXPECT_HAS(e, "inner dimensions differ");
  }
  {
    G t({-1, 3, 5, 8});
    t.node("MatMul", "mm_batch", {0, t.constant("w", {4, 8, 2})});
    EXPECT_HAS(t.error({2, 3, 5, 8}), "batch dimensions do not broadcast");
  }
}

TEST(ShapeInfer, AddBroadcast) {
  {
    G t({-1, 3, 4});
    t.node("Add", "add", {0, t.constant("b", {4})});
    EXPECT_EQ(t.out({2, 3, 4}), (Shape{2, 3, 4}));
  }
  {
    G t({-1, 1, 4});
    t.node("Mul", "mul", {0, t.constant("b", {3, 1})});
    EXPECT_EQ(t.out({2, 1, 4}), (Shape{2, 3, 4}));
  }
  {
    G t({-1, 3});
    t.node("Add", "add_bad", {0, t.constant("b", {4})});
    EXPECT_EQ(t.error({5, 3}),
              "model m.onnx: node 'add_bad' (Add): inputs have shapes [5, 3] and [4], which do not broadcast");
  }
}

TEST(ShapeInfer, ReshapeZeroMinusOneAndBatch) {
  {
    G t({-1, 2, 3, 4});
    t.node("Reshape", "rs", {0, t.ints("shape", {0, -1, 4})});
    EXPECT_EQ(t.out({5, 2, 3, 4}), (Shape{5, 6, 4}));
  }
  {
    // x.view(x.size(0), 3, 2) of x [N, 6, 1]: the target shape is computed from
    // Shape(x) per batch, by int64 Div and Mul: [N, 6, 1] / [1, 2, 1] * [1, 1, 2].
    G t({-1, 6, 1});
    t.node("Shape", "shape", {0}, true);
    t.node("Div", "div", {t.last(), t.ints("d", {1, 2, 1})}, true);
    t.node("Mul", "mul", {t.last(), t.ints("m", {1, 1, 2})}, true);
    t.node("Reshape", "rs", {0, t.last()});
    EXPECT_EQ(t.out({7, 6, 1}), (Shape{7, 3, 2}));
    EXPECT_EQ(t.out({1, 6, 1}), (Shape{1, 3, 2}));
  }
  {
    G t({-1, 6});
    Node& n = t.node("Reshape", "rs", {0, t.ints("shape", {0, 6})});
    n.allowzero = true;  // 0 is a real zero: 0 elements vs 6 * N
    EXPECT_HAS(t.error({2, 6}), "cannot reshape");
  }
  {
    G t({-1, 6});
    t.node("Reshape", "rs_bad", {0, t.ints("shape", {0, 4})});
    EXPECT_EQ(t.error({2, 6}),
              "model m.onnx: node 'rs_bad' (Reshape): cannot reshape input [2, 6] (12 elements) to [2, 4] (8 elements)");
  }
  {
    G t({-1, 6});
    t.node("Reshape", "rs_two", {0, t.ints("shape", {-1, -1})});
    EXPECT_HAS(t.error({2, 6}), "more than one -1");
  }
  {
    G t({-1, 6});
    t.node("Reshape", "rs_5", {0, t.ints("shape", {0, 5, -1})});
    EXPECT_HAS(t.error({2, 6}), "with -1");
  }
}

TEST(ShapeInfer, FlattenAxis) {
  const Shape x = {2, 3, 4, 5};
  for (auto [axis, want] : std::vector<std::pair<int64_t, Shape>>{
           {0, {1, 120}}, {1, {2, 60}}, {2, {6, 20}}, {4, {120, 1}}, {-1, {24, 5}}}) {
    G t({-1, 3, 4, 5});
    t.node("Flatten", "fl", {0}).axis = axis;
    EXPECT_EQ(t.out(x), want) << "axis " << axis;
  }
  G t({-1, 3});
  t.node("Flatten", "fl", {0}).axis = 3;
  EXPECT_HAS(t.error({2, 3}), "axis 3 is out of range");
}

TEST(ShapeInfer, TransposeSoftmaxNorms) {
  {
    G t({-1, 3, 4});
    t.node("Transpose", "tr", {0}).perm = {0, 2, 1};
    EXPECT_EQ(t.out({2, 3, 4}), (Shape{2, 4, 3}));
  }
  {
    G t({-1, 3, 4});
    t.node("Transpose", "tr", {0}).perm = {0, 0, 1};
    EXPECT_HAS(t.error({2, 3, 4}), "not a permutation");
  }
  {
    G t({-1, 3});
    t.node("Softmax", "sm", {0}).axis = 2;
    EXPECT_HAS(t.error({2, 3}), "axis 2 is out of range");
  }
  {
    G t({-1, 3, 4});
    const int s = t.constant("s", {3}), b = t.constant("b", {3}), m = t.constant("m", {3}), v = t.constant("v", {4});
    t.node("BatchNormalization", "bn", {0, s, b, m, v});
    EXPECT_HAS(t.error({2, 3, 4}), "node 'bn' (BatchNormalization): input var has shape [4]");
  }
  {
    G t({-1, 3, 4});
    t.node("LayerNormalization", "ln", {0, t.constant("s", {4}), t.constant("b", {4})}).axis = -1;
    EXPECT_EQ(t.out({2, 3, 4}), (Shape{2, 3, 4}));
    G u({-1, 3, 4});
    u.node("LayerNormalization", "ln", {0, u.constant("s", {3})}).axis = -1;
    EXPECT_HAS(u.error({2, 3, 4}), "input Scale has shape [3]");
  }
}

TEST(ShapeInfer, ConcreteInputChecks) {
  G t({-1, 64});
  t.node("Relu", "r", {0});
  EXPECT_HAS(t.error({4, 32}), "input 'x' expects shape [?, 64]");
  EXPECT_HAS(t.error({4, 64, 1}), "input 'x' expects shape");
  try {
    t.g.infer_shapes({});
    ADD_FAILURE();
  } catch (const ModelError& e) {
    EXPECT_HAS(e.what(), "expects 1 input(s), got 0");
  }
}

}  // namespace
}  // namespace mgi
