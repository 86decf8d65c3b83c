// The CUDA backend's pipeline (submit/collect over lanes and three streams)
// against the CPU backend; page-locked host buffers; its own memory plan;
// out-of-memory at prepare() backing off to a batch that fits.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <cstring>
#include <deque>

#include "batch_size.hpp"
#include "cuda_backend.hpp"
#include "device_buffer.hpp"
#include "error.hpp"
#include "gpu_test_util.hpp"
#include "model_io.hpp"

namespace mgi::gputest {
namespace {

GraphBuilder pipeline_mlp(Rng& w, int64_t in = 20, int64_t hidden = 16) {
  GraphBuilder b;
  int x = b.input({in});
  x = b.node("Gemm", {x, b.random_constant(w, {hidden, in}), b.random_constant(w, {hidden})},
             [](Node& n) { n.trans_b = true; });
  x = b.node("Tanh", {x});
  const int logits = b.node("MatMul", {x, b.random_constant(w, {hidden, 4})});
  b.output(b.node("Softmax", {logits}, [](Node& n) { n.axis = -1; }));
  b.output(logits);  // a second output, also an input of another node
  return b;
}

// All rows through `be` in batches of up to `batch`, `depth` batches in
// flight, inputs from a ring of page-locked buffers (reused only after their
// batch is collected, as BatchRunner does); output 0 pageable, output 1 pinned.
Batch run_pipelined(Backend& be, const GraphBuilder& b, const Batch& in, int64_t rows, int64_t batch) {
  const int64_t f_in = shape_numel(b.input_rows()[0]);
  const size_t depth = static_cast<size_t>(be.pipeline_depth());
  std::vector<HostBuffer> ring;
  for (size_t s = 0; s <= depth; ++s) ring.push_back(be.host_buffer(static_cast<size_t>(batch * f_in) * sizeof(float)));
  Batch out = {std::vector<float>(static_cast<size_t>(rows * 4), NAN), {}};
  HostBuffer pinned_out = be.host_buffer(static_cast<size_t>(rows * 4) * sizeof(float));
  for (int64_t j = 0; j < rows * 4; ++j) pinned_out.f32()[j] = NAN;
  std::deque<size_t> flight;
  size_t next = 0;
  for (int64_t at = 0; at < rows; at += batch) {
    const int64_t n = std::min(batch, rows - at);
    if (flight.size() == depth) {
      be.collect();
      flight.pop_front();
    }
    HostBuffer& slot = ring[next];
    next = (next + 1) % ring.size();
    std::memcpy(slot.get(), in[0].data() + at * f_in, static_cast<size_t>(n * f_in) * sizeof(float));
    be.submit(n, {slot.f32()}, {out[0].data() + at * 4, pinned_out.f32() + at * 4});
    flight.push_back(0);
  }
  while (!flight.empty()) be.collect(), flight.pop_front();
  out[1].assign(pinned_out.f32(), pinned_out.f32() + rows * 4);
  return out;
}

TEST(CudaPipeline, PipelinedBatchesMatchTheCpuBackend) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  const GraphBuilder b = pipeline_mlp(w);
  const int64_t rows = 1000, batch = 37;  // 28 batches, the last one short
  const Batch in = random_inputs(w, b.input_rows(), rows);
  auto cpu = make_cpu_backend(1);
  cpu->prepare(b.graph(), b.input_rows(), rows);
  const Batch ref = run_rows(*cpu, b.graph(), b.input_rows(), in, 0, rows);
  auto gpu = make_cuda_backend(0);
  EXPECT_GE(gpu->pipeline_depth(), 2);
  gpu->prepare(b.graph(), b.input_rows(), batch);
  expect_close(ref, run_pipelined(*gpu, b, in, rows, batch), 1e-5, "pipelined");
  // Pageable inputs (staged) through the same lanes, and run() between pipelined runs.
  for (int64_t first : {0, 500, 963}) {
    const Batch part = run_rows(*gpu, b.graph(), b.input_rows(), in, first, 37);
    Batch want = {std::vector<float>(ref[0].begin() + first * 4, ref[0].begin() + (first + 37) * 4),
                  std::vector<float>(ref[1].begin() + first * 4, ref[1].begin() + (first + 37) * 4)};
    expect_close(want, part, 1e-5, "run() rows from " + std::to_string(first));
  }
  expect_close(ref, run_pipelined(*gpu, b, in, rows, batch), 1e-5, "pipelined again");
}

TEST(CudaPipeline, DepthIsEnforcedAndDrainForgetsOutstandingBatches) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  const GraphBuilder b = pipeline_mlp(w);
  const Batch in = random_inputs(w, b.input_rows(), 8);
  auto gpu = make_cuda_backend(0);
  gpu->prepare(b.graph(), b.input_rows(), 8);
  std::vector<float> o0(32), o1(32);
  for (int k = 0; k < gpu->pipeline_depth(); ++k) gpu->submit(8, {in[0].data()}, {o0.data(), o1.data()});
  EXPECT_THROW(gpu->submit(8, {in[0].data()}, {o0.data(), o1.data()}), Error);
  EXPECT_THROW(gpu->run(8, {in[0].data()}, {o0.data(), o1.data()}), Error);  // not with batches outstanding
  gpu->drain();
  EXPECT_THROW(gpu->collect(), Error);
  EXPECT_NO_THROW(gpu->run(8, {in[0].data()}, {o0.data(), o1.data()}));
}

