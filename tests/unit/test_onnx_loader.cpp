// ONNX loader: parsing, validation of untrusted bytes, op mapping, constant folding.
#include <gtest/gtest.h>

#include <cstring>

#include "backend.hpp"
#include "error.hpp"
#include "graph.hpp"
#include "onnx_test_model.hpp"

namespace mgi {
namespace {

using test::OnnxModel;

template <class F>
std::string model_error(F&& f) {
  try {
    f();
  } catch (const ModelError& e) {
    EXPECT_EQ(e.exit_code(), 4);
    return e.what();
  } catch (const std::exception& e) {
    return std::string("unexpected exception type: ") + e.what();
  }
  return "no error";
}

#define EXPECT_HAS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "message: " << (haystack)

// x[N, 4] -> Gemm(W1[4,3], b1) -> Relu -> Gemm(W2[3,2]) -> y[N, 2]
OnnxModel mlp() {
  OnnxModel m;
  m.input("x", {-1, 4});
  m.init("w1", {4, 3}, {0.1f, -0.2f, 0.3f, 0.4f, 0.5f, -0.6f, 0.7f, 0.8f, 0.9f, -1.0f, 1.1f, 1.2f});
  m.init("b1", {3}, {0.01f, 0.02f, -0.03f});
  m.init("w2", {3, 2}, {1.0f, -1.0f, 0.5f, 0.25f, -0.75f, 2.0f}, false);
  m.node("Gemm", {"x", "w1", "b1"}, {"h"}, "fc1");
  m.node("Relu", {"h"}, {"hr"}, "act");
  m.node("Gemm", {"hr", "w2"}, {"y"}, "fc2");
  m.output("y");
  return m;
}

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
  EXPECT_EQ(g.nodes[0].op, OpKind::Gemm);
  EXPECT_EQ(g.nodes[0].name, "fc1");
  EXPECT_EQ(g.nodes[1].op, OpKind::Relu);
  EXPECT_EQ(g.nodes[2].op, OpKind::Gemm);
  const auto s = g.infer_shapes({{5, 4}});
  EXPECT_EQ(s[static_cast<size_t>(g.outputs[0])], (Shape{5, 2}));
}

TEST(OnnxLoader, GarbageBytes) {
  const std::string bad(64, '\xff');
  const std::string msg = model_error([&] { load_onnx(bad, "junk.onnx"); });
  EXPECT_HAS(msg, "junk.onnx: not a valid ONNX model");
  EXPECT_HAS(model_error([&] { load_onnx("", "empty.onnx"); }), "empty.onnx: not a valid ONNX model");
  EXPECT_HAS(model_error([&] { load_onnx("hello, this is not a model", "text.onnx"); }), "text.onnx");
}

TEST(OnnxLoader, TruncatedModelNeverCrashes) {
  const std::string full = mlp().bytes();
  // Every prefix either fails cleanly with a ModelError or (rarely) parses.
  for (size_t len = 0; len < full.size(); len += 3) {
    try {
      load_onnx(full.substr(0, len), "cut.onnx");
    } catch (const ModelError& e) {
      EXPECT_HAS(e.what(), "cut.onnx");
    }
  }
  EXPECT_HAS(model_error([&] { load_onnx(full.substr(0, full.size() / 2), "cut.onnx"); }), "cut.onnx");
}

// x[N, 2, 3] -> Shape/Gather/Unsqueeze/Concat -> Reshape [N, 6] -> Gemm -> Softmax
OnnxModel folding_model() {
  OnnxModel m(13);
  m.input("x", {-1, 2, 3});
  m.init_i64("zero", {}, {0});
  m.init_i64("axes0", {1}, {0});
  m.init_i64("minus1", {1}, {-1});
  m.init("w", {6, 3}, std::vector<float>(18, 0.5f));
  m.node("Shape", {"x"}, {"s"});
  m.node("Gather", {"s", "zero"}, {"b"});
  m.node("Unsqueeze", {"b", "axes0"}, {"b1"});
  auto* cat = m.node("Concat", {"b1", "minus1"}, {"shape"});
  OnnxModel::attr_i(cat, "axis", 0);
  m.node("Reshape", {"x", "shape"}, {"flat"});
  m.node("MatMul", {"flat", "w"}, {"z"});
  m.node("Softmax", {"z"}, {"y"});
  m.output("y");
  return m;
}

// Single-byte corruptions anywhere in a model: the loader, shape inference and
// the backend either work or throw a typed Error; never crash.
TEST(OnnxLoader, FlippedBytesNeverCrash) {
  for (const std::string& full : {mlp().bytes(), folding_model().bytes()})
    for (size_t pos = 0; pos < full.size(); ++pos)
      for (char mask : {'\x5a', '\x01', '\x80'}) {
        std::string b = full;
        b[pos] = static_cast<char>(b[pos] ^ mask);
        try {
          const Graph g = load_onnx(b, "flip.onnx");
          if (g.inputs.size() != 1 || g.input_shapes[0].size() < 2) continue;
          Shape row = row_shape(g.input_shapes[0]);
          bool small = true;
          for (int64_t& d : row) {
            if (d < 0) d = 3;
            small = small && d <= 64;
          }
          if (!small) continue;
          Shape in = row;
          in.insert(in.begin(), 2);
          std::vector<float> x(static_cast<size_t>(shape_numel(in)), 0.25f);
          const auto shapes = g.infer_shapes({in});
          std::vector<std::vector<float>> ys;
          std::vector<float*> outs;
          for (int id : g.outputs) ys.emplace_back(static_cast<size_t>(shape_numel(shapes[static_cast<size_t>(id)])));
          for (auto& y : ys) outs.push_back(y.data());
          auto be = make_cpu_backend(1);
          be->prepare(g, {row}, 2);
          be->run(2, {x.data()}, outs);
        } catch (const Error&) {
        }
      }
}

TEST(OnnxLoader, UnsupportedOpNamesOpAndNode) {
  OnnxModel m;
  m.input("x", {-1, 1, 8, 8});
  m.init("w", {2, 1, 3, 3}, std::vector<float>(18, 0.1f));
  m.node("Conv", {"x", "w"}, {"y"}, "conv1");
  m.output("y");
  EXPECT_EQ(model_error([&] { m.load("cnn.onnx"); }),
            "model cnn.onnx: unsupported ONNX op 'Conv' (node 'conv1', domain ai.onnx)");
  // The op is reported before anything else about the node.
  m.g->mutable_node(0)->set_input(1, "not_there");
  EXPECT_EQ(model_error([&] { m.load("cnn.onnx"); }),
            "model cnn.onnx: unsupported ONNX op 'Conv' (node 'conv1', domain ai.onnx)");
  // Ops that are only folded say so when they meet a runtime value.
  OnnxModel g(13);
  g.input("x", {-1, 4});
  g.init_i64("i", {1}, {0});
  g.node("Gather", {"x", "i"}, {"y"}, "pick");
  g.output("y");
  EXPECT_HAS(model_error([&] { g.load("g.onnx"); }),
             "model g.onnx: unsupported ONNX op 'Gather' (node 'pick', domain ai.onnx); supported only on constant");
}

TEST(OnnxLoader, UnsupportedDomain) {
  OnnxModel m;
  m.input("x", {-1, 4});
  auto* n = m.node("FusedMatMul", {"x", "x"}, {"y"}, "fm");
  n->set_domain("com.microsoft");
  m.output("y");
  EXPECT_EQ(model_error([&] { m.load(); }),
            "model test.onnx: unsupported ONNX op 'FusedMatMul' (node 'fm', domain com.microsoft)");
}

TEST(OnnxLoader, UnusedUnsupportedNodeIsDropped) {
  OnnxModel m = mlp();
  m.node("Conv", {"x", "w1"}, {"unused"}, "dead_conv");
  const Graph g = m.load();
  EXPECT_EQ(g.nodes.size(), 3u);
}

TEST(OnnxLoader, UnnamedNodeGetsOpAndIndex) {
  OnnxModel m;
  m.input("x", {-1, 4});
  m.node("Relu", {"x"}, {"r"});
  m.node("Conv", {"r", "r"}, {"y"});
  m.output("y");
  EXPECT_HAS(model_error([&] { m.load(); }), "(node 'Conv_1', domain ai.onnx)");
}

TEST(OnnxLoader, RawDataSizeMismatch) {
  OnnxModel m = mlp();
  m.g->mutable_initializer(0)->mutable_raw_data()->resize(20);
  const std::string msg = model_error([&] { m.load(); });
  EXPECT_HAS(msg, "initializer 'w1'");
  EXPECT_HAS(msg, "raw_data has 20 bytes");
}

TEST(OnnxLoader, FloatDataCountMismatch) {
  OnnxModel m = mlp();
  m.g->mutable_initializer(2)->add_float_data(1.0f);  // w2 stored as float_data
  EXPECT_HAS(model_error([&] { m.load(); }), "initializer 'w2'");
}

TEST(OnnxLoader, OverflowingAndNegativeDims) {
  {
    OnnxModel m = mlp();
    auto* t = m.g->mutable_initializer(0);
    t->clear_dims();
    t->add_dims(int64_t{1} << 40);
    t->add_dims(int64_t{1} << 40);
    const std::string msg = model_error([&] { m.load(); });
    EXPECT_HAS(msg, "initializer 'w1'");
    EXPECT_HAS(msg, "2^34");
  }
  {
    OnnxModel m = mlp();
    auto* t = m.g->mutable_initializer(0);
    t->clear_dims();
    t->add_dims(-4);
    t->add_dims(-3);
    const std::string msg = model_error([&] { m.load(); });
    EXPECT_HAS(msg, "initializer 'w1'");
    EXPECT_HAS(msg, "negative");
  }
  {  // individually fine dims whose product overflows int64
    OnnxModel m = mlp();
    auto* t = m.g->mutable_initializer(0);
    t->clear_dims();
    for (int k = 0; k < 4; ++k) t->add_dims(int64_t{1} << 20);
    EXPECT_HAS(model_error([&] { m.load(); }), "initializer 'w1'");
  }
}

TEST(OnnxLoader, ExternalDataRejected) {
  OnnxModel m = mlp();
  auto* t = m.g->mutable_initializer(0);
  t->clear_raw_data();
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* e = t->add_external_data();
  e->set_key("location");
  e->set_value("weights.bin");
  const std::string msg = model_error([&] { m.load(); });
  EXPECT_HAS(msg, "initializer 'w1'");
  EXPECT_HAS(msg, "external data not supported");
}

TEST(OnnxLoader, MissingInitializerNamesNodeAndInput) {
  OnnxModel m = mlp();
  m.g->mutable_node(2)->set_input(1, "w_missing");
  const std::string msg = model_error([&] { m.load(); });
  EXPECT_HAS(msg, "node 'fc2' (Gemm)");
  EXPECT_HAS(msg, "'w_missing'");
}

TEST(OnnxLoader, NodesOutOfOrder) {
  OnnxModel m;
  m.input("x", {-1, 4});
  m.node("Relu", {"a"}, {"y"}, "second");
  m.node("Relu", {"x"}, {"a"}, "first");
  m.output("y");
  const std::string msg = model_error([&] { m.load(); });
  EXPECT_HAS(msg, "node 'second'");
  EXPECT_HAS(msg, "before it is produced");
}

TEST(OnnxLoader, HeaderChecks) {
  {
    OnnxModel m = mlp();
    m.m.clear_ir_version();
    EXPECT_HAS(model_error([&] { m.load(); }), "ir_version");
  }
  {
    OnnxModel m = mlp();
    m.m.clear_opset_import();
    EXPECT_HAS(model_error([&] { m.load(); }), "opset");
  }
  {
    OnnxModel m = mlp();
    m.g->clear_output();
    EXPECT_HAS(model_error([&] { m.load(); }), "no graph outputs");
  }
}

TEST(OnnxLoader, InputChecks) {
  {
    OnnxModel m;
    m.input("ids", {-1, 4}, onnx::TensorProto::INT64);
    m.node("Relu", {"ids"}, {"y"});
    m.output("y");
    const std::string msg = model_error([&] { m.load(); });
    EXPECT_HAS(msg, "input 'ids'");
    EXPECT_HAS(msg, "int64");
  }
  {
    OnnxModel m;
    m.input("s", {});
    m.node("Relu", {"s"}, {"y"});
    m.output("y");
    EXPECT_HAS(model_error([&] { m.load(); }), "input 's' is a scalar");
  }
  {
    OnnxModel m;
    auto* vi = m.g->add_input();
    vi->set_name("x");
    vi->mutable_type()->mutable_tensor_type()->set_elem_type(1);
    m.node("Relu", {"x"}, {"y"});
    m.output("y");
    EXPECT_HAS(model_error([&] { m.load(); }), "no declared shape");
  }
}

TEST(OnnxLoader, InitializerListedAsInputIsConstant) {
  OnnxModel m = mlp();
  m.input("w1", {4, 3});
  m.input("b1", {3});
  const Graph g = m.load();
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.input_name(0), "x");
}

