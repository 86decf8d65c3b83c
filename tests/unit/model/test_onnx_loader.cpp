// ONNX loader: models that load, their metadata, op mapping and constant folding.
#include <gtest/gtest.h>

#include <vector>

#include "backend.hpp"
#include "graph.hpp"
#include "onnx_loader_test_util.hpp"
#include "onnx_test_model.hpp"

namespace mgi {
namespace {

std::vector<float> run_cpu(const Graph& g, const Shape& row, int64_t rows, const std::vector<float>& x) {
  auto be = make_cpu_backend(1);
  be->prepare(g, {row}, rows);
  const std::vector<Shape> s = g.infer_shapes({[&] {
    Shape r = row;
    r.insert(r.begin(), rows);
    return r;
  }()});
  std::vector<float> y(static_cast<size_t>(shape_numel(s[static_cast<size_t>(g.outputs[0])])));
  be->run(rows, {x.data()}, {y.data()});
  return y;
}

TEST(OnnxLoader, LoadsMlpAndRecordsMetadata) {
  const Graph g = mlp().load("mlp.onnx");
  EXPECT_EQ(g.source, "mlp.onnx");
  EXPECT_EQ(g.opset, 17);
  EXPECT_EQ(g.producer, "unit-test 1.0");
  EXPECT_EQ(g.parameter_count, 12 + 3 + 6);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.input_name(0), "x");
  EXPECT_EQ(g.input_shapes[0], (Shape{-1, 4}));
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.output_name(0), "y");
  ASSERT_EQ(g.nodes.size(), 3u);
  EXPECT_TRUE(g.nodes[0].is("Gemm"));
  EXPECT_EQ(g.nodes[0].name, "fc1");
  EXPECT_TRUE(g.nodes[1].is("Relu"));
  EXPECT_TRUE(g.nodes[2].is("Gemm"));
  const auto s = g.infer_shapes({{5, 4}});
  EXPECT_EQ(s[static_cast<size_t>(g.outputs[0])], (Shape{5, 2}));
}

TEST(OnnxLoader, UnusedUnsupportedNodeIsDropped) {
  OnnxModel m = mlp();
  m.node("RoiAlign", {"x", "w1"}, {"unused"}, "dead_roi_align");
  const Graph g = m.load();
  EXPECT_EQ(g.nodes.size(), 3u);
}

TEST(OnnxLoader, InitializerListedAsInputIsConstant) {
  OnnxModel m = mlp();
  m.input("w1", {4, 3});
  m.input("b1", {3});
  const Graph g = m.load();
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.input_name(0), "x");
}

TEST(OnnxLoader, DoubleBecomesFloat32AndInt32KeepsItsType) {
  OnnxModel m;
  m.input("x", {-1, 2});
  auto* t = m.g->add_initializer();
  t->set_name("b");
  t->set_data_type(onnx::TensorProto::DOUBLE);
  t->add_dims(2);
  t->add_double_data(0.5);
  t->add_double_data(-1.25);
  auto* s = m.g->add_initializer();  // int32 stays int32; Cast (folded) makes Reshape's int64 shape
  s->set_name("shape32");
  s->set_data_type(onnx::TensorProto::INT32);
  s->add_dims(2);
  const int32_t raw[2] = {0, -1};
  s->set_raw_data(std::string(reinterpret_cast<const char*>(raw), sizeof raw));
  m.node("Add", {"x", "b"}, {"a"});
  auto* c = m.node("Cast", {"shape32"}, {"shape"});
  OnnxModel::attr_i(c, "to", onnx::TensorProto::INT64);
  m.node("Reshape", {"a", "shape"}, {"y"});
  m.output("y");
  const Graph g = m.load();
  for (const Value& v : g.values) {
    if (v.name == "b") {
      EXPECT_EQ(v.data.dtype, DType::f32);
    }
    if (v.name == "shape") {
      EXPECT_EQ(v.data.dtype, DType::i64);
    }
  }
  const auto y = run_cpu(g, {2}, 2, {1.0f, 2.0f, 3.0f, 4.0f});
  EXPECT_EQ(y, (std::vector<float>{1.5f, 0.75f, 3.5f, 2.75f}));
}

