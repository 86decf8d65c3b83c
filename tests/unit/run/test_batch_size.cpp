// batch_size: auto arithmetic (batch_size.hpp), the model's activation size,
// prepare() with out-of-memory back-off, and the Backend pipeline defaults.
#include <gtest/gtest.h>

#include <cstdint>
#include <new>
#include <vector>

#include "backend.hpp"
#include "batch_size.hpp"
#include "error.hpp"
#include "model_io.hpp"
#include "onnx_test_model.hpp"

namespace mgi {
namespace {

constexpr int64_t MiB = int64_t(1) << 20, GiB = int64_t(1) << 30;

AutoBatchInput gpu(int64_t free, int64_t row_bytes, int64_t rows) {
  AutoBatchInput in;
  in.device = true;
  in.free_bytes = free;
  in.total_bytes = 80 * GiB;
  in.row_bytes = row_bytes;
  in.rows = rows;
  return in;
}

TEST(AutoBatch, GpuFitsFreeMemoryWithHeadroom) {
  // 10 GiB free: 9 GiB after 10 %, minus 512 MiB reserve and 1 GiB of weights = 7.5 GiB; 1 MiB/row.
  AutoBatchInput in = gpu(10 * GiB, MiB, int64_t(1) << 40);
  in.fixed_bytes = GiB;
  const AutoBatch b = auto_batch(in);
  EXPECT_EQ(b.budget_bytes, 9 * GiB - 512 * MiB - GiB);
  EXPECT_EQ(b.rows, 7680 / 64 * 64);
  EXPECT_EQ(b.limit, "memory");
  EXPECT_LE(b.rows * in.row_bytes + in.fixed_bytes, 9 * GiB - 512 * MiB);
}

TEST(AutoBatch, RoundsToWholeTilesAndNeverBelowOneRow) {
  AutoBatchInput in = gpu(GiB + 512 * MiB, 100000, int64_t(1) << 40);  // 0.9 * 1.5 GiB - 512 MiB = 912680550 B
  EXPECT_EQ(auto_batch(in).rows, 9088);  // 9126 rows, down to a multiple of 64
  in.free_bytes = 100 * MiB;  // less than the reserve
  EXPECT_EQ(auto_batch(in).rows, 1);
  EXPECT_EQ(auto_batch(in).budget_bytes, 0);
  in.free_bytes = 2 * GiB;
  in.row_bytes = 8 * GiB;  // one row alone does not fit: 1, and prepare() decides
  EXPECT_EQ(auto_batch(in).rows, 1);
}

TEST(AutoBatch, SharedGpuSplitsFreeMemory) {
  AutoBatchInput in = gpu(80 * GiB, 4 * MiB, int64_t(1) << 40);
  const int64_t alone = auto_batch(in).rows;
  in.sharing = 4;
  const int64_t shared = auto_batch(in).rows;
  EXPECT_LT(shared * 4, alone + 4 * 64);
  EXPECT_LE(shared * in.row_bytes * 4, 80 * GiB);
}

TEST(AutoBatch, CapPipelineAndRowsBound) {
  AutoBatchInput in = gpu(80 * GiB, 64, int64_t(1) << 40);  // tiny rows: memory allows millions
  EXPECT_EQ(auto_batch(in).rows, 65536);
  EXPECT_EQ(auto_batch(in).limit, "cap");
  in.rows = 100000;  // a quarter of the slice, so reading overlaps compute
  EXPECT_EQ(auto_batch(in).rows, 25000);
  EXPECT_EQ(auto_batch(in).limit, "pipeline");
  in.rows = 3000;  // never below 1024 for overlap's sake ...
  EXPECT_EQ(auto_batch(in).rows, 1024);
  in.rows = 700;  // ... but never more than the slice
  EXPECT_EQ(auto_batch(in).rows, 700);
  EXPECT_EQ(auto_batch(in).limit, "rows");
  in.rows = 0;  // a rank with nothing to do
  EXPECT_EQ(auto_batch(in).rows, 1024);
}

TEST(AutoBatch, HostBudgetIsSmallestOfOneGiBAnEighthAndHalfOfFree) {
  AutoBatchInput in;
  in.total_bytes = 256 * GiB;
  in.free_bytes = 200 * GiB;
  in.row_bytes = 64 * 1024;
  in.rows = int64_t(1) << 40;
  EXPECT_EQ(auto_batch(in).budget_bytes, GiB);
  EXPECT_EQ(auto_batch(in).rows, 16384);
  in.sharing = 64;  // 64 ranks on the node: 256 GiB / 8 / 64 = 512 MiB each
  EXPECT_EQ(auto_batch(in).budget_bytes, 512 * MiB);
  in.free_bytes = 16 * GiB;  // little free: 16 GiB / 2 / 64 = 128 MiB
  EXPECT_EQ(auto_batch(in).budget_bytes, 128 * MiB);
  EXPECT_EQ(auto_batch(in).rows, 2048);
  in.fixed_bytes = 100 * GiB;  // weights are not counted against the host budget
  EXPECT_EQ(auto_batch(in).rows, 2048);
}

TEST(AutoBatch, HostBoundOnGpuRuns) {
  AutoBatchInput in = gpu(80 * GiB, 16 * 1024, int64_t(1) << 40);
  EXPECT_EQ(auto_batch(in).rows, 65536);
  in.host_budget_bytes = GiB;
  in.host_row_bytes = 64 * 1024;  // pinned ring: 16384 rows fit
  EXPECT_EQ(auto_batch(in).rows, 16384);
  EXPECT_EQ(auto_batch(in).limit, "host memory");
}

TEST(AutoBatch, NoteSaysWhatWasUsedAndWhy) {
  AutoBatchInput in = gpu(79 * GiB, 2 * MiB + MiB / 10, int64_t(1) << 40);
  const AutoBatch b = auto_batch(in);
  const std::string note = auto_batch_note(in, b);
  EXPECT_NE(note.find("auto: "), std::string::npos) << note;
  EXPECT_NE(note.find("2.1 MiB/row"), std::string::npos) << note;
  EXPECT_NE(note.find("GPU 79.0 GiB of 80.0 GiB free"), std::string::npos) << note;
  EXPECT_NE(note.find("bound: memory"), std::string::npos) << note;
}

TEST(ActivationSize, SumsComputedValuesPerRow) {
  test::OnnxModel m;
  m.input("x", {-1, 8});
  m.init("w", {8, 4}, std::vector<float>(32, 0.5f));
  m.node("MatMul", {"x", "w"}, {"h"});
  m.node("Relu", {"h"}, {"y"});
  m.output("y");
  const Graph g = m.load();
  const ActivationSize a = activation_size(g, {{8}});
  EXPECT_EQ(a.per_row, (8 + 4 + 4) * 4);  // x, h, y; not the weights
  EXPECT_EQ(a.fixed, 0);
}

// Runs nothing; fails prepare() with OutOfMemory (or bad_alloc) above `fits` rows.
class TightBackend : public Backend {
 public:
  explicit TightBackend(int64_t fits, bool bad_alloc = false) : fits_(fits), bad_alloc_(bad_alloc) {}
  std::string describe() const override { return "tight"; }
  void prepare(const Graph&, const std::vector<Shape>&, int64_t max_batch) override {
    tried.push_back(max_batch);
    if (max_batch <= fits_) return;
    if (bad_alloc_) throw std::bad_alloc();
    throw OutOfMemory("no room for " + std::to_string(max_batch));
  }
  void run(int64_t, const std::vector<const void*>&, const std::vector<void*>&) override { ++runs; }
  std::vector<int64_t> tried;
  int runs = 0;

