// mgi.test.Work, the test-only op of the load-balance benchmark: loaded only
// from its own domain, output = input, and one sleep per batch of at least
// (sum of the rows' lengths) * ns_per_unit. Only lower bounds on time are
// checked: upper bounds flake on a loaded machine.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "backend.hpp"
#include "error.hpp"
#include "graph.hpp"
#include "onnx_test_model.hpp"
#include "op_registry.hpp"
#include "test_ops.hpp"

namespace mgi {
namespace {

using test::OnnxModel;

OnnxModel work_model(int64_t d, const std::string& domain = "mgi.test", int64_t ns_per_unit = -1) {
  OnnxModel m;
  auto* o = m.m.add_opset_import();
  o->set_domain("mgi.test");
  o->set_version(1);
  m.input("x", {-1, d});
  auto* n = m.node("Work", {"x"}, {"y"}, "work");
  n->set_domain(domain);
  if (ns_per_unit >= 0) OnnxModel::attr_i(n, "ns_per_unit", ns_per_unit);
  m.output("y");
  return m;
}

std::string model_error(const OnnxModel& m) {
  try {
    m.load();
  } catch (const ModelError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TestWorkOp, LoadsFromItsDomainOnly) {
  const Graph g = work_model(3, "mgi.test", 250).load();
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_TRUE(g.nodes[0].is("Work"));
  EXPECT_EQ(g.nodes[0].def->domain, "mgi.test");
  EXPECT_EQ(g.nodes[0].ns_per_unit, 250);
  EXPECT_EQ(work_model(3).load().nodes[0].ns_per_unit, 1000);  // the default
  EXPECT_NE(model_error(work_model(3, "")).find("unsupported ONNX op 'Work'"), std::string::npos);
  EXPECT_NE(model_error(work_model(3, "mgi.other")).find("unsupported ONNX op 'Work'"), std::string::npos);
}

TEST(TestWorkOp, BadAttributeAndShape) {
  OnnxModel neg = work_model(3);
  OnnxModel::attr_i(neg.g->mutable_node(0), "ns_per_unit", -5);
  EXPECT_NE(model_error(neg).find("attribute 'ns_per_unit' must be in [0, "), std::string::npos);

  OnnxModel flat;
  auto* o = flat.m.add_opset_import();
  o->set_domain("mgi.test");
  o->set_version(1);
  flat.input("x", {-1});
  flat.node("Work", {"x"}, {"y"}, "work")->set_domain("mgi.test");
  flat.output("y");
  EXPECT_NE(model_error(flat).find("expected [batch, d] with d >= 1"), std::string::npos);

  OnnxModel folded = work_model(3);
  folded.init("c", {2, 3}, {1, 2, 3, 4, 5, 6});
  folded.node("Work", {"c"}, {"z"}, "work_c")->set_domain("mgi.test");
  folded.node("Add", {"y", "z"}, {"sum"});
  folded.g->mutable_output(0)->set_name("sum");
  EXPECT_NE(model_error(folded).find("node 'work_c' (Work): needs a runtime input"), std::string::npos);
}

TEST(TestWorkOp, CopiesInputAndSleepsForTheBatchLength) {
  const int64_t ns_per_unit = 100000;  // 0.1 ms per unit
  const Graph g = work_model(2, "mgi.test", ns_per_unit).load();
  auto backend = make_cpu_backend(1);
  backend->prepare(g, {{2}}, 8);
  // Lengths 30 + 0 + 50 + 40 (negatives count as 0) = 120 units = 12 ms.
  const std::vector<float> x = {30, 1.5f, -7, 2, 50, -3, 40, 4, 0, 9};
  std::vector<float> y(x.size(), -1.0f);
  const auto t0 = std::chrono::steady_clock::now();
  backend->run(5, {x.data()}, {y.data()});
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(y, x);
  EXPECT_GE(s, 120 * ns_per_unit * 1e-9);
}

TEST(TestWorkOp, KernelSleepsOncePerCall) {
  Node n = make_node("Work", {0}, {1}, 17, "mgi.test");
  EXPECT_TRUE(n.def->no_fold);
  EXPECT_EQ(n.ns_per_unit, 1000);  // the default
  n.ns_per_unit = 1000000;  // 1 ms per unit
  const Tensor x = Tensor::f32({2, 2}, {3, 0, 4, 0});  // 7 units = 7 ms
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<Tensor> y = run_cpu_node(n, {&x}, "t.onnx");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(y.size(), 1u);
  EXPECT_EQ(y[0].shape, x.shape);
  EXPECT_EQ(std::vector<float>(y[0].data<float>(), y[0].data<float>() + 4), (std::vector<float>{3, 0, 4, 0}));
  EXPECT_GE(s, 7e-3);
  static_assert(kMaxTestWorkNsPerUnit == 1000000000, "1 s per unit");
}

}  // namespace
}  // namespace mgi
