// The cuBLASLt plan key (kernels/gemm_plan_key.hpp): a plan fixes the shape,
// transposes, epilogue, types and bias alignment of a product, so keys that
// differ in any of them must not share a plan. Host code, no device needed.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <vector>

#include "gemm_plan_key.hpp"
#include "op_registry.hpp"

namespace mgi::cuda {
namespace {

LtPlanKey base() {
  LtPlanKey k;
  k.m = 64;
  k.n = 256;
  k.k = 512;
  k.trans_b = true;
  k.epilogue = LtEpilogue::relu_bias;
  k.bias_align = 256;
  k.ab_type = 0;       // CUDA_R_32F
  k.compute_type = 68;  // CUBLAS_COMPUTE_32F
  return k;
}

// Neither orders before the other and == agrees: one map slot.
void expect_same(const LtPlanKey& a, const LtPlanKey& b) {
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a != b);
  EXPECT_FALSE(a < b);
  EXPECT_FALSE(b < a);
}
// Exactly one orders before the other: two map slots.
void expect_distinct(const LtPlanKey& a, const LtPlanKey& b, const char* what) {
  EXPECT_FALSE(a == b) << what;
  EXPECT_TRUE(a != b) << what;
  EXPECT_NE(a < b, b < a) << what;
}

TEST(GemmPlanKey, EqualKeysCompareEqual) {
  expect_same(base(), base());
  expect_same(LtPlanKey{}, LtPlanKey{});
}

TEST(GemmPlanKey, EveryFieldAPlanFixesSeparatesKeys) {
  const LtPlanKey a = base();
  LtPlanKey b = a;
  b.n = 37;
  expect_distinct(a, b, "n");
  b = a;
  b.k = 5;
  expect_distinct(a, b, "k");
  b = a;
  b.m = 1;
  expect_distinct(a, b, "m");
  b = a;
  b.trans_a = true;
  expect_distinct(a, b, "trans_a");
  b = a;
  b.trans_b = false;
  expect_distinct(a, b, "trans_b");
  b = a;
  b.epilogue = LtEpilogue::gelu_bias;
  expect_distinct(a, b, "epilogue");
  b = a;
  b.bias_align = 16;
  expect_distinct(a, b, "bias alignment");
  b = a;
  b.bias_align = 0;
  expect_distinct(a, b, "bias or none");
  b = a;
  b.ab_type = 14;  // CUDA_R_16BF
  expect_distinct(a, b, "operand type");
  b = a;
  b.compute_type = 77;  // CUBLAS_COMPUTE_32F_FAST_TF32
  expect_distinct(a, b, "compute type");
}

// The bias pointer itself is set per call: two lanes' copies of one graph
// input (equally aligned) share a plan, a less aligned bias does not.
TEST(GemmPlanKey, BiasPointersShareAPlanByAlignment) {
  alignas(256) static float buf[256];
  EXPECT_EQ(bias_alignment(nullptr), 0);
  EXPECT_EQ(bias_alignment(buf), kMaxBiasAlign);
  EXPECT_EQ(bias_alignment(buf + 64), kMaxBiasAlign);  // 256 bytes on
  EXPECT_EQ(bias_alignment(buf + 4), 16);
  EXPECT_EQ(bias_alignment(buf + 1), 4);
  EXPECT_EQ(bias_alignment(reinterpret_cast<const char*>(buf) + 2), 2);

  Node n = make_node("Gemm", {}, {});
  n.trans_b = true;
  n.inputs = {0, 1, 2};
  n.outputs = {3};
  const GemmRoute r = route_gemm(n, {{1, 24}, {16, 24}, {1, 16}});
  ASSERT_TRUE(r.lt);
  ASSERT_EQ(r.epilogue, LtEpilogue::bias);
  expect_same(lt_plan_key(n, r, buf, 0, 68), lt_plan_key(n, r, buf + 128, 0, 68));
  expect_distinct(lt_plan_key(n, r, buf, 0, 68), lt_plan_key(n, r, buf + 4, 0, 68), "bias alignment");
}

Node gemm_w_x_trans_b() {  // Gemm(W, X, transB=1): W [16, 24], X [batch, 24], y [16, batch]
  Node n = make_node("Gemm", {}, {});
  n.trans_b = true;
  n.inputs = {0, 1};
  n.outputs = {2};
  return n;
}

// The issue this key fixes: the batch lands in n, and plans were keyed on node and m only.
TEST(GemmPlanKey, BatchInNGivesOneKeyPerBatchSize) {
  const Node n = gemm_w_x_trans_b();
  std::set<LtPlanKey> keys;
  for (int64_t batch : {37, 5, 1}) {
    const GemmRoute r = route_gemm(n, {{16, 24}, {batch, 24}});
    ASSERT_TRUE(r.lt) << batch;
    EXPECT_EQ(r.m, 16);
    EXPECT_EQ(r.k, 24);
    EXPECT_EQ(r.n, batch);
    const LtPlanKey key = lt_plan_key(n, r, nullptr, 0, 68);
    EXPECT_FALSE(key.trans_a);
    EXPECT_TRUE(key.trans_b);
    EXPECT_EQ(key.n, batch);
    keys.insert(key);
  }
  EXPECT_EQ(keys.size(), 3u);
  // The same batch again finds its key.
  EXPECT_EQ(keys.count(lt_plan_key(n, route_gemm(n, {{16, 24}, {5, 24}}), nullptr, 0, 68)), 1u);
}

// MatMul(Transpose(X), Y) with X, Y [batch, d]: the batch is the inner dimension k.
TEST(GemmPlanKey, BatchInKGivesOneKeyPerBatchSize) {
  Node n = make_node("MatMul", {}, {});
  n.inputs = {0, 1};
  n.outputs = {2};
  std::set<LtPlanKey> keys;
  for (int64_t batch : {64, 37, 5, 1}) {
    const GemmRoute r = route_gemm(n, {{24, batch}, {batch, 24}});
    ASSERT_TRUE(r.lt);
    EXPECT_EQ(r.k, batch);
    keys.insert(lt_plan_key(n, r, nullptr, 0, 68));
  }
  EXPECT_EQ(keys.size(), 4u);
}

// A Gemm's transposes come from the node; a MatMul has none, whatever its attributes say.
TEST(GemmPlanKey, TransposesOnlyFromGemm) {
  Node g = gemm_w_x_trans_b();
  g.trans_a = true;
  const LtPlanKey kg = lt_plan_key(g, route_gemm(g, {{24, 16}, {8, 24}}), nullptr, 0, 68);
  EXPECT_TRUE(kg.trans_a);
  EXPECT_TRUE(kg.trans_b);
  Node m = g;
  m.def = make_node("MatMul", {}, {}).def;
  const LtPlanKey km = lt_plan_key(m, route_gemm(m, {{16, 24}, {24, 8}}), nullptr, 0, 68);
  EXPECT_FALSE(km.trans_a);
  EXPECT_FALSE(km.trans_b);
}

}  // namespace
}  // namespace mgi::cuda
