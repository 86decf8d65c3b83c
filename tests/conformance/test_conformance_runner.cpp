// The conformance runner's own pieces, without the suite: the comparison at
// the suite's tolerances, and a model whose inputs break the batch
// assumptions (a scalar, inputs of different first dims) run on host tensors
// through the input wrapper.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "conformance.hpp"
#include "error.hpp"

namespace mgi::conformance {
namespace {

TEST(ConformanceCompare, FloatsAtTheSuitesTolerances) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const Tensor want = Tensor::f32({5}, {1.0f, 0.0f, nan, inf, -2.0f});
  EXPECT_EQ(compare(Tensor::f32({5}, {1.0009f, 5e-8f, nan, inf, -2.0f}), want), "");
  const std::string d = compare(Tensor::f32({5}, {1.0011f, 0.0f, nan, inf, -2.0f}), want);
  EXPECT_NE(d.find("1 of 5 elements differ"), std::string::npos) << d;
  EXPECT_NE(d.find("element 0"), std::string::npos) << d;
  EXPECT_NE(compare(Tensor::f32({5}, {1.0f, 2e-7f, nan, inf, -2.0f}), want), "");  // atol 1e-7
  EXPECT_NE(compare(Tensor::f32({5}, {1.0f, 0.0f, 0.0f, inf, -2.0f}), want), "");  // NaN only matches NaN
  EXPECT_NE(compare(Tensor::f32({5}, {1.0f, 0.0f, nan, -inf, -2.0f}), want), "");  // an infinity only itself
  EXPECT_NE(compare(Tensor::f32({1, 5}, {1.0f, 0.0f, nan, inf, -2.0f}), want).find("shape"), std::string::npos);
}

TEST(ConformanceCompare, IntegersExactlyAndTypesMustMatch) {
  const Tensor want = Tensor::i64({3}, {1, -2, 3});
  EXPECT_EQ(compare(Tensor::i64({3}, {1, -2, 3}), want), "");
  EXPECT_NE(compare(Tensor::i64({3}, {1, -2, 4}), want).find("element 2: got 4, expected 3"), std::string::npos);
  EXPECT_NE(compare(Tensor::f32({3}, {1, -2, 3}), want).find("type"), std::string::npos);
  // float16 outputs are widened to compare with the suite's data (read as float32).
  EXPECT_EQ(compare(Tensor::f32({2}, {0.5f, 3.0f}).cast(DType::f16), Tensor::f32({2}, {0.5f, 3.0f})), "");
}

// y = a + b with a scalar a and b of shape [3].
onnx::ModelProto scalar_plus_vector() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* o = m.add_opset_import();
  o->set_domain("");
  o->set_version(13);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("g");
  auto input = [&](const char* name, std::vector<int64_t> dims) {
    auto* vi = g->add_input();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    auto* sh = tt->mutable_shape();
    for (int64_t d : dims) sh->add_dim()->set_dim_value(d);
  };
  input("a", {});
  input("b", {3});
  auto* n = g->add_node();
  n->set_op_type("Add");
  n->add_input("a");
  n->add_input("b");
  n->add_output("y");
  g->add_output()->set_name("y");
  g->mutable_output(0)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  return m;
}

TEST(ConformanceHostGraph, ScalarAndVectorInputsRunThroughTheWrapper) {
  const onnx::ModelProto m = scalar_plus_vector();
  // The loader alone refuses the scalar input (the batch is dim 0).
  EXPECT_THROW(load_onnx(m.SerializeAsString(), "t.onnx"), ModelError);
  const Graph g = load_onnx(wrap_inputs(m, {0, 1}), "t.onnx");
  ASSERT_EQ(g.inputs.size(), 2u);
  std::vector<Tensor> in = {Tensor::f32({1}, {10.0f}), Tensor::f32({1, 3}, {1.0f, 2.0f, 3.0f})};
  const std::vector<Tensor> out = run_graph_on_host(g, in);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(compare(out[0], Tensor::f32({3}, {11.0f, 12.0f, 13.0f})), "");
}

TEST(ConformanceHostGraph, BatchContractCheck) {
  onnx::ModelProto m = scalar_plus_vector();
  // a: [N, 3] + b: [N, 1] -> y: [N, 3], a batch model.
  auto* a = m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
  a->add_dim()->set_dim_param("N");
  a->add_dim()->set_dim_value(3);
  auto* b = m.mutable_graph()->mutable_input(1)->mutable_type()->mutable_tensor_type()->mutable_shape();
  b->mutable_dim(0)->set_dim_param("N");
  b->add_dim()->set_dim_value(1);
  const Graph g = load_onnx(m.SerializeAsString(), "t.onnx");
  const Tensor a3 = Tensor::f32({3, 3}, {0, 1, 2, 3, 4, 5, 6, 7, 8}), b3 = Tensor::f32({3, 1}, {1, 2, 3});
  EXPECT_NE(batch_misfit(g, {Tensor::f32({2, 3}, {0, 0, 0, 0, 0, 0}), b3}).find("first dims differ"), std::string::npos);
  ASSERT_EQ(batch_misfit(g, {a3, b3}), "");
  auto be = make_cpu_backend(1);
  const std::vector<Tensor> out = run_on_backend(*be, g, {a3, b3});
  EXPECT_EQ(compare(out.at(0), Tensor::f32({3, 3}, {1, 2, 3, 5, 6, 7, 9, 10, 11})), "");
}

}  // namespace
}  // namespace mgi::conformance
