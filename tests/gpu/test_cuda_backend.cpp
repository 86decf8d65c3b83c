// The CUDA backend's contract beyond single ops: description, buffer reuse
// across batch sizes, page-locked caller memory, argument checks, errors.
#include <gtest/gtest.h>

#include <cstring>

#include "device_buffer.hpp"
#include "error.hpp"
#include "gpu_test_util.hpp"

namespace mgi::gputest {
namespace {

GraphBuilder small_mlp(Rng& w) {
  GraphBuilder b;
  int x = b.input({20});
  x = b.node("Gemm", {x, b.random_constant(w, {16, 20}), b.random_constant(w, {16})},
             [](Node& n) { n.trans_b = true; });
  x = b.node("Tanh", {x});
  x = b.node("MatMul", {x, b.random_constant(w, {16, 4})});
  b.output(b.node("Softmax", {x}, [](Node& n) { n.axis = -1; }));
  return b;
}

TEST(CudaBackend, DescribesDevice) {
  MGI_REQUIRE_CUDA_DEVICE();
  auto be = make_cuda_backend(0);
  const std::string d = be->describe();
  EXPECT_EQ(d.rfind("cuda:0 ", 0), 0u) << d;
  EXPECT_NE(d.find(cuda_device_name(0)), std::string::npos) << d;
  std::printf("[ device   ] %s\n", d.c_str());
}

TEST(CudaBackend, RowsDoNotInfluenceEachOther) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  const GraphBuilder b = small_mlp(w);
  const int64_t max_batch = 300;
  const Batch in = random_inputs(w, b.input_rows(), max_batch);
  auto be = make_cuda_backend(0);
  be->prepare(b.graph(), b.input_rows(), max_batch);
  const Batch full = run_rows(*be, b.graph(), b.input_rows(), in, 0, max_batch);
  for (const auto& [first, rows] : std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {299, 1}, {17, 64}, {5, 290}}) {
    const Batch part = run_rows(*be, b.graph(), b.input_rows(), in, first, rows);
    const size_t row = full[0].size() / static_cast<size_t>(max_batch);
    const Batch want = {std::vector<float>(full[0].begin() + first * row, full[0].begin() + (first + rows) * row)};
    // cuBLAS may pick another kernel for another row count: equal within rounding, not bitwise.
    expect_close(want, part, 1e-5, "rows [" + std::to_string(first) + "," + std::to_string(first + rows) + ")");
  }
}

TEST(CudaBackend, PinnedCallerMemoryGivesSameResult) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  const GraphBuilder b = small_mlp(w);
  const int64_t rows = 50;
  const Batch in = random_inputs(w, b.input_rows(), rows);
  auto be = make_cuda_backend(0);
  be->prepare(b.graph(), b.input_rows(), rows);
  const Batch pageable = run_rows(*be, b.graph(), b.input_rows(), in, 0, rows);

  cuda::PinnedBuffer pin_in(in[0].size() * sizeof(float)), pin_out(pageable[0].size() * sizeof(float));
  std::memcpy(pin_in.get(), in[0].data(), pin_in.bytes());
  be->run(rows, {pin_in.f32()}, {pin_out.f32()});
  EXPECT_EQ(std::memcmp(pin_out.get(), pageable[0].data(), pin_out.bytes()), 0)
      << "staged and direct copies must see the same device computation";
}

TEST(CudaBackend, PrepareAgainWithAnotherGraph) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  auto gpu = make_cuda_backend(0);
  auto cpu = make_cpu_backend(1);
  for (int round = 0; round < 2; ++round) {
    const GraphBuilder b = round == 0 ? small_mlp(w) : [&] {
      GraphBuilder g;
      g.output(g.node("Exp", {g.input({3, 3})}));
      return g;
    }();
    const Batch in = random_inputs(w, b.input_rows(), 9);
    gpu->prepare(b.graph(), b.input_rows(), 9);
    cpu->prepare(b.graph(), b.input_rows(), 9);
    expect_close(run_rows(*cpu, b.graph(), b.input_rows(), in, 0, 9),
                 run_rows(*gpu, b.graph(), b.input_rows(), in, 0, 9), 1e-5, "round " + std::to_string(round));
  }
}

TEST(CudaBackend, RejectsRowsOutsidePreparedRange) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  const GraphBuilder b = small_mlp(w);
  auto be = make_cuda_backend(0);
  std::vector<float> in(20 * 9), out(4 * 9);
  EXPECT_THROW(be->run(1, {in.data()}, {out.data()}), Error);  // not prepared
  be->prepare(b.graph(), b.input_rows(), 8);
  EXPECT_THROW(be->run(0, {in.data()}, {out.data()}), Error);
  EXPECT_THROW(be->run(9, {in.data()}, {out.data()}), Error);
  EXPECT_THROW(be->run(8, {}, {out.data()}), Error);
  EXPECT_NO_THROW(be->run(8, {in.data()}, {out.data()}));
}

TEST(CudaBackend, UsedSecondOutputIsAModelError) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  GraphBuilder b;
  const int x = b.input({8});
  b.node("LayerNormalization", {x, b.random_constant(w, {8})});
  Graph& g = b.graph();
  Value mean;
  mean.name = "mean";
  g.values.push_back(mean);
  g.nodes.back().outputs.push_back(static_cast<int>(g.values.size()) - 1);
  g.outputs = {g.nodes.back().outputs[0], g.nodes.back().outputs[1]};
  auto be = make_cuda_backend(0);
  try {
    be->prepare(g, b.input_rows(), 4);
    FAIL() << "expected a ModelError";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Exit::model) << e.what();
  }
}

TEST(CudaBackend, DeviceOutOfRangeIsARuntimeError) {
  MGI_REQUIRE_CUDA_DEVICE();
  try {
    make_cuda_backend(cuda_device_count());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Exit::runtime) << e.what();
  }
}

TEST(CudaBackend, LargeBatchUsesGridStrideLoops) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  GraphBuilder b;  // 2^20 rows x 24 values: more elements than one grid covers
  const int x = b.input({24});
  const int y = b.node("Mul", {b.node("Sigmoid", {x}), b.random_constant(w, {24})});
  b.output(b.node("Softmax", {y}, [](Node& n) { n.axis = -1; }));
  CompareOptions opt{2e-6};
  opt.max_batch = int64_t(1) << 20;
  compare_backends(b, opt, "2^20 rows");
}

}  // namespace
}  // namespace mgi::gputest