TEST(OnnxLoader, DoubleAndInt32InitializersConverted) {
  OnnxModel m;
  m.input("x", {-1, 2});
  auto* t = m.g->add_initializer();
  t->set_name("b");
  t->set_data_type(onnx::TensorProto::DOUBLE);
  t->add_dims(2);
  t->add_double_data(0.5);
  t->add_double_data(-1.25);
  auto* s = m.g->add_initializer();  // int32 shape for Reshape, converted to int64
  s->set_name("shape");
  s->set_data_type(onnx::TensorProto::INT32);
  s->add_dims(2);
  const int32_t raw[2] = {0, -1};
  s->set_raw_data(std::string(reinterpret_cast<const char*>(raw), sizeof raw));
  m.node("Add", {"x", "b"}, {"a"});
  m.node("Reshape", {"a", "shape"}, {"y"});
  m.output("y");
  const Graph g = m.load();
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
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op, OpKind::Reshape);
  EXPECT_EQ(g.nodes[0].target_shape, (Shape{kBatchDim, -1}));
  const auto s = g.infer_shapes({{3, 2, 3}});
  EXPECT_EQ(s[static_cast<size_t>(g.outputs[0])], (Shape{3, 6}));
  std::vector<float> x(18);
  for (size_t k = 0; k < x.size(); ++k) x[k] = static_cast<float>(k);
  const auto y = run_cpu(g, {2, 3}, 3, x);
  for (size_t k = 0; k < x.size(); ++k) EXPECT_EQ(y[k], 2.0f * x[k]);
}

