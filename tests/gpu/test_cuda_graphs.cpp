// CUDA graphs (BackendOptions::cuda_graphs, kernels/backend/cuda_graphs.cpp) and the
// CUDA backend's time_stages() (kernels/backend/stage_times.cpp). A full batch replays
// its lane's captured graph; every other batch runs node by node. The graph
// launches the same kernels on the same addresses, so graphs on and off must
// agree bitwise; both must agree with the CPU backend within
// precision_tolerance(). Inputs are fresh random numbers per test (seed
// printed; MGI_TEST_SEED=<n> replays).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <string>

#include "cuda_backend.hpp"
#include "gpu_test_util.hpp"

namespace mgi::gputest {
namespace {

// 24 -> 64 -> 48 -> 10: Gemm(transB)+Relu, MatMul+Add+Tanh, Gemm+Softmax; logits also an output.
GraphBuilder mlp(Rng& w) {
  GraphBuilder b;
  int x = b.input({24});
  x = b.node("Gemm", {x, b.weight(w, {64, 24}, 24), b.weight(w, {64}, 24)},
             [](Node& n) { n.trans_b = true; });
  x = b.node("Relu", {x});
  x = b.node("Add", {b.node("MatMul", {x, b.weight(w, {64, 48}, 64)}), b.weight(w, {48}, 64)});
  x = b.node("Tanh", {x});
  const int logits = b.node("Gemm", {x, b.weight(w, {48, 10}, 48), b.weight(w, {10}, 48)});
  b.output(b.node("Softmax", {logits}, [](Node& n) { n.axis = -1; }));
  b.output(logits);
  return b;
}

// Two inputs, x [r, 4, 8] and y [r, 16]; transpose, batched MatMul + bias,
// BatchNorm, Gelu, LayerNorm, Flatten, Gemm, swish, Sub, Pow, Reshape,
// Softmax, LogSoftmax; one output is an input passed through (it lives in the
// lane, so a graph that baked another lane's address would return another batch's rows).
GraphBuilder several_ops(Rng& w) {
  GraphBuilder b;
  const int x = b.input({4, 8});
  const int y = b.input({16});
  int t = b.node("Transpose", {x}, [](Node& n) { n.perm = {0, 2, 1}; });  // [r, 8, 4]
  t = b.node("Add", {b.node("MatMul", {t, b.weight(w, {4, 6}, 4)}), b.weight(w, {6}, 4)});
  t = b.node("BatchNormalization",
             {t, b.random_constant(w, {8}, 0.5f, 1.5f), b.random_constant(w, {8}, -0.2f, 0.2f),
              b.random_constant(w, {8}, -0.2f, 0.2f), b.random_constant(w, {8}, 0.5f, 2.0f)});
  t = b.node("Gelu", {t});
  t = b.node("LayerNormalization",
             {t, b.random_constant(w, {6}, 0.8f, 1.2f), b.random_constant(w, {6}, -0.1f, 0.1f)},
             [](Node& n) { n.axis = -1; });
  const int f = b.node("Flatten", {t}, [](Node& n) { n.axis = 1; });  // [r, 48]
  const int h = b.node("Gemm", {f, b.weight(w, {16, 48}, 48), b.weight(w, {16}, 48)},
                       [](Node& n) { n.trans_b = true; });
  const int swish = b.node("Mul", {h, b.node("Sigmoid", {h})});
  const int d = b.node("Sub", {swish, y});
  const int sq = b.node("Pow", {d, b.constant({1}, {2.0f})});
  // [r, 4, 4], the target computed on the host per batch: Concat(Shape(sq)[0:1], [4, 4]).
  const int batch = b.node("Gather", {b.node("Shape", {sq}), b.constant_i64({1}, {0})}, [](Node& n) { n.axis = 0; });
  const int target = b.node("Concat", {batch, b.constant_i64({2}, {4, 4})}, [](Node& n) { n.axis = 0; });
  const int r = b.node("Reshape", {sq, target});
  b.output(b.node("Softmax", {r}, [](Node& n) { n.axis = -1; }));
  b.output(b.node("LogSoftmax", {h}, [](Node& n) { n.axis = -1; }));
  b.output(b.node("Identity", {y}));
  return b;
}

// Floats per row of each graph output.
std::vector<int64_t> output_row_sizes(const GraphBuilder& b) {
  std::vector<Shape> one;
  for (const Shape& r : b.input_rows()) {
    Shape s{1};
    s.insert(s.end(), r.begin(), r.end());
    one.push_back(s);
  }
  const std::vector<Shape> shapes = b.graph().infer_shapes(one);
  std::vector<int64_t> per_row;
  for (int v : b.graph().outputs) per_row.push_back(shape_numel(shapes[static_cast<size_t>(v)]));
  return per_row;
}

int64_t total(const std::vector<int64_t>& sizes) {
  int64_t n = 0;
  for (int64_t s : sizes) n += s;
  return n;
}

// Batches of `sizes` rows, consecutive rows of `in`, through submit()/collect()
// with pipeline_depth() batches in flight (every lane busy). Even batches read
// and write page-locked buffers (a ring, reused only once collected), odd ones
// the caller's pageable memory (the lanes' stages). Returns every output row.
Batch run_sequence(Backend& be, const GraphBuilder& b, const Batch& in, const std::vector<int64_t>& sizes,
                   int64_t max_batch) {
  const std::vector<int64_t> out_row = output_row_sizes(b);
  const size_t n_in = in.size(), n_out = out_row.size();
  const int64_t rows = total(sizes);
  Batch out;
  for (int64_t r : out_row) out.emplace_back(static_cast<size_t>(rows * r), NAN);
  const size_t depth = static_cast<size_t>(be.pipeline_depth());
  struct Slot {
    std::vector<HostBuffer> in, out;
    int64_t first = 0, rows = 0;
    bool pinned = false;
  };
  std::vector<Slot> slots(depth);
  for (Slot& s : slots) {
    for (size_t k = 0; k < n_in; ++k)
      s.in.push_back(be.host_buffer(static_cast<size_t>(max_batch * shape_numel(b.input_rows()[k])) * sizeof(float)));
    for (size_t k = 0; k < n_out; ++k)
      s.out.push_back(be.host_buffer(static_cast<size_t>(max_batch * out_row[k]) * sizeof(float)));
  }
  std::deque<size_t> flight;
  auto collect_one = [&] {
    be.collect();
    const Slot& s = slots[flight.front()];
    flight.pop_front();
    if (!s.pinned) return;
    for (size_t k = 0; k < n_out; ++k)
      std::memcpy(out[k].data() + s.first * out_row[k], s.out[k].get(),
                  static_cast<size_t>(s.rows * out_row[k]) * sizeof(float));
  };
  int64_t at = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (flight.size() == depth) collect_one();
    const size_t si = i % depth;  // the batch that used this slot last was collected just above
    Slot& s = slots[si];
    s.first = at;
    s.rows = sizes[i];
    s.pinned = i % 2 == 0;
    std::vector<const void*> ip;
    std::vector<void*> op;
    for (size_t k = 0; k < n_in; ++k) {
      const int64_t per = shape_numel(b.input_rows()[k]);
      const float* src = in[k].data() + at * per;
      if (s.pinned) {
        std::memcpy(s.in[k].get(), src, static_cast<size_t>(s.rows * per) * sizeof(float));
        src = s.in[k].f32();
      }
      ip.push_back(src);
    }
    for (size_t k = 0; k < n_out; ++k) op.push_back(s.pinned ? s.out[k].f32() : out[k].data() + at * out_row[k]);
    be.submit(s.rows, ip, op);
    flight.push_back(si);
    at += s.rows;
  }
  while (!flight.empty()) collect_one();
  return out;
}

// The same rows through run(), one batch at a time, pageable memory.
Batch run_each(Backend& be, const GraphBuilder& b, const Batch& in, const std::vector<int64_t>& sizes) {
  const std::vector<int64_t> out_row = output_row_sizes(b);
  Batch out;
  for (int64_t r : out_row) out.emplace_back(static_cast<size_t>(total(sizes) * r), NAN);
  int64_t at = 0;
  for (int64_t n : sizes) {
    std::vector<const void*> ip;
    std::vector<void*> op;
    for (size_t k = 0; k < in.size(); ++k) ip.push_back(in[k].data() + at * shape_numel(b.input_rows()[k]));
    for (size_t k = 0; k < out.size(); ++k) op.push_back(out[k].data() + at * out_row[k]);
    be.run(n, ip, op);
    at += n;
  }
  return out;
}

void expect_bitwise(const Batch& want, const Batch& got, const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (size_t k = 0; k < want.size(); ++k) {
    ASSERT_EQ(want[k].size(), got[k].size()) << what << ": output " << k;
    size_t diff = 0, first = want[k].size();
    for (size_t j = 0; j < want[k].size(); ++j)
      if (std::memcmp(&want[k][j], &got[k][j], sizeof(float)) != 0 && diff++ == 0) first = j;
    EXPECT_EQ(diff, 0u) << what << ": output " << k << ": " << diff << " of " << want[k].size()
                        << " floats differ, first at " << first << " (" << want[k][first] << " vs "
                        << got[k][first] << ")";
  }
}

std::unique_ptr<Backend> cuda_backend(Precision p, bool graphs, bool fuse = true) {
  BackendOptions o;
  o.precision = p;
  o.cuda_graphs = graphs;
  o.fuse = fuse;
  return make_cuda_backend(0, o);
}

cuda::CudaBackend& as_cuda(Backend& be) { return dynamic_cast<cuda::CudaBackend&>(be); }

// Full batches (several per lane) mixed with short ones of 1 and more rows.
std::vector<int64_t> batch_sequence(int64_t max_batch) {
  const int64_t m = max_batch;
  return {m, m, 5, m, m, m, 1, m / 2, m, m, m, 3, m, m};
}

int64_t full_batches(const std::vector<int64_t>& sizes, int64_t max_batch) {
  int64_t n = 0;
  for (int64_t s : sizes) n += s == max_batch;
  return n;
}

// Graphs on vs off through submit()/collect() and run(), and both vs the CPU backend.
void check_graphs_on_off(Rng& rng, const GraphBuilder& b, Precision p, bool fuse, double cpu_tol,
                         const std::string& what) {
  const int64_t max_batch = 37;  // odd on purpose
  const std::vector<int64_t> sizes = batch_sequence(max_batch);
  const Batch in = random_inputs(rng, b.input_rows(), total(sizes));

  auto on = cuda_backend(p, true, fuse), off = cuda_backend(p, false, fuse);
  on->prepare(b.graph(), b.input_rows(), max_batch);
  off->prepare(b.graph(), b.input_rows(), max_batch);
  ASSERT_TRUE(as_cuda(*on).graphs_active()) << what << ": capture failed: " << on->describe();
  EXPECT_FALSE(as_cuda(*off).graphs_active());
  EXPECT_NE(on->describe().find("with CUDA graphs"), std::string::npos) << on->describe();
  EXPECT_EQ(off->describe().find("graphs"), std::string::npos) << off->describe();
  // The graphs hold cuBLASLt's fused GEMMs, not a fallback to cublasGemmEx.
  EXPECT_GT(as_cuda(*on).lt_calls(), 0) << what << ": " << on->describe();
  EXPECT_GT(as_cuda(*off).lt_calls(), 0) << what << ": " << off->describe();

  const Batch ref_off = run_sequence(*off, b, in, sizes, max_batch);
  const Batch got_on = run_sequence(*on, b, in, sizes, max_batch);
  EXPECT_EQ(as_cuda(*on).graph_launches(), full_batches(sizes, max_batch)) << what;
  EXPECT_EQ(as_cuda(*off).graph_launches(), 0) << what;
  expect_bitwise(ref_off, got_on, what + ": submit/collect, graphs on vs off");

  // run() replays the graphs as well; and a second pass over the lanes.
  expect_bitwise(ref_off, run_each(*on, b, in, sizes), what + ": run(), graphs on vs submit, graphs off");
  expect_bitwise(ref_off, run_sequence(*on, b, in, sizes, max_batch), what + ": submit/collect again");
  EXPECT_EQ(as_cuda(*on).graph_launches(), 3 * full_batches(sizes, max_batch)) << what;

  auto cpu = make_cpu_backend(1);
  cpu->prepare(b.graph(), b.input_rows(), total(sizes));
  const Batch ref = run_rows(*cpu, b.graph(), b.input_rows(), in, 0, total(sizes));
  expect_close(ref, got_on, cpu_tol, what + ": graphs on vs cpu");
  expect_close(ref, ref_off, cpu_tol, what + ": graphs off vs cpu");
}

TEST(CudaGraphs, OffByDefault) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  const GraphBuilder b = mlp(w);
  auto be = make_cuda_backend(0);
  be->prepare(b.graph(), b.input_rows(), 16);
  EXPECT_FALSE(as_cuda(*be).graphs_active());
  EXPECT_EQ(be->describe().find("graphs"), std::string::npos) << be->describe();
  // After prepare(), describe() reports the warm-up's GEMMs (so far the only batch).
  const cuda::CudaBackend& cb = as_cuda(*be);
  EXPECT_GT(cb.lt_calls(), 0) << be->describe();
  const std::string gemms = "; cuBLASLt " + std::to_string(cb.lt_calls()) + " GEMMs, " +
                            std::to_string(cb.fallback_calls()) + " fell back";
  EXPECT_NE(be->describe().find(gemms), std::string::npos) << be->describe();
  const Batch in = random_inputs(w, b.input_rows(), 16);
  run_rows(*be, b.graph(), b.input_rows(), in, 0, 16);
  EXPECT_EQ(as_cuda(*be).graph_launches(), 0);
}

