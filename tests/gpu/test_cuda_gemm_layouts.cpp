// GEMMs whose n or k is the batch, and a bias that lives in the pipeline
// lanes, against the CPU backend. cuBLASLt plans fix n, k and the layouts
// (kernels/gemm_plan_key.hpp): a plan made at warm-up for max_batch rows and
// reused for a shorter batch computes a wrong product without an error, and a
// bias pointer frozen in a plan reads another lane's batch. Each test runs a
// full batch, shorter ones, then a full one again, with CUDA graphs off and
// on, and checks that cuBLASLt ran the products (a fallback to cublasGemmEx
// would pass without testing the plans). Fresh random inputs per test (seed
// printed; MGI_TEST_SEED=<n> replays).
#include <gtest/gtest.h>

#include <string>

#include "gpu_test_util.hpp"

namespace mgi::gputest {
namespace {

const std::vector<int64_t> kBatches = {64, 37, 5, 1, 64, 1};

void compare_layouts(const GraphBuilder& b, const std::string& what) {
  for (bool graphs : {false, true}) {
    CompareOptions opt;
    opt.max_batch = 64;
    opt.batches = kBatches;
    opt.cuda.cuda_graphs = graphs;
    const std::string w = what + (graphs ? ", CUDA graphs" : "");
    const GemmCounts n = compare_backends(b, opt, w);
    EXPECT_GT(n.lt, 0) << w << ": no product ran through cuBLASLt";
  }
}

// Gemm(W, X, transB=1) = W X^T [16, N]: the batch is n. Relu fuses into the
// cuBLASLt epilogue; Transpose puts the batch first again.
TEST(GemmLayouts, BatchInNGemmTransB) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  GraphBuilder b;
  const int x = b.input({24});
  int y = b.node("Gemm", {b.weight(w, {16, 24}, 24), x}, [](Node& n) { n.trans_b = true; });
  y = b.node("Relu", {y});
  b.output(b.node("Transpose", {y}));
  compare_layouts(b, "Gemm(W, X, transB=1) + Relu, Transpose");
}

// MatMul(W, Transpose(X)) [16, N]: the batch is n, with B a transposed activation.
TEST(GemmLayouts, BatchInNMatMulOfTranspose) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  GraphBuilder b;
  const int x = b.input({24});
  const int y = b.node("MatMul", {b.weight(w, {16, 24}, 24), b.node("Transpose", {x})});
  b.output(b.node("Transpose", {y}));
  compare_layouts(b, "MatMul(W, Transpose(X)), Transpose");
}

// MatMul(Transpose(X), X) [24, 24] sums over the batch (k = N); MatMul(X, .)
// brings the rows back. Each output row depends on the whole batch, the same
// on both backends.
TEST(GemmLayouts, BatchInK) {
  MGI_REQUIRE_CUDA_DEVICE();
  GraphBuilder b;
  const int x = b.input({24});
  const int gram = b.node("MatMul", {b.node("Transpose", {x}), x});
  b.output(b.node("MatMul", {x, gram}));
  compare_layouts(b, "MatMul(X, MatMul(Transpose(X), X))");
}

// Gemm(X, W, C) with C a graph input: for one row, C [1, 16] is a row bias
// cuBLASLt adds in its epilogue, read from the lane the batch runs in. Single
// rows in a row cycle through the lanes; with CUDA graphs each lane's graph
// must hold its own lane's C (and capturing them must make no new plan).
TEST(GemmLayouts, BiasFromAGraphInputFollowsTheLane) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  GraphBuilder b;
  const int x = b.input({24});
  const int c = b.input({16});
  b.output(b.node("Gemm", {x, b.weight(w, {16, 24}, 24), c}, [](Node& n) { n.trans_b = true; }));
  for (int64_t max_batch : {1, 4}) {
    for (bool graphs : {false, true}) {
      const std::string what = "Gemm(X, W, C input), max batch " + std::to_string(max_batch) +
                               (graphs ? ", CUDA graphs" : "");
      CompareOptions opt;
      opt.max_batch = max_batch;
      opt.batches = max_batch == 1 ? std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1}
                                   : std::vector<int64_t>{4, 1, 1, 1, 3, 1, 4, 1};
      opt.cuda.cuda_graphs = graphs;
      const GemmCounts n = compare_backends(b, opt, what);
      EXPECT_GT(n.lt, 0) << what << ": the one-row bias never ran through cuBLASLt";
    }
  }
  // With graphs, every full batch replays a lane's graph: capture must have worked.
  BackendOptions o;
  o.cuda_graphs = true;
  auto be = make_cuda_backend(0, o);
  be->prepare(b.graph(), b.input_rows(), 1);
  EXPECT_TRUE(dynamic_cast<cuda::CudaBackend&>(*be).graphs_active()) << be->describe();
}

}  // namespace
}  // namespace mgi::gputest