TEST(OnnxLoader, ShapeOfDynamicNonBatchDimIsUnsupported) {
  OnnxModel m(13);
  m.input("x", {-1, -1});
  m.init_i64("one", {}, {1});
  m.node("Shape", {"x"}, {"s"}, "shape_of_x");
  m.node("Gather", {"s", "one"}, {"d"});
  m.node("Reshape", {"x", "d"}, {"y"});
  m.output("y");
  const std::string msg = model_error([&] { m.load(); });
  EXPECT_HAS(msg, "node 'shape_of_x' (Shape)");
  EXPECT_HAS(msg, "not static apart from the batch");
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
  EXPECT_EQ(g.nodes[0].op, OpKind::Add);
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

TEST(OnnxLoader, DropoutAndCastBecomeIdentity) {
  OnnxModel m(13);
  m.input("x", {-1, 4});
  m.node("Dropout", {"x"}, {"d"});
  auto* c = m.node("Cast", {"d"}, {"y"});
  OnnxModel::attr_i(c, "to", onnx::TensorProto::FLOAT);
  m.output("y");
  const Graph g = m.load();
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op, OpKind::Identity);
  EXPECT_EQ(g.nodes[1].op, OpKind::Identity);
}

TEST(OnnxLoader, DropoutMaskUsedIsAnError) {
  OnnxModel m(13);
  m.input("x", {-1, 4});
  m.node("Dropout", {"x"}, {"d", "mask"}, "drop");
  m.node("Add", {"d", "mask"}, {"y"});
  m.output("y");
  const std::string msg = model_error([&] { m.load(); });
  EXPECT_HAS(msg, "node 'drop' (Dropout)");
  EXPECT_HAS(msg, "mask");
}