TEST(CudaPipeline, HostBuffersArePageLocked) {
  MGI_REQUIRE_CUDA_DEVICE();
  auto gpu = make_cuda_backend(0);
  HostBuffer h = gpu->host_buffer(1 << 20);
  cudaPointerAttributes attr{};
  ASSERT_EQ(cudaPointerGetAttributes(&attr, h.get()), cudaSuccess);
  EXPECT_EQ(attr.type, cudaMemoryTypeHost);
  const MemoryInfo m = gpu->memory_info();
  EXPECT_TRUE(m.device);
  EXPECT_GT(m.free_bytes, 0);
  EXPECT_LE(m.free_bytes, m.total_bytes);
}

TEST(CudaPipeline, PlannedBytesAreWhatPrepareAllocates) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  const GraphBuilder b = pipeline_mlp(w, 64, 128);
  auto be = make_cuda_backend(0);
  auto& gpu = dynamic_cast<cuda::CudaBackend&>(*be);
  EXPECT_EQ(gpu.planned_bytes(100), -1);  // not prepared
  for (int64_t batch : {1, 100, 4096}) {
    gpu.prepare(b.graph(), b.input_rows(), batch);
    EXPECT_EQ(gpu.planned_bytes(batch), static_cast<int64_t>(gpu.arena_bytes() + gpu.lane_bytes())) << batch;
  }
  EXPECT_LT(gpu.planned_bytes(1000), gpu.planned_bytes(2000));
  // Never above the estimate batch_size: auto starts from (every value, plus the lanes).
  const ActivationSize act = activation_size(b.graph(), b.input_rows());
  const int64_t lanes = gpu.pipeline_depth() * (64 + 4 + 4) * 4;
  EXPECT_LE(gpu.planned_bytes(4096), 4096 * (act.per_row + lanes) + act.fixed + 64 * 1024);
}

// Holds all but `leave` bytes of free device memory.
cuda::DeviceBuffer occupy_all_but(size_t leave) {
  size_t free = 0, total = 0;
  EXPECT_EQ(cudaMemGetInfo(&free, &total), cudaSuccess);
  return cuda::DeviceBuffer(free > leave ? free - leave : 0);
}

TEST(CudaPipeline, OutOfMemoryAtPrepareBacksOffToABatchThatFits) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  const GraphBuilder b = pipeline_mlp(w, 1024, 1024);  // ~28 KiB per row with the lanes
  auto gpu = make_cuda_backend(0);
  const cuda::DeviceBuffer hog = occupy_all_but(size_t(1) << 30);  // 1 GiB left
  try {
    gpu->prepare(b.graph(), b.input_rows(), int64_t(1) << 20);  // ~28 GiB
    FAIL() << "expected OutOfMemory";
  } catch (const OutOfMemory& e) {
    std::printf("[ oom      ] %s\n", e.what());
  }
  EXPECT_THROW(prepare_batch(*gpu, b.graph(), b.input_rows(), int64_t(1) << 20, false), RuntimeError);
  const int64_t got = prepare_batch(*gpu, b.graph(), b.input_rows(), int64_t(1) << 20, true);
  EXPECT_LT(got, int64_t(1) << 20);
  EXPECT_GE(got, 1024);  // 1 GiB holds at least this many rows
  // The backed-off backend computes right.
  const Batch in = random_inputs(w, b.input_rows(), 300);
  auto cpu = make_cpu_backend(1);
  cpu->prepare(b.graph(), b.input_rows(), 300);
  expect_close(run_rows(*cpu, b.graph(), b.input_rows(), in, 0, 300),
               run_rows(*gpu, b.graph(), b.input_rows(), in, 0, 300), 1e-5, "after back-off");
}

TEST(CudaPipeline, AutoBatchFitsWithoutBackingOff) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  const GraphBuilder b = pipeline_mlp(w, 1024, 1024);
  auto gpu = make_cuda_backend(0);
  const cuda::DeviceBuffer hog = occupy_all_but(size_t(2) << 30);  // 2 GiB left
  const MemoryInfo m = gpu->memory_info();
  const ActivationSize act = activation_size(b.graph(), b.input_rows());
  AutoBatchInput in;
  in.device = true;
  in.free_bytes = m.free_bytes;
  in.total_bytes = m.total_bytes;
  in.fixed_bytes = b.graph().parameter_count * 4 * 3 / 2 + act.fixed;
  in.row_bytes = act.per_row + gpu->pipeline_depth() * (1024 + 8) * 4;
  in.rows = int64_t(1) << 30;
  const AutoBatch a = auto_batch(in);
  std::printf("[ auto     ] %lld rows (%s)\n", static_cast<long long>(a.rows), auto_batch_note(in, a).c_str());
  EXPECT_GT(a.rows, 1);
  EXPECT_EQ(prepare_batch(*gpu, b.graph(), b.input_rows(), a.rows, true), a.rows);
}

}  // namespace
}  // namespace mgi::gputest
