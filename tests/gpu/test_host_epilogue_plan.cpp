// Which GEMMs take cuBLASLt with a fused epilogue and which fall back to
// cublasGemmEx (epilogue_plan.hpp): host code, no device needed.
#include <gtest/gtest.h>

#include "epilogue_plan.hpp"
#include "op_registry.hpp"

namespace mgi::cuda {
namespace {

Node gemm_node(const char* op, size_t inputs, std::vector<UnaryStep> steps = {}) {
  std::vector<int> in;
  for (size_t k = 0; k < inputs; ++k) in.push_back(static_cast<int>(k));
  Node n = make_node(op, in, {static_cast<int>(inputs)});
  n.epilogue = std::move(steps);
  return n;
}
UnaryStep step(UnaryFn fn, bool gelu_tanh = false) {
  UnaryStep s;
  s.fn = fn;
  s.gelu_tanh = gelu_tanh;
  return s;
}

TEST(EpiloguePlan, GemmRowBiasReluIsOneLtCall) {
  Node n = gemm_node("Gemm", 3, {step(UnaryFn::relu), step(UnaryFn::sigmoid)});
  n.trans_b = true;
  const GemmRoute r = route_gemm(n, {{64, 512}, {256, 512}, {256}});
  EXPECT_TRUE(r.lt);
  EXPECT_EQ(r.epilogue, LtEpilogue::relu_bias);
  EXPECT_EQ(r.steps_done, 1u);  // Sigmoid runs after, in one elementwise pass
  EXPECT_EQ(r.m, 64);
  EXPECT_EQ(r.n, 256);
  EXPECT_EQ(r.k, 512);
}

TEST(EpiloguePlan, GeluOnlyTheTanhFormFuses) {
  const Node exact = gemm_node("MatMul", 3, {step(UnaryFn::gelu)});
  const GemmRoute a = route_gemm(exact, {{8, 4, 16}, {16, 32}, {32}});
  EXPECT_TRUE(a.lt);
  EXPECT_EQ(a.epilogue, LtEpilogue::bias);
  EXPECT_EQ(a.steps_done, 0u);
  EXPECT_EQ(a.m, 32);  // leading dims of A fold into the rows
  const Node approx = gemm_node("MatMul", 3, {step(UnaryFn::gelu, true)});
  const GemmRoute b = route_gemm(approx, {{8, 16}, {16, 32}, {1, 32}});
  EXPECT_EQ(b.epilogue, LtEpilogue::gelu_bias);
  EXPECT_EQ(b.steps_done, 1u);
  const GemmRoute c = route_gemm(gemm_node("MatMul", 2, {step(UnaryFn::relu)}), {{8, 16}, {16, 32}});
  EXPECT_EQ(c.epilogue, LtEpilogue::relu);
  EXPECT_FALSE(c.bias);
}

TEST(EpiloguePlan, GemmCThatIsNotARowBiasTakesTheLegacyPath) {
  Node n = gemm_node("Gemm", 3, {step(UnaryFn::relu)});
  const GemmRoute full = route_gemm(n, {{10, 4}, {4, 6}, {10, 6}});
  EXPECT_FALSE(full.lt);
  EXPECT_TRUE(full.bias);
  EXPECT_EQ(full.beta, 1.0f);
  EXPECT_EQ(full.steps_done, 0u);  // the Relu runs as a step
  n.beta = 0.5f;
  const GemmRoute scaled = route_gemm(n, {{10, 4}, {4, 6}, {6}});
  EXPECT_FALSE(scaled.lt);
  EXPECT_EQ(scaled.beta, 0.5f);
  n.beta = 0.0f;  // C ignored: a plain product
  const GemmRoute ignored = route_gemm(n, {{10, 4}, {4, 6}, {10, 6}});
  EXPECT_TRUE(ignored.lt);
  EXPECT_FALSE(ignored.bias);
  EXPECT_EQ(ignored.epilogue, LtEpilogue::relu);
}

TEST(EpiloguePlan, BatchedAndEmptyProductsTakeTheLegacyPath) {
  EXPECT_FALSE(route_gemm(gemm_node("MatMul", 2), {{3, 4, 5}, {3, 5, 6}}).lt);
  EXPECT_FALSE(route_gemm(gemm_node("MatMul", 2), {{5}, {5, 6}}).lt);
  EXPECT_FALSE(route_gemm(gemm_node("Gemm", 2), {{7, 0}, {0, 3}}).lt);  // k == 0
}

}  // namespace
}  // namespace mgi::cuda