TEST(OnnxLoader, RuntimeCastToIntIsAnError) {
  OnnxModel m(13);
  m.input("x", {-1, 4});
  auto* c = m.node("Cast", {"x"}, {"y"}, "to_int");
  OnnxModel::attr_i(c, "to", onnx::TensorProto::INT64);
  m.output("y");
  const std::string msg = model_error([&] { m.load(); });
  EXPECT_HAS(msg, "node 'to_int' (Cast)");
  EXPECT_HAS(msg, "int64");
}

TEST(OnnxLoader, MissingRequiredAttributeOrInput) {
  {
    OnnxModel m(13);
    m.input("x", {-1, 4});
    m.node("Cast", {"x"}, {"y"}, "cast_no_to");
    m.output("y");
    const std::string msg = model_error([&] { m.load(); });
    EXPECT_HAS(msg, "node 'cast_no_to' (Cast)");
    EXPECT_HAS(msg, "'to'");
  }
  {
    OnnxModel m(13);
    m.input("x", {-1, 4});
    m.node("Gemm", {"x"}, {"y"}, "gemm_one_input");
    m.output("y");
    EXPECT_HAS(model_error([&] { m.load(); }), "node 'gemm_one_input' (Gemm): expects 2 to 3 inputs");
  }
}

TEST(OnnxLoader, ReshapeShapeMustBeConstant) {
  OnnxModel m(13);
  m.input("x", {-1, 4});
  m.input("shape_in", {-1, 2});
  m.node("Reshape", {"x", "shape_in"}, {"y"}, "rs");
  m.output("y");
  const std::string msg = model_error([&] { m.load(); });
  EXPECT_HAS(msg, "node 'rs' (Reshape)");
  EXPECT_HAS(msg, "constant");
}

