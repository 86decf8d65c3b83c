// BatchRunner's pipeline over a real HDF5 file: the same bits as one direct
// backend run for any batch size, last partial batch, mapped pieces, with and
// without the reader thread; ring buffers kept until their batch is collected
// (a backend that computes only in collect() would see overwritten inputs
// otherwise); errors and interrupts with batches in flight end the run without
// a hang.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend.hpp"
#include "batch_runner.hpp"
#include "error.hpp"
#include "model_io.hpp"
#include "onnx_test_model.hpp"
#include "signals.hpp"

namespace mgi {
namespace {

constexpr int64_t kRows = 100, kIn = 4, kOut = 3;

// Queues batches and computes each only in collect(), through a CPU backend:
// reads its inputs as late as possible, like DMA from a pinned ring buffer.
class DeferredBackend : public Backend {
 public:
  explicit DeferredBackend(int depth, int fail_at_batch = -1, bool interrupt_at_collect = false)
      : cpu_(make_cpu_backend(1)), depth_(depth), fail_at_(fail_at_batch), interrupt_(interrupt_at_collect) {}
  std::string describe() const override { return "deferred"; }
  void prepare(const Graph& g, const std::vector<Shape>& rows, int64_t max_batch) override {
    cpu_->prepare(g, rows, max_batch);
  }
  void run(int64_t rows, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    cpu_->run(rows, in, out);
  }
  int pipeline_depth() const override { return depth_; }
  void submit(int64_t rows, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    if (static_cast<int>(queue_.size()) >= depth_) throw RuntimeError("more batches in flight than the depth");
    if (submitted++ == fail_at_) throw RuntimeError("device fault in batch " + std::to_string(fail_at_));
    queue_.push_back({rows, in, out});
    max_outstanding = std::max(max_outstanding, static_cast<int>(queue_.size()));
  }
  void collect() override {
    if (queue_.empty()) throw RuntimeError("collect without a batch");
    const Batch b = queue_.front();
    queue_.pop_front();
    cpu_->run(b.rows, b.in, b.out);
    if (interrupt_ && ++collected == 2) request_interrupt(SIGTERM);
  }
  void drain() noexcept override {
    drained += static_cast<int>(queue_.size());
    queue_.clear();
  }
  int submitted = 0, collected = 0, drained = 0, max_outstanding = 0;

 private:
  struct Batch {
    int64_t rows;
    std::vector<const void*> in;
    std::vector<void*> out;
  };
  std::unique_ptr<Backend> cpu_;
  int depth_, fail_at_;
  bool interrupt_;
  std::deque<Batch> queue_;
};

class BatchRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937 gen(7);
    std::uniform_real_distribution<float> d(-2, 2);
    x_.resize(kRows * kIn);
    for (float& v : x_) v = d(gen);
    hid_t f = H5Fcreate(path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {kRows, kIn};
    hid_t s = H5Screate_simple(2, dims, nullptr);
    hid_t ds = H5Dcreate2(f, "/x", H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x_.data());
    H5Dclose(ds), H5Sclose(s), H5Fclose(f);

    test::OnnxModel m;  // y = Relu(x W^T + b) is written; z = Tanh(x) is computed and dropped
    m.input("x", {-1, kIn});
    std::vector<float> w(kOut * kIn), b(kOut);
    for (float& v : w) v = d(gen);
    for (float& v : b) v = d(gen);
    m.init("w", {kOut, kIn}, w);
    m.init("b", {kOut}, b);
    OnnxModel_attr_transb(m.node("Gemm", {"x", "w", "b"}, {"g"}));
    m.node("Relu", {"g"}, {"y"});
    m.node("Tanh", {"x"}, {"z"});
    m.output("y");
    m.output("z");
    graph_ = m.load();
    reader_ = std::make_unique<DatasetReader>(path_, "/x");
    io_ = match_model(graph_, "m.onnx", {path_, "/x", reader_->dtype(), reader_->shape(), "", false}, {{"y", "/y"}});

    auto cpu = make_cpu_backend(1);  // the reference: all rows in one call
    cpu->prepare(graph_, io_.input_rows, kRows);
    want_.assign(kRows * kOut, 0.0f);
    std::vector<float> z(kRows * kIn);
    cpu->run(kRows, {x_.data()}, {want_.data(), z.data()});
  }
  void TearDown() override {
    unlink(path_.c_str());
    unsetenv("MGI_READAHEAD");
  }
  static void OnnxModel_attr_transb(onnx::NodeProto* n) { test::OnnxModel::attr_i(n, "transB", 1); }

