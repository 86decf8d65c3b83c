// Helpers for the GPU tests: build small graphs in code, fill them with fresh
// random numbers (seed printed; MGI_TEST_SEED=<n> replays), run the CPU
// reference backend and the CUDA backend on the same rows and compare.
//
// Error measure: max|cuda - cpu| / max(max|cpu|, 1e-6) per output, the
// measure the reference cases use. compare_backends() also returns how many
// GEMMs cuBLASLt ran, for the tests of fused paths.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend.hpp"
#include "cuda_backend.hpp"
#include "error.hpp"
#include "graph.hpp"
#include "op_registry.hpp"
#include "tensor.hpp"

#define MGI_REQUIRE_CUDA_DEVICE() \
  if (mgi::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device"

namespace mgi::gputest {

// One seed per test: from MGI_TEST_SEED, else the clock; printed and recorded.
inline uint64_t test_seed() {
  uint64_t seed;
  const char* env = std::getenv("MGI_TEST_SEED");
  if (env && *env)
    seed = std::strtoull(env, nullptr, 10);
  else
    seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::printf("[ seed     ] MGI_TEST_SEED=%llu\n", static_cast<unsigned long long>(seed));
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  std::vector<float> uniform(int64_t n, float lo, float hi) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = d(gen_);
    return v;
  }
  int64_t integer(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(gen_); }

 private:
  std::mt19937_64 gen_;
};

// Builds a Graph the way the loader leaves it: values, nodes in order, inputs
// with a dynamic batch dim, outputs.
class GraphBuilder {
 public:
  GraphBuilder() {
    g_.source = "test-graph";
    g_.opset = 17;
    g_.producer = "gpu tests";
  }
  // Runtime input with per-row shape `row` (dim 0, the batch, is dynamic).
  int input(const Shape& row, DType type = DType::f32) {
    const int v = value("in" + std::to_string(g_.inputs.size()), type);
    Shape declared{-1};
    declared.insert(declared.end(), row.begin(), row.end());
    g_.inputs.push_back(v);
    g_.input_shapes.push_back(declared);
    rows_.push_back(row);
    return v;
  }
  int constant(const Shape& shape, std::vector<float> data) {
    const int v = value("c" + std::to_string(g_.values.size()));
    Value& val = g_.values[static_cast<size_t>(v)];
    val.is_constant = true;
    val.data = Tensor::f32(shape, data);
    g_.parameter_count += shape_numel(shape);
    return v;
  }
  // An int64 constant (a Reshape target, Unsqueeze axes, Gather indices...).
  int constant_i64(const Shape& shape, const std::vector<int64_t>& data) { return constant(Tensor::i64(shape, data)); }
  // A constant of any type.
  int constant(Tensor t) {
    const int v = value("c" + std::to_string(g_.values.size()), t.dtype);
    Value& val = g_.values[static_cast<size_t>(v)];
    val.is_constant = true;
    g_.parameter_count += t.numel();
    val.data = std::move(t);
    return v;
  }
  int random_constant(Rng& rng, const Shape& shape, float lo = -1.0f, float hi = 1.0f) {
    return constant(shape, rng.uniform(shape_numel(shape), lo, hi));
  }
  // A weight of a layer with fan_in inputs: uniform in +-sqrt(3 / fan_in), so
  // activations keep about unit scale through the layers.
  int weight(Rng& rng, const Shape& shape, int64_t fan_in) {
    const float bound = std::sqrt(3.0f / static_cast<float>(fan_in));
    return random_constant(rng, shape, -bound, bound);
  }
  // PyTorch Linear layers as exported (Gemm transB=1 with a bias), ReLU between
  // them; widths = {in, hidden..., out}. Returns the last layer's output.
  int linear_relu(int x, Rng& rng, const std::vector<int64_t>& widths) {
    for (size_t l = 0; l + 1 < widths.size(); ++l) {
      const int64_t in = widths[l], out = widths[l + 1];
      x = node("Gemm", {x, weight(rng, {out, in}, in), weight(rng, {out}, in)}, [](Node& n) { n.trans_b = true; });
      if (l + 2 < widths.size()) x = node("Relu", {x});
    }
    return x;
  }
  // Appends a node of registry op `op` with the ONNX defaults of its
  // attributes (make_node); `set` changes attributes. An op not in ai.onnx at
  // the graph's opset comes from com.microsoft (Gelu before opset 20).
  // Returns its (first) output; a node whose inputs are all constants or host
  // values (or a Shape/Size) makes a host value, as the loader does.
  // Ops with a required attribute (Cast's `to`, Concat's `axis`), which
  // make_node's parse refuses, get the plain node: `set` must fill it.
  // `op` is an ai.onnx op, a com.microsoft one, or "domain:op" (e.g. "mgi.test:Work").
  int node(std::string op, std::vector<int> inputs, const std::function<void(Node&)>& set = {}) {
    std::string domain;
    if (const size_t colon = op.find(':'); colon != std::string::npos) {
      domain = op.substr(0, colon);
      op = op.substr(colon + 1);
    } else if (!OpRegistry::get().find("", op, g_.opset)) {
      domain = "com.microsoft";
    }
    Node n;
    try {
      n = make_node(op, inputs, {}, g_.opset, domain);
    } catch (const ModelError&) {
      n.def = OpRegistry::get().find(domain, op, g_.opset);
      if (!n.def) throw;
      n.op_type = op;
      n.inputs = std::move(inputs);
      n.opset = g_.opset;
    }
    n.name = op + "_" + std::to_string(g_.nodes.size());
    if (set) set(n);
    std::vector<DType> types;
    bool known = true;
    for (int v : n.inputs) {
      if (v < 0) continue;
      const Value& in = g_.values[static_cast<size_t>(v)];
      types.push_back(in.dtype);
      known = known && (in.is_constant || in.host);
    }
    const int out = value(n.name + "_out", output_type(n, types));
    g_.values[static_cast<size_t>(out)].host = n.def->shape_only || known;
    n.outputs.push_back(out);
    g_.nodes.push_back(n);
    return out;
  }
  // The type of a node's output 0 (the tests' ops: comparisons give bool, Shape/Size int64, Cast its `to`).
  static DType output_type(const Node& n, const std::vector<DType>& in) {
    if (n.is("Equal") || n.is("Less") || n.is("Greater") || n.is("Not") || n.is("And") || n.is("Or")) return DType::b8;
    if (n.is("Shape") || n.is("Size")) return DType::i64;
    if (n.is("Cast")) return n.to;
    if (n.is("Where")) return in.at(1);
    return in.empty() ? DType::f32 : in[0];
  }
  void output(int v) { g_.outputs.push_back(v); }

  const Graph& graph() const { return g_; }
  Graph& graph() { return g_; }
  const std::vector<Shape>& input_rows() const { return rows_; }

 private:
  int value(const std::string& name, DType type = DType::f32) {
    Value v;
    v.name = name;
    v.dtype = type;
    g_.values.push_back(v);
    return static_cast<int>(g_.values.size()) - 1;
  }
  Graph g_;
  std::vector<Shape> rows_;
};

using Batch = std::vector<std::vector<float>>;  // one flat vector per graph input / output

// Random inputs for `rows` rows, values in [lo, hi).
inline Batch random_inputs(Rng& rng, const std::vector<Shape>& input_rows, int64_t rows, float lo = -2.0f,
                           float hi = 2.0f) {
  Batch in;
  for (const Shape& r : input_rows) in.push_back(rng.uniform(rows * shape_numel(r), lo, hi));
  return in;
}

// Runs `rows` rows starting at row `first` of `in` through a prepared backend.
inline Batch run_rows(Backend& be, const Graph& g, const std::vector<Shape>& input_rows, const Batch& in,
                      int64_t first, int64_t rows) {
  std::vector<Shape> concrete;
  for (const Shape& r : input_rows) {
    Shape s{rows};
    s.insert(s.end(), r.begin(), r.end());
    concrete.push_back(s);
  }
  const std::vector<Shape> shapes = g.infer_shapes(concrete);
  std::vector<const void*> ip;
  for (size_t k = 0; k < in.size(); ++k) ip.push_back(in[k].data() + first * shape_numel(input_rows[k]));
  Batch out;
  for (int v : g.outputs) out.emplace_back(static_cast<size_t>(shape_numel(shapes[static_cast<size_t>(v)])), NAN);
  std::vector<void*> op;
  for (auto& o : out) op.push_back(o.data());
  be.run(rows, ip, op);
  return out;
}

// max|got - ref| / max(max|ref|, 1e-6) over one output.
inline double rel_error(const std::vector<float>& ref, const std::vector<float>& got, size_t* worst = nullptr) {
  double max_ref = 0, max_err = 0;
  size_t w = 0;
  for (size_t j = 0; j < ref.size(); ++j) {
    max_ref = std::max(max_ref, std::fabs(double(ref[j])));
    const double e = std::fabs(double(got[j]) - double(ref[j]));
    if (!(e <= max_err)) {  // NaN counts as the worst error
      max_err = std::isnan(e) ? INFINITY : e;
      w = j;
    }
  }
  if (worst) *worst = w;
  return max_err / std::max(max_ref, 1e-6);
}

inline void expect_close(const Batch& ref, const Batch& got, double tol, const std::string& what) {
  ASSERT_EQ(ref.size(), got.size()) << what;
  for (size_t k = 0; k < ref.size(); ++k) {
    ASSERT_EQ(ref[k].size(), got[k].size()) << what << ": output " << k;
    size_t w = 0;
    const double rel = rel_error(ref[k], got[k], &w);
    std::printf("[ compare  ] %s output %zu: rel err %.3g (tol %.0e)\n", what.c_str(), k, rel, tol);
    EXPECT_LE(rel, tol) << what << ": output " << k << " element " << w << ": cuda " << got[k][w] << " vs cpu "
                        << ref[k][w];
  }
}

struct CompareOptions {
  double tol = 1e-5;
  int64_t max_batch = 37;    // odd on purpose: no power-of-two luck
  float lo = -2.0f, hi = 2.0f;  // input range
  BackendOptions cuda{};     // precision and fusion of the CUDA backend (the CPU side is always fp32)
  // Row counts (1..max_batch) run one after another on consecutive rows of
  // fresh inputs; empty: a full batch, a single row and a short tail batch.
  std::vector<int64_t> batches{};
};

// How the CUDA backend's GEMMs ran during a comparison, from prepare() on
// (CudaBackend::lt_calls(), fallback_calls()).
struct GemmCounts {
  int64_t lt = 0, fallback = 0;
};

// Prepares both backends for max_batch rows and compares them on opt.batches,
// or on a full batch, a single row and a short tail batch taken from the
// middle (buffers reused across sizes, as the tool runs the last short batch
// of a slice). Returns the CUDA backend's GEMM counts, so a test of a fused
// path can check that cuBLASLt ran it (a fallback would match the CPU as well).
inline GemmCounts compare_backends(const GraphBuilder& b, const CompareOptions& opt, const std::string& what) {
  const Graph& g = b.graph();
  Rng rng(test_seed());
  std::vector<std::pair<int64_t, int64_t>> slices;  // first row, rows
  if (opt.batches.empty()) {
    const int64_t tail = std::max<int64_t>(1, opt.max_batch / 3);
    slices = {{0, opt.max_batch}, {opt.max_batch - 1, 1}, {1, tail}};
  }
  int64_t total = opt.batches.empty() ? opt.max_batch : 0;
  for (int64_t rows : opt.batches) {
    slices.push_back({total, rows});
    total += rows;
  }
  const Batch in = random_inputs(rng, b.input_rows(), total, opt.lo, opt.hi);
  auto cpu = make_cpu_backend(1);
  auto gpu = make_cuda_backend(0, opt.cuda);
  cpu->prepare(g, b.input_rows(), opt.max_batch);
  gpu->prepare(g, b.input_rows(), opt.max_batch);
  for (const auto& [first, rows] : slices) {
    const Batch ref = run_rows(*cpu, g, b.input_rows(), in, first, rows);
    const Batch got = run_rows(*gpu, g, b.input_rows(), in, first, rows);
    expect_close(ref, got, opt.tol,
                 what + " rows [" + std::to_string(first) + "," + std::to_string(first + rows) + ")");
  }
  const auto& cuda = dynamic_cast<const cuda::CudaBackend&>(*gpu);
  const GemmCounts counts{cuda.lt_calls(), cuda.fallback_calls()};
  std::printf("[ gemms    ] %s: %lld through cuBLASLt, %lld fell back to cublasGemmEx (%s)\n", what.c_str(),
              static_cast<long long>(counts.lt), static_cast<long long>(counts.fallback), gpu->describe().c_str());
  return counts;
}

}  // namespace mgi::gputest
