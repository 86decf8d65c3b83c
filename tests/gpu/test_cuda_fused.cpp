// Fused GEMM epilogues (cuBLASLt bias/ReLU/GELU and the elementwise chain
// after them) and runtime.precision on the CUDA backend, against the CPU
// backend in fp32. Tolerances: precision_tolerance() (src/backend/backend.hpp), the
// ones docs/PERFORMANCE.md documents, except cuBLASLt's GELU epilogue
// (kGeluEpilogueTol); max|cuda - cpu| / max|cpu| per output, NaN never
// passes. Every fused path also checks that cuBLASLt ran it: a product it
// rejects falls back to cublasGemmEx, which matches the CPU backend as well.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "graph_fuse.hpp"
#include "gpu_test_util.hpp"

namespace mgi::gputest {
namespace {

// cuBLASLt's GELU epilogue against the CPU's tanhf form. The cuBLAS
// documentation (cublasLtEpilogue_t; cublasLt.h of CUDA 13) says only "apply
// GELU point-wise transform to the results (x:=GELU(x))": no formula, no
// accuracy. Not documented, so the tolerance is a derived bound: assume the
// epilogue evaluates the tanh form with the GPU's fast tanh, PTX
// tanh.approx.f32, whose maximum relative error over the whole float range is
// 2^-11 (PTX ISA, "Floating Point Instructions: tanh"). Then
//   |computed - GELU(x)| = 0.5 |x| |tanh(u)| |d| <= 2^-12 |x|,  |d| <= 2^-11,
// and this test's measure, max error / max|GELU(x)|, stays below
// 2^-12 max|x| / max GELU(x): about 2^-12 (2.4e-4) for pre-activations of
// either sign alike (GELU(x) -> x for large x), 2^-11 if the most negative
// one is twice the most positive. fp32 GEMM rounding (~1e-6) is negligible.
// An epilogue less accurate than the hardware tanh fails here, as it should.
constexpr double kGeluEpilogueTol = 4.9e-4;  // 2^-11

void expect_cublaslt_ran(const GemmCounts& n, const std::string& what) {
  EXPECT_GT(n.lt, 0) << what << ": no GEMM ran through cuBLASLt (" << n.fallback << " fell back)";
}

struct Act {
  const char* name;
  std::string op;  // registry op; "" = no activation
  bool gelu_tanh;
};
const Act kActs[] = {{"none", "", false},          {"Relu", "Relu", false},     {"LeakyRelu", "LeakyRelu", false},
                     {"Gelu", "Gelu", false},      {"GeluTanh", "Gelu", true},  {"Tanh", "Tanh", false},
                     {"Sigmoid", "Sigmoid", false}};

int activation(GraphBuilder& b, int x, const Act& a) {
  if (a.op.empty()) return x;
  return b.node(a.op, {x}, [&](Node& n) {
    n.gelu_tanh = a.gelu_tanh;
    if (a.op == "LeakyRelu") n.alpha = 0.1f;
  });
}

// form 0: Gemm(transB) with C; 1: Gemm + Add(bias, y); 2: MatMul + Add(y, bias).
GraphBuilder layer(Rng& w, int form, const Act& act, int64_t in, int64_t out) {
  GraphBuilder b;
  int x = b.input({in});
  const int bias = b.weight(w, {out}, in);
  if (form == 0) {
    x = b.node("Gemm", {x, b.weight(w, {out, in}, in), bias}, [](Node& n) { n.trans_b = true; });
  } else if (form == 1) {
    x = b.node("Add", {bias, b.node("Gemm", {x, b.weight(w, {in, out}, in)})});
  } else {
    x = b.node("Add", {b.node("MatMul", {x, b.weight(w, {in, out}, in)}), bias});
  }
  b.output(activation(b, x, act));
  return b;
}

TEST(FusedGemm, EveryEpilogueMatchesCpu) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  for (int form = 0; form < 3; ++form)
    for (const Act& act : kActs) {
      const GraphBuilder b = layer(w, form, act, 96, 130);
      // One node after fusion: the product, its bias and the activation.
      ASSERT_EQ(fuse_graph(b.graph(), b.input_rows()).nodes.size(), 1u) << act.name;
      const std::string what = std::string("form ") + std::to_string(form) + " " + act.name;
      CompareOptions opt;
      opt.max_batch = 203;
      if (act.op == "Gelu" && act.gelu_tanh) opt.tol = kGeluEpilogueTol;  // fused: cuBLASLt's GELU
      expect_cublaslt_ran(compare_backends(b, opt, what + " fused"), what + " fused");
      opt.tol = CompareOptions{}.tol;  // unfused: the elementwise kernel's tanhf
      opt.cuda.fuse = false;
      expect_cublaslt_ran(compare_backends(b, opt, what + " unfused"), what + " unfused");
    }
}

TEST(FusedGemm, StepsAfterTheLtEpilogueAndUnaryChains) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  GraphBuilder b;
  int x = b.input({64});
  x = b.node("Gemm", {x, b.weight(w, {48, 64}, 64), b.weight(w, {1, 48}, 64)},
             [](Node& n) { n.trans_b = true; });
  x = b.node("Relu", {x});     // cuBLASLt RELU_BIAS
  x = b.node("Sigmoid", {x});  // then one chain kernel: Sigmoid, Neg, Exp
  x = b.node("Neg", {x});
  x = b.node("Exp", {x});
  const int skip = x;
  x = b.node("Abs", {b.node("Mul", {x, b.weight(w, {48}, 1)})});
  x = b.node("Sqrt", {x});     // a unary chain not after a GEMM: Abs, Sqrt, Tanh
  x = b.node("Tanh", {x});
  b.output(b.node("Add", {x, skip}));
  const Graph f = fuse_graph(b.graph(), b.input_rows());
  ASSERT_EQ(f.nodes.size(), 4u);
  const std::string what = "Gemm+bias+Relu+Sigmoid+Neg+Exp, Mul, Abs+Sqrt+Tanh, Add";
  expect_cublaslt_ran(compare_backends(b, CompareOptions{}, what), what);
}