  // Runs rows [begin, end) with `be` and batch `batch`; returns the written output.
  std::vector<float> run(Backend& be, int64_t batch, int64_t begin = 0, int64_t end = kRows) {
    be.prepare(graph_, io_.input_rows, batch);
    BatchRunner runner(*reader_, be, graph_, io_, batch);
    std::vector<float> y(static_cast<size_t>((end - begin) * kOut), -7.0f);
    RankStats st;
    runner.run({begin, end}, {y.data()}, st);
    EXPECT_EQ(st.rows, end - begin);
    EXPECT_EQ(st.batches, (end - begin + batch - 1) / batch);
    return y;
  }
  std::vector<float> want(int64_t begin, int64_t end) const {
    return std::vector<float>(want_.begin() + begin * kOut, want_.begin() + end * kOut);
  }

  std::string path_ = "/tmp/mgi_test_runner_" + std::to_string(getpid()) + ".h5";
  std::vector<float> x_, want_;
  Graph graph_;
  std::unique_ptr<DatasetReader> reader_;
  ModelIo io_;
};

TEST_F(BatchRunnerTest, CpuBackendBitwiseForEveryBatchSize) {
  for (int64_t batch : {1, 7, 32, 99, 100, 4096}) {
    auto be = make_cpu_backend(1);
    EXPECT_EQ(run(*be, batch), want_) << "batch " << batch;
  }
  auto be = make_cpu_backend(1);
  EXPECT_EQ(run(*be, 8, 13, 58), want(13, 58));  // a slice; last batch of 5 rows
}

TEST_F(BatchRunnerTest, WithoutReadAheadSameBits) {
  setenv("MGI_READAHEAD", "0", 1);
  EXPECT_FALSE(BatchRunner::readahead_enabled());
  auto be = make_cpu_backend(1);
  EXPECT_EQ(run(*be, 7), want_);
  unsetenv("MGI_READAHEAD");
  EXPECT_TRUE(BatchRunner::readahead_enabled());
}

TEST_F(BatchRunnerTest, RingBuffersLiveUntilTheirBatchIsCollected) {
  for (int depth : {1, 2, 3}) {
    DeferredBackend be(depth);
    EXPECT_EQ(run(be, 7), want_) << "depth " << depth;
    EXPECT_EQ(be.max_outstanding, std::min<int>(depth, 15)) << "the pipeline is kept full";
    EXPECT_EQ(be.drained, 0);
  }
  EXPECT_GE(BatchRunner::ring_slots(3), 4);
}

TEST_F(BatchRunnerTest, MappedPiecesInOnePipeline) {
  DeferredBackend be(3);
  be.prepare(graph_, io_.input_rows, 6);
  BatchRunner runner(*reader_, be, graph_, io_, 6);
  const RowMap map({{3, 20}, {40, 41}, {60, 97}});  // rows still to do; virtual rows 0..55
  std::vector<float> y(static_cast<size_t>(map.count() * kOut), -7.0f);
  RankStats st;
  runner.run_mapped(map, {0, map.count()}, {y.data()}, st);
  std::vector<float> expect = want(3, 20);
  for (const auto& [a, b] : std::vector<std::pair<int64_t, int64_t>>{{40, 41}, {60, 97}}) {
    const std::vector<float> part = want(a, b);
    expect.insert(expect.end(), part.begin(), part.end());
  }
  EXPECT_EQ(y, expect);
  EXPECT_EQ(st.rows, map.count());
  EXPECT_EQ(st.batches, 3 + 1 + 7);  // batches never straddle pieces
}

TEST_F(BatchRunnerTest, BackendErrorWithBatchesInFlightEndsTheRun) {
  DeferredBackend be(3, /*fail_at_batch=*/5);
  be.prepare(graph_, io_.input_rows, 7);
  BatchRunner runner(*reader_, be, graph_, io_, 7);
  std::vector<float> y(kRows * kOut);
  RankStats st;
  try {
    runner.run({0, kRows}, {y.data()}, st);
    FAIL() << "expected the backend's error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Exit::runtime);
    EXPECT_STREQ(e.what(), "device fault in batch 5");
  }
  EXPECT_EQ(be.drained, 2) << "batches 3 and 4 were still in flight";
  EXPECT_EQ(st.rows, 3 * 7);
  // The runner is usable again afterwards (the reader was stopped and reset).
  DeferredBackend ok(3);
  ok.prepare(graph_, io_.input_rows, 7);
  BatchRunner again(*reader_, ok, graph_, io_, 7);
  RankStats st2;
  again.run({0, kRows}, {y.data()}, st2);
  EXPECT_EQ(y, want_);
}

TEST_F(BatchRunnerTest, InterruptWithBatchesInFlightStopsCleanly) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // The signal flag cannot be cleared: the interrupt happens in a child process.
  EXPECT_EXIT(
      {
        DeferredBackend be(3, -1, /*interrupt_at_collect=*/true);
        be.prepare(graph_, io_.input_rows, 7);
        BatchRunner runner(*reader_, be, graph_, io_, 7);
        std::vector<float> y(kRows * kOut);
        RankStats st;
        int code = 1;
        try {
          runner.run({0, kRows}, {y.data()}, st);
        } catch (const Error& e) {
          const bool rows_ok = std::equal(y.begin(), y.begin() + 2 * 7 * kOut, want_.begin());
          code = e.code() == Exit::interrupted && be.drained > 0 && rows_ok ? 0 : 2;
        }
        std::fflush(stdout);
        std::_Exit(code);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(BatchRunnerTyped, Int32RowsIntoAnInt64InputAndAnInt64OutputWrittenAsBytes) {
  // Token ids stored as int32 feed an int64 model input; the written outputs
  // are a float32 Cast of them and the ids themselves (int64), each in its own
  // type and row size. A dropped output between them keeps its own type too.
  const std::string path = "/tmp/mgi_test_runner_typed_" + std::to_string(getpid()) + ".h5";
  constexpr int64_t rows = 37, width = 3;
  std::vector<int32_t> ids(rows * width);
  for (size_t k = 0; k < ids.size(); ++k) ids[k] = static_cast<int32_t>(k * 2654435761u % 50000) - 1000;
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dims[2] = {rows, width};
  hid_t s = H5Screate_simple(2, dims, nullptr);
  hid_t ds = H5Dcreate2(f, "/ids", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids.data());
  H5Dclose(ds), H5Sclose(s), H5Fclose(f);

  test::OnnxModel m;
  m.input("ids", {-1, width}, onnx::TensorProto::INT64);
  test::OnnxModel::attr_i(m.node("Cast", {"ids"}, {"y"}), "to", onnx::TensorProto::FLOAT);
  test::OnnxModel::attr_i(m.node("Cast", {"ids"}, {"b"}), "to", onnx::TensorProto::BOOL);
  m.node("Identity", {"ids"}, {"k"});
  m.output("y");
  m.output("b");
  m.output("k");
  m.g->mutable_output(1)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::BOOL);
  m.g->mutable_output(2)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
  const Graph g = m.load();
  ASSERT_EQ(g.input_type(0), DType::i64);
  DatasetReader reader(path, "/ids");
  const ModelIo io = match_model(g, "m.onnx", {path, "/ids", reader.dtype(), reader.shape(), "", false}, {{"y", "/y"}, {"k", "/k"}});
  ASSERT_EQ(io.outputs[1].dtype, DType::i64);
  EXPECT_EQ(io.input_row_bytes, width * 8);
  EXPECT_EQ(io.output_row_bytes, width * 4 + width * 8);
  for (int64_t batch : {1, 8, 64}) {
    auto be = make_cpu_backend(1);
    be->prepare(g, io.input_rows, batch);
    BatchRunner runner(reader, *be, g, io, batch);
    EXPECT_EQ(runner.row_bytes(0), width * 4);
    EXPECT_EQ(runner.row_bytes(1), width * 8);
    std::vector<float> y(rows * width, NAN);
    std::vector<int64_t> k(rows * width, -7);
    RankStats st;
    runner.run({0, rows}, {y.data(), k.data()}, st);
    for (size_t j = 0; j < ids.size(); ++j) {
      ASSERT_EQ(y[j], static_cast<float>(ids[j])) << "batch " << batch << " element " << j;
      ASSERT_EQ(k[j], ids[j]) << "batch " << batch << " element " << j;
    }
  }
  unlink(path.c_str());
}

}  // namespace
}  // namespace mgi
