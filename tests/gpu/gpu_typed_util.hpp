// Typed companions of gpu_test_util.hpp for graphs whose inputs or outputs are
// not float32 (int64 token ids, bool masks, float16 storage): whole-batch
// Tensors in, the CPU and CUDA backends compared output by output -- bitwise
// by default (layout, index, logic, cast and integer ops compute no new
// floats), or within `tol` for float outputs of arithmetic.
#pragma once
#include <cstring>
#include <functional>

#include "gpu_test_util.hpp"

namespace mgi::gputest {

using TypedBatch = std::vector<Tensor>;  // one tensor per graph input / output, batch first
// Makes a graph input's values for `full` (its whole shape, batch first).
using InputGen = std::function<Tensor(Rng&, const Shape& full)>;

// Uniform values: floats in [lo, hi) (converted for float16/bfloat16), integers in [lo, hi], bools 0/1.
inline Tensor uniform_tensor(Rng& rng, DType t, const Shape& s, double lo, double hi) {
  Tensor r(t, s);
  const int64_t n = r.numel();
  if (is_float(t)) {
    const std::vector<float> v = rng.uniform(n, static_cast<float>(lo), static_cast<float>(hi));
    convert_elements(DType::f32, v.data(), t, r.raw(), n);
  } else {
    std::vector<int64_t> v(static_cast<size_t>(n));
    for (auto& x : v) x = t == DType::b8 ? rng.integer(0, 1) : rng.integer(static_cast<int64_t>(lo), static_cast<int64_t>(hi));
    convert_elements(DType::i64, v.data(), t, r.raw(), n);
  }
  return r;
}
inline InputGen uniform(DType t, double lo, double hi) {
  return [=](Rng& rng, const Shape& s) { return uniform_tensor(rng, t, s, lo, hi); };
}

struct TypedOptions {
  double tol = 0.0;  // 0: bitwise; else max|cuda - cpu| / max|cpu| per float output
  int64_t max_batch = 37;
  std::vector<InputGen> gen;  // per graph input; missing: float32 in [-2, 2)
  BackendOptions cuda{};
};

inline TypedBatch run_typed(Backend& be, const Graph& g, const std::vector<Shape>& input_rows, const TypedBatch& in,
                            int64_t first, int64_t rows) {
  std::vector<Shape> concrete;
  for (const Shape& r : input_rows) {
    Shape s{rows};
    s.insert(s.end(), r.begin(), r.end());
    concrete.push_back(s);
  }
  const std::vector<Shape> shapes = g.plan(concrete).shapes;
  std::vector<const void*> ip;
  for (size_t k = 0; k < in.size(); ++k)
    ip.push_back(static_cast<const char*>(in[k].raw()) +
                 first * shape_numel(input_rows[k]) * static_cast<int64_t>(dtype_size(in[k].dtype)));
  TypedBatch out;
  std::vector<void*> op;
  for (size_t k = 0; k < g.outputs.size(); ++k) out.emplace_back(g.output_type(k), shapes[static_cast<size_t>(g.outputs[k])]);
  for (Tensor& t : out) {
    std::memset(t.raw(), 0xA5, t.bytes());  // a kernel that writes nothing does not pass by luck
    op.push_back(t.raw());
  }
  be.run(rows, ip, op);
  return out;
}

inline void expect_typed_close(const TypedBatch& ref, const TypedBatch& got, double tol, const std::string& what) {
  ASSERT_EQ(ref.size(), got.size()) << what;
  for (size_t k = 0; k < ref.size(); ++k) {
    ASSERT_EQ(ref[k].dtype, got[k].dtype) << what << ": output " << k;
    ASSERT_EQ(ref[k].shape, got[k].shape) << what << ": output " << k;
    const int64_t n = ref[k].numel();
    if (tol > 0 && is_float(ref[k].dtype)) {
      double max_ref = 0, max_err = 0;
      int64_t w = 0;
      for (int64_t j = 0; j < n; ++j) {
        max_ref = std::max(max_ref, std::fabs(ref[k].double_at(j)));
        const double e = std::fabs(got[k].double_at(j) - ref[k].double_at(j));
        if (!(e <= max_err)) max_err = std::isnan(e) ? INFINITY : e, w = j;
      }
      const double rel = max_err / std::max(max_ref, 1e-6);
      std::printf("[ compare  ] %s output %zu (%s): rel err %.3g (tol %.0e)\n", what.c_str(), k,
                  dtype_name(ref[k].dtype), rel, tol);
      EXPECT_LE(rel, tol) << what << ": output " << k << " element " << w << ": cuda " << got[k].double_at(w)
                          << " vs cpu " << ref[k].double_at(w);
      continue;
    }
    const size_t es = dtype_size(ref[k].dtype);
    int64_t bad = -1, count = 0;
    for (int64_t j = 0; j < n; ++j)
      if (std::memcmp(static_cast<const char*>(ref[k].raw()) + j * es, static_cast<const char*>(got[k].raw()) + j * es, es)) {
        if (bad < 0) bad = j;
        ++count;
      }
    std::printf("[ compare  ] %s output %zu (%s): %lld of %lld elements differ bitwise\n", what.c_str(), k,
                dtype_name(ref[k].dtype), static_cast<long long>(count), static_cast<long long>(n));
    EXPECT_EQ(count, 0) << what << ": output " << k << " element " << bad << ": cuda " << got[k].double_at(bad)
                        << " vs cpu " << ref[k].double_at(bad);
  }
}

// Fresh inputs for max_batch rows (seed printed); both backends prepared for
// max_batch; compared on a full batch, a single row and a short tail batch.
inline void compare_typed(const GraphBuilder& b, const TypedOptions& opt, const std::string& what) {
  const Graph& g = b.graph();
  Rng rng(test_seed());
  TypedBatch in;
  for (size_t k = 0; k < b.input_rows().size(); ++k) {
    Shape full{opt.max_batch};
    full.insert(full.end(), b.input_rows()[k].begin(), b.input_rows()[k].end());
    in.push_back(k < opt.gen.size() && opt.gen[k] ? opt.gen[k](rng, full) : uniform_tensor(rng, DType::f32, full, -2, 2));
  }
  auto cpu = make_cpu_backend(1);
  auto gpu = make_cuda_backend(0, opt.cuda);
  cpu->prepare(g, b.input_rows(), opt.max_batch);
  gpu->prepare(g, b.input_rows(), opt.max_batch);
  const int64_t tail = std::max<int64_t>(1, opt.max_batch / 3);
  for (const auto& [first, rows] : std::vector<std::pair<int64_t, int64_t>>{{0, opt.max_batch}, {opt.max_batch - 1, 1}, {1, tail}}) {
    const TypedBatch ref = run_typed(*cpu, g, b.input_rows(), in, first, rows);
    const TypedBatch got = run_typed(*gpu, g, b.input_rows(), in, first, rows);
    expect_typed_close(ref, got, opt.tol, what + " rows [" + std::to_string(first) + "," + std::to_string(first + rows) + ")");
  }
}

}  // namespace mgi::gputest