TEST(FusedGemm, SequenceMatMulBiasGelu) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  GraphBuilder b;
  const int x = b.input({6, 32});  // [N, 6, 32] x [32, 48]: rows = 6 N
  const int h = b.node("Add", {b.node("MatMul", {x, b.weight(w, {32, 48}, 32)}), b.weight(w, {48}, 32)});
  b.output(b.node("Flatten", {b.node("Gelu", {h}, [](Node& n) { n.gelu_tanh = true; })}));
  CompareOptions opt;
  opt.max_batch = 77;
  opt.tol = kGeluEpilogueTol;
  expect_cublaslt_ran(compare_backends(b, opt, "[N,6,32] MatMul+bias+GeluTanh"), "MatMul+bias+GeluTanh");
}

TEST(FusedGemm, GemmWithScaledOrFullCFallsBack) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  for (int variant = 0; variant < 2; ++variant) {
    GraphBuilder b;
    int x = b.input({40});
    const Shape c = variant == 0 ? Shape{24} : Shape{1};  // beta != 1; a scalar C
    x = b.node("Gemm", {x, b.weight(w, {40, 24}, 40), b.weight(w, c, 40)}, [&](Node& n) {
      n.alpha = 0.75f;
      n.beta = variant == 0 ? -0.5f : 1.0f;
    });
    b.output(b.node("LeakyRelu", {x}, [](Node& n) { n.alpha = 0.3f; }));
    const GemmCounts n = compare_backends(b, CompareOptions{}, "Gemm alpha/beta variant " + std::to_string(variant));
    // Routed to cublasGemmEx by design (route_gemm), not rejected by cuBLASLt.
    EXPECT_EQ(n.lt, 0) << variant;
    EXPECT_EQ(n.fallback, 0) << variant;
  }
}