 private:
  int64_t fits_;
  bool bad_alloc_;
};

TEST(PrepareBatch, HalvesOnOutOfMemoryUntilItFits) {
  TightBackend be(700);
  EXPECT_EQ(prepare_batch(be, Graph{}, {}, 4096, true), 512);
  EXPECT_EQ(be.tried, (std::vector<int64_t>{4096, 2048, 1024, 512}));
  TightBackend odd(2, true);  // std::bad_alloc counts too; odd sizes round up
  EXPECT_EQ(prepare_batch(odd, Graph{}, {}, 5, true), 2);
  EXPECT_EQ(odd.tried, (std::vector<int64_t>{5, 3, 2}));
}

TEST(PrepareBatch, GivesUpAtOneRowWithOneRuntimeError) {
  TightBackend be(0);
  try {
    prepare_batch(be, Graph{}, {}, 8, true);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Exit::runtime);
    EXPECT_NE(std::string(e.what()).find("even for batches of 1 row"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no room for 1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(be.tried, (std::vector<int64_t>{8, 4, 2, 1}));
}

TEST(PrepareBatch, ExplicitBatchDoesNotBackOff) {
  TightBackend be(10);
  try {
    prepare_batch(be, Graph{}, {}, 64, false);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Exit::runtime);
    EXPECT_NE(std::string(e.what()).find("batches of 64 rows"), std::string::npos) << e.what();
  }
  EXPECT_EQ(be.tried, (std::vector<int64_t>{64}));
}

TEST(BackendDefaults, SubmitRunsAtOnceAndCollectCountsDown) {
  TightBackend be(1 << 20);
  EXPECT_EQ(be.pipeline_depth(), 1);
  be.submit(1, {}, {});
  EXPECT_EQ(be.runs, 1);
  EXPECT_THROW(be.submit(1, {}, {}), Error);  // depth 1: collect first
  be.collect();
  EXPECT_THROW(be.collect(), Error);
  be.submit(1, {}, {});
  be.drain();  // forgets it
  EXPECT_THROW(be.collect(), Error);
  EXPECT_EQ(be.planned_bytes(10), -1);
}

TEST(BackendDefaults, HostBuffersAreAlignedAndMovable) {
  TightBackend be(1);
  HostBuffer a = be.host_buffer(100);
  ASSERT_NE(a.get(), nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.get()) % 64, 0u);
  EXPECT_EQ(a.bytes(), 100u);
  a.f32()[24] = 1.0f;  // the whole range is usable
  HostBuffer b = std::move(a);
  EXPECT_EQ(a.get(), nullptr);
  EXPECT_EQ(b.f32()[24], 1.0f);
  EXPECT_EQ(be.host_buffer(0).get(), nullptr);
}

TEST(BackendDefaults, HostMemoryIsReported) {
  const MemoryInfo m = host_memory_info();
  EXPECT_FALSE(m.device);
  EXPECT_GT(m.total_bytes, 0);
  EXPECT_GT(m.free_bytes, 0);
  EXPECT_LE(m.free_bytes, m.total_bytes);
}

}  // namespace
}  // namespace mgi