TEST(OnnxLoader, ShapeGatherConcatReshapeWithDynamicBatch) {
  // torch's x.view(x.size(0), -1): Shape -> Gather(0) -> Unsqueeze -> Concat([.., -1]) -> Reshape
  OnnxModel m(13);
  m.input("x", {-1, 2, 3});
  m.init_i64("zero", {}, {0});
  m.init_i64("axes0", {1}, {0});
  m.init_i64("minus1", {1}, {-1});
  m.node("Shape", {"x"}, {"s"});
  auto* gth = m.node("Gather", {"s", "zero"}, {"b"});
  OnnxModel::attr_i(gth, "axis", 0);
  m.node("Unsqueeze", {"b", "axes0"}, {"b1"});
  auto* cat = m.node("Concat", {"b1", "minus1"}, {"shape"});
  OnnxModel::attr_i(cat, "axis", 0);
  m.node("Reshape", {"x", "shape"}, {"flat"}, "view");
  auto* c = m.node("Constant", {}, {"two"});
  OnnxModel::fill(OnnxModel::attr_t(c, "value"), "", {}, {2.0f});
  m.node("Mul", {"flat", "two"}, {"y"});
  m.output("y");
  const Graph g = m.load();
  // Shape -> Gather -> Unsqueeze -> Concat stay as host nodes: their values
  // are computed per batch on the host, never by a device.
  ASSERT_EQ(g.nodes.size(), 6u);
  EXPECT_TRUE(g.nodes[4].is("Reshape"));
  for (size_t k = 0; k < 4; ++k) EXPECT_TRUE(g.values[static_cast<size_t>(g.nodes[k].outputs[0])].host) << k;
  EXPECT_FALSE(g.values[static_cast<size_t>(g.nodes[4].outputs[0])].host);
  const ShapePlan plan = g.plan({{3, 2, 3}});
  EXPECT_EQ(plan.host[static_cast<size_t>(g.nodes[3].outputs[0])].ints(), (std::vector<int64_t>{3, -1}));
  const auto s = g.infer_shapes({{3, 2, 3}});
  EXPECT_EQ(s[static_cast<size_t>(g.outputs[0])], (Shape{3, 6}));
  std::vector<float> x(18);
  for (size_t k = 0; k < x.size(); ++k) x[k] = static_cast<float>(k);
  const auto y = run_cpu(g, {2, 3}, 3, x);
  for (size_t k = 0; k < x.size(); ++k) EXPECT_EQ(y[k], 2.0f * x[k]);
}

TEST(OnnxLoader, ConstantFoldingOfFloatOps) {
  // y = x + (W^T @ v): the constant subgraph is evaluated at load time.
  OnnxModel m;
  m.input("x", {-1, 2});
  m.init("w", {2, 2}, {1.0f, 2.0f, 3.0f, 4.0f});
  m.init("v", {2, 1}, {1.0f, 10.0f});
  m.node("Transpose", {"w"}, {"wt"});
  m.node("MatMul", {"wt", "v"}, {"p"});  // [[31], [42]]
  auto* c = m.node("Constant", {}, {"shape"});
  OnnxModel::attr_ints(c, "value_ints", {2});
  m.node("Reshape", {"p", "shape"}, {"pv"});
  m.node("Add", {"x", "pv"}, {"y"});
  m.output("y");
  const Graph g = m.load();
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_TRUE(g.nodes[0].is("Add"));
  const auto y = run_cpu(g, {2}, 1, {1.0f, 1.0f});
  EXPECT_EQ(y, (std::vector<float>{32.0f, 43.0f}));
}

TEST(OnnxLoader, SoftmaxOpsetSemantics) {
  for (int64_t opset : {11, 13}) {
    OnnxModel m(opset);
    m.input("x", {-1, 3, 4});
    m.node("Softmax", {"x"}, {"y"});
    m.output("y");
    const Graph g = m.load();
    ASSERT_EQ(g.nodes.size(), 1u);
    EXPECT_EQ(g.nodes[0].softmax_2d, opset < 13);
    EXPECT_EQ(g.nodes[0].axis, opset < 13 ? 1 : -1);
  }
}

TEST(OnnxLoader, DropoutAndCastKeepTheirTypes) {
  OnnxModel m(13);
  m.input("x", {-1, 4});
  m.node("Dropout", {"x"}, {"d"});
  auto* c = m.node("Cast", {"d"}, {"y"});
  OnnxModel::attr_i(c, "to", onnx::TensorProto::FLOAT);
  m.output("y");
  const Graph g = m.load();
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_TRUE(g.nodes[0].is("Dropout"));
  EXPECT_TRUE(g.nodes[1].is("Cast"));
  EXPECT_EQ(g.values[static_cast<size_t>(g.outputs[0])].dtype, DType::f32);
}

TEST(OnnxLoader, UnsqueezeAndSqueezeOfRuntimeValues) {
  OnnxModel m(13);
  m.input("x", {-1, 4});
  m.init_i64("a1", {1}, {1});
  m.node("Unsqueeze", {"x", "a1"}, {"u"});  // [N, 1, 4]
  m.node("Relu", {"u"}, {"r"});
  m.node("Squeeze", {"r", "a1"}, {"y"});  // [N, 4]
  m.output("y");
  const Graph g = m.load();
  const auto s = g.infer_shapes({{5, 4}});
  EXPECT_EQ(s[static_cast<size_t>(g.nodes[0].outputs[0])], (Shape{5, 1, 4}));
  EXPECT_EQ(s[static_cast<size_t>(g.outputs[0])], (Shape{5, 4}));
}

TEST(OnnxLoader, MicrosoftGeluAccepted) {
  OnnxModel m;
  auto* o = m.m.add_opset_import();
  o->set_domain("com.microsoft");
  o->set_version(1);
  m.input("x", {-1, 4});
  m.node("Gelu", {"x"}, {"y"})->set_domain("com.microsoft");
  m.output("y");
  const Graph g = m.load();
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_TRUE(g.nodes[0].is("Gelu"));
  EXPECT_FALSE(g.nodes[0].gelu_tanh);
}

}  // namespace
}  // namespace mgi