TEST(CudaGraphs, MlpOnOffBitwiseAndMatchesCpu) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  check_graphs_on_off(w, mlp(w), Precision::fp32, true, precision_tolerance(Precision::fp32), "MLP fp32");
}

TEST(CudaGraphs, SeveralOpKindsOnOffBitwiseAndMatchesCpu) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  const GraphBuilder b = several_ops(w);
  check_graphs_on_off(w, b, Precision::fp32, true, precision_tolerance(Precision::fp32), "several ops, fused");
  check_graphs_on_off(w, b, Precision::fp32, false, precision_tolerance(Precision::fp32), "several ops, unfused");
}

TEST(CudaGraphs, Bf16OnOffBitwiseAndMatchesCpu) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  // Converted weights, conversion scratch and bf16 cuBLASLt plans inside the graphs.
  check_graphs_on_off(w, mlp(w), Precision::bf16, true, precision_tolerance(Precision::bf16), "MLP bf16");
  // Bitwise on/off only: the tolerance is documented for O(1) activations, which Pow(d, 2) does not keep.
  const GraphBuilder b = several_ops(w);
  const int64_t max_batch = 37;
  const std::vector<int64_t> sizes = batch_sequence(max_batch);
  const Batch in = random_inputs(w, b.input_rows(), total(sizes));
  auto on = cuda_backend(Precision::bf16, true), off = cuda_backend(Precision::bf16, false);
  on->prepare(b.graph(), b.input_rows(), max_batch);
  off->prepare(b.graph(), b.input_rows(), max_batch);
  ASSERT_TRUE(as_cuda(*on).graphs_active()) << on->describe();
  EXPECT_GT(as_cuda(*on).lt_calls(), 0) << on->describe();
  expect_bitwise(run_sequence(*off, b, in, sizes, max_batch), run_sequence(*on, b, in, sizes, max_batch),
                 "several ops bf16, graphs on vs off");
}

