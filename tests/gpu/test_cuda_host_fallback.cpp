// An op without a CUDA kernel runs through its CPU kernel on the host between
// device copies (kernels/backend/host_fallback.cpp): the result must equal the
// CPU backend's, between device kernels on both sides, for full and partial
// batches; describe() names the host nodes and CUDA graphs stay off.
#include "gpu_test_util.hpp"

namespace mgi::gputest {
namespace {

// MatMul -> mgi.test.Work (no CUDA kernel; y = x, sleeps only for positive
// x[:, 0], which the Relu before it keeps tiny) -> Relu: a host step between
// two device kernels.
GraphBuilder host_step_model(Rng& w) {
  GraphBuilder b;
  const int x = b.input({16});
  const int h = b.node("MatMul", {x, b.weight(w, {16, 8}, 16)});
  const int neg = b.node("Neg", {b.node("Relu", {h})});  // <= 0: Work sleeps 0 ns
  const int work = b.node("mgi.test:Work", {neg}, [](Node& n) { n.ns_per_unit = 1; });
  b.output(b.node("Sigmoid", {work}));
  return b;
}

TEST(HostFallback, OpWithoutCudaKernelMatchesCpu) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  const GraphBuilder b = host_step_model(w);
  CompareOptions opt;
  opt.batches = {37, 5, 1, 37};
  compare_backends(b, opt, "host step");
  auto gpu = make_cuda_backend(0, BackendOptions{Precision::fp32, true, true});
  gpu->prepare(b.graph(), b.input_rows(), 8);
  const std::string d = gpu->describe();
  EXPECT_NE(d.find("1 node(s) on the host, no CUDA kernel for mgi.test.Work"), std::string::npos) << d;
  EXPECT_NE(d.find("without CUDA graphs (host steps)"), std::string::npos) << d;
}

}  // namespace
}  // namespace mgi::gputest
