// Whole small networks, CUDA vs CPU: the shapes the tool runs in practice.
// Tolerance 1e-5 of max|cpu| per output: every GEMM sums K products in another
// order than BLAS (about sqrt(K) ulp of the largest activations), and layers
// pass that on without amplifying it (weights scaled to keep activations O(1)).
#include <gtest/gtest.h>

#include <cmath>

#include "gpu_test_util.hpp"

namespace mgi::gputest {
namespace {

constexpr double kMlpTol = 1e-5;

TEST(Mlp, GemmTransBReluSoftmax) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  // 64 -> 128 -> 64 -> 10, PyTorch-style Linear export: Gemm(transB=1) with bias.
  const std::vector<int64_t> widths = {64, 128, 64, 10};
  GraphBuilder b;
  int x = b.input({widths[0]});
  x = b.linear_relu(x, w, widths);
  b.output(b.node("Softmax", {x}, [](Node& n) { n.axis = -1; }));
  CompareOptions opt{kMlpTol};
  opt.max_batch = 257;
  compare_backends(b, opt, "MLP 64-128-64-10 Gemm/Relu/Softmax");
}

TEST(Mlp, MatMulAddGeluLayerNormTanh) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  // 256 -> 512 -> 384 -> 10 as MatMul + Add, transformer-style block in the middle.
  GraphBuilder b;
  int x = b.input({256});
  x = b.node("Add", {b.node("MatMul", {x, b.weight(w, {256, 512}, 256)}), b.weight(w, {512}, 256)});
  x = b.node("Gelu", {x});
  x = b.node("LayerNormalization",
             {x, b.random_constant(w, {512}, 0.8f, 1.2f), b.random_constant(w, {512}, -0.1f, 0.1f)},
             [](Node& n) { n.axis = -1; });
  x = b.node("Add", {b.node("MatMul", {x, b.weight(w, {512, 384}, 512)}), b.weight(w, {384}, 512)});
  x = b.node("Tanh", {x});
  x = b.node("Add", {b.node("MatMul", {x, b.weight(w, {384, 10}, 384)}), b.weight(w, {10}, 384)});
  b.output(b.node("LogSoftmax", {x}, [](Node& n) { n.axis = 1; }));
  CompareOptions opt{kMlpTol};
  opt.max_batch = 100;
  compare_backends(b, opt, "MLP 256-512-384-10 MatMul/Add/Gelu/LayerNorm/Tanh/LogSoftmax");
}

TEST(Mlp, WideBatchNormLeakyReluTwoOutputs) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  // 1024 -> 1024 -> 1024 -> 3 with BatchNorm after each hidden Gemm; logits and
  // sigmoid probabilities are both outputs.
  GraphBuilder b;
  int x = b.input({1024});
  for (int l = 0; l < 2; ++l) {
    x = b.node("Gemm", {x, b.weight(w, {1024, 1024}, 1024), b.weight(w, {1024}, 1024)});
    x = b.node("BatchNormalization",
               {x, b.random_constant(w, {1024}, 0.5f, 1.5f), b.random_constant(w, {1024}, -0.2f, 0.2f),
                b.random_constant(w, {1024}, -0.2f, 0.2f), b.random_constant(w, {1024}, 0.5f, 2.0f)});
    x = b.node("LeakyRelu", {x}, [](Node& n) { n.alpha = 0.1f; });
  }
  const int logits = b.node("Gemm", {x, b.weight(w, {3, 1024}, 1024), b.weight(w, {1, 3}, 1024)},
                            [](Node& n) { n.trans_b = true; });
  b.output(logits);
  b.output(b.node("Sigmoid", {logits}));
  CompareOptions opt{kMlpTol};
  opt.max_batch = 1000;
  compare_backends(b, opt, "MLP 1024-1024-1024-3 Gemm/BatchNorm/LeakyRelu");
}

}  // namespace
}  // namespace mgi::gputest