TEST(OnnxLoader, ConstantOutputIsAnError) {
  OnnxModel m;
  m.input("x", {-1, 4});
  m.init("w", {4}, {1, 2, 3, 4});
  m.node("Relu", {"w"}, {"y"});
  m.output("y");
  EXPECT_HAS(model_error([&] { m.load(); }), "graph output 'y' is a constant");
}

TEST(OnnxLoader, LoadTimeShapeCheckNamesNode) {
  OnnxModel m = mlp();
  m.g->mutable_initializer(2)->set_dims(0, 5);  // w2 [5, 2] with 6 values: size error first
  EXPECT_HAS(model_error([&] { m.load(); }), "initializer 'w2'");
  OnnxModel m2 = mlp();
  auto* w2 = m2.g->mutable_initializer(2);
  w2->set_dims(0, 2);
  w2->set_dims(1, 3);  // [2, 3] but fc2 needs [3, N]
  const std::string msg = model_error([&] { m2.load(); });
  EXPECT_HAS(msg, "node 'fc2' (Gemm)");
  EXPECT_HAS(msg, "inner dimensions differ");
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
  EXPECT_EQ(g.nodes[0].op, OpKind::Gelu);
  EXPECT_FALSE(g.nodes[0].gelu_tanh);
}

}  // namespace
}  // namespace mgi