// ---- runtime.precision ----

const Precision kPrecisions[] = {Precision::fp32, Precision::tf32, Precision::fp16, Precision::bf16};

CompareOptions at(Precision p, int64_t max_batch) {
  CompareOptions opt;
  opt.tol = precision_tolerance(p);
  opt.max_batch = max_batch;
  opt.cuda.precision = p;
  return opt;
}

TEST(Precision, DescribeNamesIt) {
  MGI_REQUIRE_CUDA_DEVICE();
  for (Precision p : kPrecisions) {
    BackendOptions o;
    o.precision = p;
    const std::string d = make_cuda_backend(0, o)->describe();
    EXPECT_NE(d.find(std::string(", ") + precision_name(p) + ")"), std::string::npos) << d;
  }
}

TEST(Precision, ReluMlpWithinTolerance) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  // 512 -> 1024 -> 1024 -> 10, PyTorch Linear export (Gemm transB + C) with ReLU.
  const std::vector<int64_t> widths = {512, 1024, 1024, 10};
  GraphBuilder b;
  int x = b.input({widths[0]});
  x = b.linear_relu(x, w, widths);
  b.output(x);
  for (Precision p : kPrecisions) {
    const std::string what = std::string("ReLU MLP ") + precision_name(p);
    expect_cublaslt_ran(compare_backends(b, at(p, 257), what), what);
  }
}

TEST(Precision, GeluTanhMlpWithinTolerance) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  GraphBuilder b;
  int x = b.input({256});
  x = b.node("Add", {b.node("MatMul", {x, b.weight(w, {256, 512}, 256)}), b.weight(w, {512}, 256)});
  x = b.node("Gelu", {x}, [](Node& n) { n.gelu_tanh = true; });
  x = b.node("Add", {b.node("MatMul", {x, b.weight(w, {512, 256}, 512)}), b.weight(w, {256}, 512)});
  x = b.node("Tanh", {x});
  b.output(b.node("Add", {b.node("MatMul", {x, b.weight(w, {256, 10}, 256)}), b.weight(w, {10}, 256)}));
  for (Precision p : kPrecisions) {
    // The GELU epilogue's error (kGeluEpilogueTol) passes through two more
    // fan-in-scaled layers and a Tanh; with errors of mixed sign they keep its
    // relative size (an estimate, not a bound). Larger than fp32's 1e-5,
    // within the other precisions' tolerances.
    CompareOptions opt = at(p, 300);
    opt.tol = std::max(opt.tol, kGeluEpilogueTol);
    const std::string what = std::string("GELU MLP ") + precision_name(p);
    expect_cublaslt_ran(compare_backends(b, opt, what), what);
  }
}

TEST(Precision, BatchedMatMulOfTwoActivations) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  // Attention-like scores: both operands of the second product are converted per batch.
  GraphBuilder b;
  const int x = b.input({8, 32});
  const int q = b.node("MatMul", {x, b.weight(w, {32, 32}, 32)});
  const int xt = b.node("Transpose", {x}, [](Node& n) { n.perm = {0, 2, 1}; });
  const int s = b.node("Mul", {b.node("MatMul", {q, xt}), b.constant({1}, {1.0f / std::sqrt(32.0f)})});
  b.output(b.node("Flatten", {b.node("Softmax", {s}, [](Node& n) { n.axis = -1; })}));
  for (Precision p : kPrecisions) {
    CompareOptions opt = at(p, 129);
    opt.lo = -1.0f;
    opt.hi = 1.0f;
    const std::string what = std::string("scores ") + precision_name(p);
    expect_cublaslt_ran(compare_backends(b, opt, what), what);  // the first MatMul (2-D B)
  }
}

}  // namespace
}  // namespace mgi::gputest
