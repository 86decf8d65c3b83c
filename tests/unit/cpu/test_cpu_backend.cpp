// The CPU backend end to end: results against a double-precision reference and
// the bitwise batch-independence contract (batch size, threads, padding).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "backend.hpp"
#include "cpu_backend.hpp"
#include "cpu_ops_test_util.hpp"
#include "error.hpp"
#include "graph.hpp"
#include "onnx_test_model.hpp"

namespace mgi {
namespace {

// --- end to end through the backend ---

test::OnnxModel mlp_model(Rng& rng, int64_t in, int64_t hidden, int64_t out) {
  test::OnnxModel m;
  m.input("x", {-1, in});
  m.init("w1", {hidden, in}, rng.uniform({hidden, in}));
  m.init("b1", {hidden}, rng.uniform({hidden}));
  m.init("w2", {hidden, out}, rng.uniform({hidden, out}));
  m.init("b2", {out}, rng.uniform({out}));
  auto* g1 = m.node("Gemm", {"x", "w1", "b1"}, {"h"}, "fc1");
  test::OnnxModel::attr_i(g1, "transB", 1);
  m.node("Relu", {"h"}, {"hr"}, "relu");
  m.node("Gemm", {"hr", "w2", "b2"}, {"z"}, "fc2");
  m.node("Softmax", {"z"}, {"y"}, "softmax");
  m.output("y");
  return m;
}

// Runs `rows` rows in chunks of `batch` on a backend with `threads` threads.
std::vector<float> run_chunked(const Graph& g, const Shape& row, const std::vector<float>& x, int64_t rows,
                               int64_t batch, int threads, int64_t out_row) {
  auto be = make_cpu_backend(threads);
  be->prepare(g, {row}, batch);
  const int64_t in_row = shape_numel(row);
  std::vector<float> y(static_cast<size_t>(rows * out_row));
  for (int64_t r0 = 0; r0 < rows; r0 += batch) {
    const int64_t n = std::min(batch, rows - r0);
    be->run(n, {x.data() + r0 * in_row}, {y.data() + r0 * out_row});
  }
  return y;
}

void expect_batch_independent(const Graph& g, const Shape& row, Rng& rng, int64_t out_row) {
  const int64_t rows = 100;
  Shape xs = row;
  xs.insert(xs.begin(), rows);
  const auto x = rng.uniform(xs, -2.0f, 2.0f);
  const auto ref = run_chunked(g, row, x, rows, rows, 1, out_row);
  for (int threads : {1, 2})
    for (int64_t batch : {1, 7, 64, 100}) {
      const auto y = run_chunked(g, row, x, rows, batch, threads, out_row);
      for (size_t e = 0; e < y.size(); ++e)
        ASSERT_EQ(y[e], ref[e]) << "batch " << batch << " threads " << threads << " element " << e;
    }
  // Rows from an offset slice (as another rank would get) give the same bits too.
  const int64_t off = 13, in_row = shape_numel(row);
  std::vector<float> xs_off(x.begin() + off * in_row, x.end());
  const auto y = run_chunked(g, row, xs_off, rows - off, 32, 2, out_row);
  for (size_t e = 0; e < y.size(); ++e) ASSERT_EQ(y[e], ref[static_cast<size_t>(off * out_row) + e]);
}

// The masked-mean-pooling model of tools/make_ragged_example.py: x [B, S, D], mask [B, S].
test::OnnxModel pool_model(Rng& rng, int64_t d, int64_t hidden, int64_t classes) {
  test::OnnxModel m;
  m.input("x", {-1, -1, d});
  m.input("mask", {-1, -1});
  m.init("wt", {d, hidden}, rng.uniform({d, hidden}));
  m.init("bt", {hidden}, rng.uniform({hidden}));
  m.init("w1", {hidden, classes}, rng.uniform({hidden, classes}));
  m.init("b1", {classes}, rng.uniform({classes}));
  m.init_i64("row_mask_shape", {3}, {0, 1, -1});
  m.init_i64("flat_shape", {2}, {0, -1});
  m.node("MatMul", {"x", "wt"}, {"tok_lin"});
  m.node("Add", {"tok_lin", "bt"}, {"tok_pre"});
  m.node("Tanh", {"tok_pre"}, {"tok"});
  m.node("Reshape", {"mask", "row_mask_shape"}, {"m_row"});
  m.node("MatMul", {"m_row", "tok"}, {"pooled_sum"});
  test::OnnxModel::attr_ints(m.node("Transpose", {"m_row"}, {"m_col"}), "perm", {0, 2, 1});
  m.node("MatMul", {"m_row", "m_col"}, {"count"});
  m.node("Div", {"pooled_sum", "count"}, {"pooled3"});
  m.node("Reshape", {"pooled3", "flat_shape"}, {"pooled"});
  m.node("Gemm", {"pooled", "w1", "b1"}, {"y"});
  m.output("y");
  return m;
}

// run_shaped() on padded batches of varying (rows, length), shapes repeating
// (its cache of inferred shapes), gives each row the bits of that row run
// alone at its own length, for 1 and 2 threads.
TEST(CpuBackend, RunShapedPaddedBatchesBitwiseLikeSingleRows) {
  Rng rng;
  SEED_TRACE(rng);
  const int64_t d = 8, classes = 4, max_len = 40, max_batch = 6;
  const Graph g = pool_model(rng, d, 32, classes).load("pool.onnx");
  std::uniform_int_distribution<int64_t> len_d(1, max_len), n_d(1, max_batch);
  struct Batch {
    int64_t n, seq;
    std::vector<int64_t> len;
    std::vector<float> x, mask;
  };
  std::vector<Batch> batches;
  for (int k = 0; k < 12; ++k) {
    Batch b;
    b.n = n_d(rng.gen);
    for (int64_t j = 0; j < b.n; ++j) b.len.push_back(len_d(rng.gen));
    if (k % 3 == 2) b.len.assign(static_cast<size_t>(b.n), batches[static_cast<size_t>(k - 2)].len[0]);
    b.seq = *std::max_element(b.len.begin(), b.len.end());
    b.x = rng.uniform({b.n, b.seq, d});
    b.mask.assign(static_cast<size_t>(b.n * b.seq), 0.0f);
    for (int64_t j = 0; j < b.n; ++j) {
      std::fill_n(b.mask.begin() + j * b.seq, b.len[static_cast<size_t>(j)], 1.0f);
      std::fill(b.x.begin() + (j * b.seq + b.len[static_cast<size_t>(j)]) * d, b.x.begin() + (j + 1) * b.seq * d,
                0.0f);  // padding, as the batch runner writes it
    }
    batches.push_back(std::move(b));
  }
  auto single = make_cpu_backend(1);
  single->prepare(g, {{max_len, d}, {max_len}}, 1);
  for (int threads : {1, 2}) {
    auto be = make_cpu_backend(threads);
    be->prepare(g, {{max_len, d}, {max_len}}, max_batch);
    for (int pass = 0; pass < 2; ++pass)
      for (const Batch& b : batches) {
        std::vector<float> y(static_cast<size_t>(b.n * classes));
        be->run_shaped({{b.n, b.seq, d}, {b.n, b.seq}}, {b.x.data(), b.mask.data()}, {y.data()});
        for (int64_t j = 0; j < b.n; ++j) {
          const int64_t len = b.len[static_cast<size_t>(j)];
          std::vector<float> one(static_cast<size_t>(classes)), ones(static_cast<size_t>(len), 1.0f);
          single->run_shaped({{1, len, d}, {1, len}}, {b.x.data() + j * b.seq * d, ones.data()}, {one.data()});
          ASSERT_EQ(0, std::memcmp(one.data(), y.data() + j * classes, sizeof(float) * classes))
              << "threads " << threads << " pass " << pass << " row " << j << " of " << b.n << " length " << len
              << " padded to " << b.seq;
        }
      }
  }
}

TEST(CpuBackend, MlpBitwiseIndependentOfBatchAndThreads) {
  Rng rng;
  SEED_TRACE(rng);
  const Graph g = mlp_model(rng, 20, 50, 10).load("mlp.onnx");
  expect_batch_independent(g, {20}, rng, 10);
}

TEST(CpuBackend, SequenceModelBitwiseIndependentOfBatch) {
  // [N, 4, 16] -> MatMul [16, 8] -> Add -> LayerNorm -> Transpose -> MatMul (batched) -> Softmax -> Flatten
  Rng rng;
  SEED_TRACE(rng);
  test::OnnxModel m;
  m.input("x", {-1, 4, 16});
  m.init("w", {16, 8}, rng.uniform({16, 8}));
  m.init("b", {8}, rng.uniform({8}));
  m.init("s", {8}, rng.uniform({8}));
  m.init("lb", {8}, rng.uniform({8}));
  m.node("MatMul", {"x", "w"}, {"h"});
  m.node("Add", {"h", "b"}, {"hb"});
  m.node("LayerNormalization", {"hb", "s", "lb"}, {"ln"});
  auto* t = m.node("Transpose", {"ln"}, {"lt"});
  test::OnnxModel::attr_ints(t, "perm", {0, 2, 1});
  m.node("MatMul", {"ln", "lt"}, {"att"});  // [N, 4, 4]
  m.node("Softmax", {"att"}, {"p"});
  m.node("Flatten", {"p"}, {"y"});
  m.output("y");
  const Graph g = m.load("seq.onnx");
  expect_batch_independent(g, {4, 16}, rng, 16);
}

TEST(CpuBackend, MatchesReferenceAndReusesBuffers) {
  Rng rng;
  SEED_TRACE(rng);
  const test::OnnxModel m = mlp_model(rng, 6, 9, 4);
  const Graph g = m.load();
  CpuBackend be(2);
  EXPECT_NE(be.describe().find("cpu"), std::string::npos);
  be.prepare(g, {{6}}, 16);
  EXPECT_GT(be.buffer_bytes(), 0);
  // Weights back from the ONNX initializers for the double reference.
  auto w = [&](const std::string& name) {
    for (const auto& t : m.g->initializer())
      if (t.name() == name) {
        std::vector<float> v(t.raw_data().size() / 4);
        std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
        return v;
      }
    return std::vector<float>{};
  };
  const auto w1 = w("w1"), b1 = w("b1"), w2 = w("w2"), b2 = w("b2");
  for (int64_t rows : {16, 3, 1, 16, 5}) {
    const auto x = rng.uniform({rows, 6});
    std::vector<float> y(static_cast<size_t>(rows * 4));
    be.run(rows, {x.data()}, {y.data()});
    std::vector<double> want;
    for (int64_t r = 0; r < rows; ++r) {
      double h[9], z[4], mx = -INFINITY, s = 0;
      for (int j = 0; j < 9; ++j) {
        h[j] = b1[static_cast<size_t>(j)];
        for (int q = 0; q < 6; ++q) h[j] += static_cast<double>(x[static_cast<size_t>(r * 6 + q)]) * w1[static_cast<size_t>(j * 6 + q)];
        h[j] = std::max(h[j], 0.0);
      }
      for (int j = 0; j < 4; ++j) {
        z[j] = b2[static_cast<size_t>(j)];
        for (int q = 0; q < 9; ++q) z[j] += h[q] * w2[static_cast<size_t>(q * 4 + j)];
        mx = std::max(mx, z[j]);
      }
      for (int j = 0; j < 4; ++j) s += std::exp(z[j] - mx);
      for (int j = 0; j < 4; ++j) want.push_back(std::exp(z[j] - mx) / s);
    }
    expect_close(y, want, 1e-5, 1e-6);
  }
  std::vector<float> x(17 * 6), y(17 * 4);
  EXPECT_THROW(be.run(17, {x.data()}, {y.data()}), Error);
  EXPECT_THROW(be.run(0, {x.data()}, {y.data()}), Error);
}

TEST(CpuBackend, FixedBatchExportIsRejected) {
  test::OnnxModel m;
  m.input("x", {1, 4});
  m.init_i64("shape", {2}, {1, -1});
  m.node("Reshape", {"x", "shape"}, {"y"});
  m.output("y");
  const Graph g = m.load("fixed.onnx");
  CpuBackend be(1);
  try {
    be.prepare(g, {{4}}, 8);
    ADD_FAILURE() << "prepare accepted a fixed-batch model";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("fixed.onnx"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mgi
