// libFuzzer target: mgi::load_onnx on arbitrary bytes; a model that loads is
// then shape-checked and run on the CPU backend.
//
// Concrete shapes come from the declared input shapes (dynamic dims -> 1..3,
// chosen from a hash of the input so a crash replays), batch 2 for prepare()
// and 1 and 2 rows for run(); models with a dynamic dim after the batch also
// go through run_shaped() with shorter dims. Models whose values need more than
// kMaxFloats floats at these shapes are not run: their sizes are legitimate,
// only too slow for fuzzing. The loader itself gets no such help: every size it
// reads from the bytes must be checked before it allocates (libFuzzer's
// -malloc_limit_mb / -rss_limit_mb turn an absurd allocation into a finding).
// Accepted outcomes: success or an mgi::Error; anything else is a finding.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend.hpp"
#include "error.hpp"
#include "graph.hpp"
#include "op_registry.hpp"

namespace {

constexpr int64_t kMaxFloats = int64_t{1} << 22;  // all runtime values of one run together (16 MiB)
constexpr int64_t kMaxBatch = 2;

struct Rng {  // xorshift64: deterministic per input
  uint64_t s;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  float value() { return static_cast<float>(static_cast<double>(next() >> 40) / (1 << 24) * 8.0 - 4.0); }
};

uint64_t fnv1a(const uint8_t* d, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t k = 0; k < n; ++k) h = (h ^ d[k]) * 1099511628211ull;
  return h | 1;
}

mgi::Shape with_batch(mgi::Shape row, int64_t batch) {
  row.insert(row.begin(), batch);
  return row;
}

// Floats of the runtime (non-constant) values at these input shapes, or -1 over the cap.
int64_t runtime_floats(const mgi::Graph& g, const std::vector<mgi::Shape>& shapes) {
  int64_t total = 0;
  for (size_t v = 0; v < shapes.size(); ++v) {
    if (g.values[v].is_constant) continue;
    total += mgi::shape_numel(shapes[v]);
    if (total > kMaxFloats) return -1;
  }
  return total;
}

// Runs the prepared backend once; returns false when the model is too big to run.
bool run_once(const mgi::Graph& g, mgi::Backend& be, const std::vector<mgi::Shape>& in_shapes, bool shaped,
              Rng& rng) {
  const std::vector<mgi::Shape> shapes = g.infer_shapes(in_shapes);
  if (runtime_floats(g, shapes) < 0) return false;
  // Typed buffers: inputs converted from random floats to each input's type;
  // outputs of exact byte sizes, so ASan sees a write past the shape.
  std::vector<std::vector<uint8_t>> in(in_shapes.size()), out(g.outputs.size());
  std::vector<const void*> in_ptrs;
  std::vector<void*> out_ptrs;
  for (size_t k = 0; k < in.size(); ++k) {
    const int64_t n = mgi::shape_numel(in_shapes[k]);
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = rng.value();
    in[k].resize(static_cast<size_t>(n) * mgi::dtype_size(g.input_type(k)));
    mgi::convert_elements(mgi::DType::f32, x.data(), g.input_type(k), in[k].data(), n);
    in_ptrs.push_back(in[k].data());
  }
  for (size_t k = 0; k < out.size(); ++k) {
    out[k].resize(static_cast<size_t>(mgi::shape_numel(shapes[static_cast<size_t>(g.outputs[k])])) *
                  mgi::dtype_size(g.output_type(k)));
    out_ptrs.push_back(out[k].data());
  }
  if (shaped) be.run_shaped(in_shapes, in_ptrs, out_ptrs);
  else be.run(in_shapes[0][0], in_ptrs, out_ptrs);
  return true;
}

void exercise(const uint8_t* data, size_t size) {
  const mgi::Graph g = mgi::load_onnx(std::string(reinterpret_cast<const char*>(data), size), "fuzz.onnx");
  for (const mgi::Node& n : g.nodes)
    if (n.def->no_fold) return;  // test-only op: sleeps by design
  Rng rng{fnv1a(data, size)};

  // Per-row input shapes, dynamic dims -> 1..3. Usually one value for all of them: inputs
  // that share a named dim (x [batch, seq, d] and mask [batch, seq]) must agree to run.
  const bool same = rng.next() % 4 != 0;
  const int64_t common = 1 + static_cast<int64_t>(rng.next() % 3);
  std::vector<mgi::Shape> rows;
  bool dynamic_rows = false;
  for (const mgi::Shape& decl : g.input_shapes) {
    mgi::Shape r = mgi::row_shape(decl);
    for (int64_t& d : r)
      if (d < 0) {
        d = same ? common : 1 + static_cast<int64_t>(rng.next() % 3);
        dynamic_rows = true;
      }
    rows.push_back(r);
  }
  std::vector<mgi::Shape> full;
  for (const mgi::Shape& r : rows) full.push_back(with_batch(r, kMaxBatch));
  if (runtime_floats(g, g.infer_shapes(full)) < 0) return;

  const std::unique_ptr<mgi::Backend> be = mgi::make_cpu_backend(1);
  be->prepare(g, rows, kMaxBatch);
  for (int64_t batch = 1; batch <= kMaxBatch; ++batch) {
    std::vector<mgi::Shape> at;
    for (const mgi::Shape& r : rows) at.push_back(with_batch(r, batch));
    if (!run_once(g, *be, at, false, rng)) return;
  }
  if (!dynamic_rows) return;
  // Padded ragged batches: dynamic dims at most the prepared ones (0 included).
  const int64_t shorter = static_cast<int64_t>(rng.next() % static_cast<uint64_t>(common + 1));
  std::vector<mgi::Shape> at;
  for (size_t k = 0; k < rows.size(); ++k) {
    mgi::Shape s = with_batch(rows[k], 1 + static_cast<int64_t>(rng.next() % kMaxBatch));
    const mgi::Shape& decl = g.input_shapes[k];
    for (size_t d = 1; d < s.size(); ++d)
      if (decl[d] < 0)
        s[d] = same ? shorter : static_cast<int64_t>(rng.next() % static_cast<uint64_t>(s[d] + 1));
    at.push_back(std::move(s));
  }
  for (size_t k = 1; k < at.size(); ++k) at[k][0] = at[0][0];  // one batch for all inputs
  run_once(g, *be, at, true, rng);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    exercise(data, size);
  } catch (const mgi::Error&) {
  }
  return 0;
}
