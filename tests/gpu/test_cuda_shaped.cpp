// run_shaped on the CUDA backend (padded ragged batches): inputs whose
// sequence length changes per batch, against the CPU backend's run_shaped on
// the same fresh random inputs (seed printed): a small encoder-like graph
// built here, and the BERT fixture, each over a run of sequence lengths and
// row counts up to the prepared ones, interleaved with full-shape run() batches.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "gpu_typed_util.hpp"

namespace mgi::gputest {
namespace {

// Tensors of `shapes` (batch first) from the generators; then both backends' run_shaped outputs.
TypedBatch run_shaped_typed(Backend& be, const Graph& g, const TypedBatch& in) {
  std::vector<Shape> shapes;
  std::vector<const void*> ip;
  for (const Tensor& t : in) {
    shapes.push_back(t.shape);
    ip.push_back(t.raw());
  }
  const std::vector<Shape> vs = g.plan(shapes).shapes;
  TypedBatch out;
  std::vector<void*> op;
  for (size_t k = 0; k < g.outputs.size(); ++k) out.emplace_back(g.output_type(k), vs[static_cast<size_t>(g.outputs[k])]);
  for (Tensor& t : out) {
    std::memset(t.raw(), 0xA5, t.bytes());
    op.push_back(t.raw());
  }
  be.run_shaped(shapes, ip, op);
  return out;
}

void compare_shaped(const Graph& g, const std::vector<Shape>& rows, int64_t max_batch,
                    const std::vector<InputGen>& gen, double tol, const std::string& name) {
  Rng rng(test_seed());
  auto cpu = make_cpu_backend(1);
  auto gpu = make_cuda_backend(0, {});
  ASSERT_TRUE(gpu->supports_shaped());
  cpu->prepare(g, rows, max_batch);
  gpu->prepare(g, rows, max_batch);
  const int64_t max_seq = rows[0][0];
  for (const auto& [n, seq] : std::vector<std::pair<int64_t, int64_t>>{
           {max_batch, max_seq}, {max_batch, 1}, {3, max_seq / 2 + 1}, {1, 3}, {max_batch - 1, max_seq - 1}, {2, max_seq}}) {
    TypedBatch in;
    for (size_t k = 0; k < rows.size(); ++k) {
      Shape full{n, seq};
      full.insert(full.end(), rows[k].begin() + 1, rows[k].end());
      in.push_back(k < gen.size() && gen[k] ? gen[k](rng, full) : uniform_tensor(rng, DType::f32, full, -2, 2));
    }
    const std::string what = name + " [" + std::to_string(n) + ", " + std::to_string(seq) + "]";
    expect_typed_close(run_shaped_typed(*cpu, g, in), run_shaped_typed(*gpu, g, in), tol, what);
  }
}

TEST(RunShaped, EncoderLikeGraph) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  GraphBuilder b;
  const int x = b.input({20, 8});  // [batch, seq, 8]; seq made dynamic below
  int h = b.node("MatMul", {x, b.weight(w, {8, 16}, 8)});
  h = b.node("Add", {h, b.random_constant(w, {16})});
  h = b.node("Relu", {h});
  const int t = b.node("Transpose", {h}, [](Node& n) { n.perm = {0, 2, 1}; });  // [b, 16, seq]
  const int s = b.node("Softmax", {b.node("MatMul", {h, t})}, [](Node& n) { n.axis = -1; });  // [b, seq, seq]
  const int a = b.node("MatMul", {s, h});  // [b, seq, 16]
  b.output(b.node("ReduceSum", {a, b.constant_i64({1}, {1})}, [](Node& n) { n.keepdims = false; }));  // [b, 16]
  Graph& g = b.graph();
  g.input_shapes[0][1] = -1;
  compare_shaped(g, b.input_rows(), 7, {}, 1e-5, "encoder-like");
}

TEST(RunShaped, BertFixture) {
  MGI_REQUIRE_CUDA_DEVICE();
  const std::string path = std::string(MGI_FIXTURE_MODELS) + "/bert_ts.onnx";
  std::ifstream f(path, std::ios::binary);
  ASSERT_TRUE(f.good()) << path;
  std::stringstream ss;
  ss << f.rdbuf();
  const Graph g = load_onnx(ss.str(), path);
  InputGen ids = [](Rng& rng, const Shape& s) { return uniform_tensor(rng, DType::i64, s, 1, 999); };
  InputGen mask = [](Rng& rng, const Shape& s) {  // each row: a prefix of ones (padding after)
    Tensor t(DType::i64, s);
    for (int64_t r = 0; r < s[0]; ++r) {
      const int64_t len = rng.integer(1, s[1]);
      for (int64_t j = 0; j < s[1]; ++j) t.data<int64_t>()[r * s[1] + j] = j < len ? 1 : 0;
    }
    return t;
  };
  compare_shaped(g, {{32}, {32}}, 6, {ids, mask}, 1e-4, "bert_ts");
}

}  // namespace
}  // namespace mgi::gputest