TEST(CudaGraphs, RecapturedAfterPrepareAgain) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  const GraphBuilder b = several_ops(w);
  auto on = cuda_backend(Precision::fp32, true), off = cuda_backend(Precision::fp32, false);
  // Each prepare() frees and reallocates every buffer the old graphs pointed at.
  for (int64_t max_batch : {64, 23, 64}) {
    on->prepare(b.graph(), b.input_rows(), max_batch);
    off->prepare(b.graph(), b.input_rows(), max_batch);
    ASSERT_TRUE(as_cuda(*on).graphs_active()) << on->describe();
    const std::vector<int64_t> sizes = batch_sequence(max_batch);
    const Batch in = random_inputs(w, b.input_rows(), total(sizes));
    expect_bitwise(run_sequence(*off, b, in, sizes, max_batch), run_sequence(*on, b, in, sizes, max_batch),
                   "after prepare(" + std::to_string(max_batch) + ")");
  }
}

// time_stages() on a full and a short batch, page-locked and pageable host
// memory, graphs on and off: positive finite times, outputs as run() gives them.
TEST(CudaGraphs, TimeStagesPositiveAndOutputsCorrect) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  const GraphBuilder b = several_ops(w);
  const int64_t max_batch = 256;
  const std::vector<int64_t> out_row = output_row_sizes(b);
  for (bool graphs : {false, true}) {
    auto be = cuda_backend(Precision::fp32, graphs);
    be->prepare(b.graph(), b.input_rows(), max_batch);
    EXPECT_EQ(as_cuda(*be).graphs_active(), graphs) << be->describe();
    for (int64_t rows : {max_batch, int64_t(100)}) {
      for (bool pinned : {true, false}) {
        const std::string what = std::string(graphs ? "graphs" : "nodes") + ", " + std::to_string(rows) +
                                 " rows, " + (pinned ? "page-locked" : "pageable");
        const Batch in = random_inputs(w, b.input_rows(), rows);
        const Batch want = run_rows(*be, b.graph(), b.input_rows(), in, 0, rows);
        std::vector<HostBuffer> hin, hout;
        std::vector<const void*> ip;
        std::vector<void*> op;
        Batch pageable_out;
        for (size_t k = 0; k < in.size(); ++k) {
          if (!pinned) {
            ip.push_back(in[k].data());
            continue;
          }
          hin.push_back(be->host_buffer(in[k].size() * sizeof(float)));
          std::memcpy(hin.back().get(), in[k].data(), in[k].size() * sizeof(float));
          ip.push_back(hin.back().f32());
        }
        for (size_t k = 0; k < out_row.size(); ++k) {
          const size_t n = static_cast<size_t>(rows * out_row[k]);
          if (pinned) {
            hout.push_back(be->host_buffer(n * sizeof(float)));
            for (size_t j = 0; j < n; ++j) hout.back().f32()[j] = NAN;
            op.push_back(hout.back().f32());
          } else {
            pageable_out.emplace_back(n, NAN);
            op.push_back(pageable_out.back().data());
          }
        }
        const int64_t launches = as_cuda(*be).graph_launches();
        const Backend::StageTimes t = be->time_stages(rows, ip, op, 3);
        std::printf("[ stages   ] %s: h2d %.3g s, compute %.3g s, d2h %.3g s\n", what.c_str(), t.h2d_s, t.compute_s,
                    t.d2h_s);
        for (double s : {t.h2d_s, t.compute_s, t.d2h_s}) {
          EXPECT_TRUE(std::isfinite(s)) << what;
          EXPECT_GT(s, 0.0) << what;
          EXPECT_LT(s, 10.0) << what;
        }
        EXPECT_EQ(as_cuda(*be).graph_launches() - launches, graphs && rows == max_batch ? 3 : 0) << what;
        Batch got;
        for (size_t k = 0; k < out_row.size(); ++k) {
          if (pinned)
            got.emplace_back(hout[k].f32(), hout[k].f32() + rows * out_row[k]);
          else
            got.push_back(pageable_out[k]);
        }
        expect_bitwise(want, got, "time_stages outputs, " + what);
      }
    }
    // The pipeline still works after time_stages().
    const std::vector<int64_t> sizes = {max_batch, 7, max_batch, max_batch};
    const Batch in = random_inputs(w, b.input_rows(), total(sizes));
    expect_bitwise(run_each(*be, b, in, sizes), run_sequence(*be, b, in, sizes, max_batch),
                   "pipeline after time_stages");
  }
}

}  // namespace
}  // namespace mgi::gputest
