// ONNX loader errors in well-formed models: unsupported ops and domains,
// dangling or out-of-order values, unsupported inputs, attributes and shapes;
// each names the node or value at fault.
#include <gtest/gtest.h>

#include <string>

#include "backend.hpp"
#include "error.hpp"
#include "graph.hpp"
#include "onnx_loader_test_util.hpp"
#include "onnx_test_model.hpp"

namespace mgi {
namespace {

TEST(OnnxLoader, UnsupportedOpNamesOpAndNode) {
  OnnxModel m;
  m.input("x", {-1, 1, 8, 8});
  m.init("w", {2, 1, 3, 3}, std::vector<float>(18, 0.1f));
  m.node("RoiAlign", {"x", "w"}, {"y"}, "roi1");
  m.output("y");
  EXPECT_EQ(model_error([&] { m.load("cnn.onnx"); }),
            "model cnn.onnx: unsupported ONNX op 'RoiAlign' (node 'roi1', domain ai.onnx)");
  // The op is reported before anything else about the node.
  m.g->mutable_node(0)->set_input(1, "not_there");
  EXPECT_EQ(model_error([&] { m.load("cnn.onnx"); }),
            "model cnn.onnx: unsupported ONNX op 'RoiAlign' (node 'roi1', domain ai.onnx)");
  // Every unsupported op type of a model is named at once, the first in the usual form.
  OnnxModel g(13);
  g.input("x", {-1, 4});
  g.node("Foo", {"x"}, {"a"}, "foo1");
  g.node("Relu", {"a"}, {"b"});
  g.node("Foo", {"b"}, {"c"}, "foo2");
  g.node("Bar", {"c"}, {"y"}, "bar");
  g.output("y");
  EXPECT_EQ(model_error([&] { g.load("g.onnx"); }),
            "model g.onnx: unsupported ONNX op 'Foo' (node 'foo1', domain ai.onnx); also unsupported: 'Bar' "
            "(node 'bar', domain ai.onnx)");
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

TEST(OnnxLoader, UnnamedNodeGetsOpAndIndex) {
  OnnxModel m;
  m.input("x", {-1, 4});
  m.node("Relu", {"x"}, {"r"});
  m.node("RoiAlign", {"r", "r"}, {"y"});
  m.output("y");
  EXPECT_HAS(model_error([&] { m.load(); }), "(node 'RoiAlign_1', domain ai.onnx)");
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

TEST(OnnxLoader, InputChecks) {
  {
    OnnxModel m;
    m.input("ids", {-1, 4}, onnx::TensorProto::STRING);
    m.node("Relu", {"ids"}, {"y"});
    m.output("y");
    const std::string msg = model_error([&] { m.load(); });
    EXPECT_HAS(msg, "input 'ids'");
    EXPECT_HAS(msg, "string");
  }
  {  // int64 inputs are fine; an op that takes only float32 says so, naming its node
    OnnxModel m;
    m.input("ids", {-1, 4}, onnx::TensorProto::INT64);
    m.node("Relu", {"ids"}, {"y"}, "act");
    m.output("y");
    const std::string msg = model_error([&] { m.load(); });
    EXPECT_HAS(msg, "node 'act' (Relu)");
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

TEST(OnnxLoader, ShapeOfDynamicNonBatchDimIsComputedPerBatch) {
  // x [N, L] -> Reshape(x, [-1] ++ Shape(x)[1:]) ... with L known only per batch.
  OnnxModel m(13);
  m.input("x", {-1, -1});
  m.init_i64("one", {1}, {1});
  m.init_i64("minus1", {1}, {-1});
  m.node("Shape", {"x"}, {"s"}, "shape_of_x");
  m.node("Gather", {"s", "one"}, {"l"});
  m.node("Concat", {"minus1", "l"}, {"shape"});
  OnnxModel::attr_i(m.g->mutable_node(2), "axis", 0);
  m.node("Reshape", {"x", "shape"}, {"y"});
  m.output("y");
  const Graph g = m.load();
  EXPECT_EQ(g.infer_shapes({{3, 5}})[static_cast<size_t>(g.outputs[0])], (Shape{3, 5}));
  EXPECT_EQ(g.infer_shapes({{2, 7}})[static_cast<size_t>(g.outputs[0])], (Shape{2, 7}));
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

// A training_mode fed at run time may be true: refused, never run as inference.
TEST(OnnxLoader, DropoutRuntimeTrainingModeIsAnError) {
  OnnxModel m(13);
  m.input("x", {-1, 4});
  m.input("training", {1}, onnx::TensorProto::BOOL);
  m.init("ratio", {}, std::vector<float>{0.5f});
  m.node("Dropout", {"x", "ratio", "training"}, {"y"}, "drop");
  m.output("y");
  const std::string msg = model_error([&] { m.load(); });
  EXPECT_HAS(msg, "node 'drop' (Dropout)");
  EXPECT_HAS(msg, "training_mode");
}

TEST(OnnxLoader, RuntimeCastToIntHasAnInt64Output) {
  OnnxModel m(13);
  m.input("x", {-1, 4});
  auto* c = m.node("Cast", {"x"}, {"y"}, "to_int");
  OnnxModel::attr_i(c, "to", onnx::TensorProto::INT64);
  m.output("y");
  const Graph g = m.load();
  EXPECT_EQ(g.output_type(0), DType::i64);
  auto be = make_cpu_backend(1);
  be->prepare(g, {{4}}, 1);
  const std::vector<float> x = {-2.5f, -0.5f, 0.5f, 7.9f};
  std::vector<int64_t> y(4, 99);
  be->run(1, {x.data()}, {y.data()});
  EXPECT_EQ(y, (std::vector<int64_t>{-2, 0, 0, 7}));  // truncation toward zero
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

}  // namespace
}  // namespace mgi
