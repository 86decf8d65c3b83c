// The reduction, index and contraction ops (reduce.cpp, gather_scatter.cpp,
// einsum.cpp) through their registry definitions, on fresh random inputs
// (seed printed on failure), against reference loops written here; and
// multi-output nodes (Split, TopK) end to end through the CPU backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "backend.hpp"
#include "cpu_backend.hpp"
#include "error.hpp"
#include "error_test_util.hpp"
#include "index_test_util.hpp"
#include "graph.hpp"
#include "onnx_attrs.hpp"
#include "onnx_test_model.hpp"
#include "op_registry.hpp"
#include "test_rng.hpp"

namespace mgi {
namespace {

using test::Rng;

const std::string kSource = "t.onnx";

// ---------------------------------------------------------------- helpers

void attr_i(onnx::NodeProto& p, const char* name, int64_t v) {
  auto* a = p.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void attr_ints(onnx::NodeProto& p, const char* name, const std::vector<int64_t>& v) {
  auto* a = p.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void attr_s(onnx::NodeProto& p, const char* name, const std::string& v) {
  auto* a = p.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

// A node of `op` for `opset` with inputs 0..n_in-1 and n_out outputs, its
// attributes set by `attrs` and parsed by the op's definition, as the loader does.
Node node(const std::string& op, size_t n_in, int64_t opset, const std::function<void(onnx::NodeProto&)>& attrs = nullptr,
          size_t n_out = 1) {
  Node n;
  n.def = OpRegistry::get().find("", op, opset);
  if (!n.def) throw ModelError("no op " + op + " for opset " + std::to_string(opset));
  n.name = "t_" + op;
  n.op_type = op;
  n.opset = opset;
  onnx::NodeProto proto;
  proto.set_op_type(op);
  for (size_t k = 0; k < n_in; ++k) {
    n.inputs.push_back(static_cast<int>(k));
    proto.add_input("in" + std::to_string(k));
  }
  for (size_t k = 0; k < n_out; ++k) {
    n.outputs.push_back(static_cast<int>(n_in + k));
    proto.add_output("out" + std::to_string(k));
  }
  if (attrs) attrs(proto);
  if (n.def->parse) n.def->parse(OnnxNode(proto, n.name, kSource), n);
  return n;
}

// Inference, then the CPU kernel with `threads` threads.
std::vector<Tensor> run(const Node& n, const std::vector<const Tensor*>& in, int threads = 1) {
  InferArgs ia{n, kSource, {}, {}, {}};
  for (const Tensor* t : in) {
    ia.types.push_back(t ? t->dtype : DType::f32);
    ia.shapes.push_back(t ? &t->shape : nullptr);
    ia.values.push_back(t);
  }
  std::vector<OutInfo> info(n.outputs.size());
  n.def->infer(ia, info);
  std::vector<Tensor> out;
  for (const OutInfo& o : info) out.emplace_back(o.dtype, o.shape);
  cpu::ExecOptions opt;
  opt.threads = threads;
  KernelArgs args{n, {}, {}, opt};
  for (const Tensor* t : in) args.in.push_back(t ? In{t->dtype, &t->shape, t->raw()} : In{});
  for (Tensor& t : out) args.out.push_back(Out{t.dtype, &t.shape, t.raw()});
  n.def->cpu(args);
  return out;
}
Tensor run1(const Node& n, const std::vector<const Tensor*>& in, int threads = 1) { return run(n, in, threads).at(0); }

using test::error_of;

int64_t rand_int(Rng& rng, int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng.gen); }

Shape rand_shape(Rng& rng, size_t rank, int64_t lo = 1, int64_t hi = 5) {
  Shape s(rank);
  for (int64_t& d : s) d = rand_int(rng, lo, hi);
  return s;
}

// Floats in [-2, 2), or small integers of t (ties likely with `ties`).
Tensor rand_tensor(Rng& rng, DType t, const Shape& s, bool ties = false, int64_t lo = -20, int64_t hi = 20) {
  Tensor r(t, s);
  std::uniform_real_distribution<float> f(-2.0f, 2.0f);
  for (int64_t k = 0; k < r.numel(); ++k) {
    if (t == DType::f32) r.data<float>()[k] = ties ? static_cast<float>(rand_int(rng, -3, 3)) * 0.5f : f(rng.gen);
    else if (t == DType::i32) r.data<int32_t>()[k] = static_cast<int32_t>(rand_int(rng, ties ? -3 : lo, ties ? 3 : hi));
    else r.data<int64_t>()[k] = rand_int(rng, ties ? -3 : lo, ties ? 3 : hi);
  }
  return r;
}

using test::ravel;
using test::unravel;

void expect_bits(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.dtype, want.dtype) << what;
  ASSERT_EQ(got.shape, want.shape) << what << ": " << shape_str(got.shape) << " vs " << shape_str(want.shape);
  ASSERT_EQ(got.bytes(), want.bytes()) << what;
  for (int64_t k = 0; k < got.numel(); ++k) {
    const size_t es = dtype_size(got.dtype);
    if (std::memcmp(static_cast<const char*>(got.raw()) + k * es, static_cast<const char*>(want.raw()) + k * es, es)) {
      ADD_FAILURE() << what << ": element " << k << " is " << got.double_at(k) << ", expected " << want.double_at(k);
      return;
    }
  }
}

// got (any numeric type) against double values; exact for integers.
void expect_near(const Tensor& got, const Shape& shape, const std::vector<double>& want, const std::string& what,
                 double rel = 1e-5) {
  ASSERT_EQ(got.shape, shape) << what << ": " << shape_str(got.shape) << " vs " << shape_str(shape);
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << what;
  for (size_t k = 0; k < want.size(); ++k) {
    const double g = got.double_at(static_cast<int64_t>(k)), w = want[k];
    if (std::isnan(w)) {
      ASSERT_TRUE(std::isnan(g)) << what << ": element " << k << " is " << g << ", expected NaN";
    } else if (std::isinf(w)) {
      ASSERT_EQ(g, w) << what << ": element " << k;
    } else if (got.dtype == DType::f32) {
      ASSERT_NEAR(g, w, rel * std::fabs(w) + 1e-6) << what << ": element " << k;
    } else {
      ASSERT_EQ(g, w) << what << ": element " << k;
    }
  }
}

// ---------------------------------------------------------------- Reduce*

// Reference: each output element folds its inputs, collected in a list, in double.
std::vector<double> reduce_ref(const std::string& op, const Tensor& x, const std::vector<bool>& red, Shape& out_shape,
                               bool keepdims) {
  const Shape& s = x.shape;
  out_shape.clear();
  Shape kept;
  for (size_t d = 0; d < s.size(); ++d) {
    if (!red[d]) out_shape.push_back(s[d]), kept.push_back(s[d]);
    else if (keepdims) out_shape.push_back(1);
  }
  const int64_t n_out = shape_numel(kept);
  std::vector<std::vector<double>> groups(static_cast<size_t>(n_out));
  for (int64_t e = 0; e < x.numel(); ++e) {
    const std::vector<int64_t> i = unravel(e, s);
    std::vector<int64_t> o;
    for (size_t d = 0; d < s.size(); ++d)
      if (!red[d]) o.push_back(i[d]);
    groups[static_cast<size_t>(ravel(o, kept))].push_back(x.double_at(e));
  }
  std::vector<double> y;
  for (const auto& g : groups) {
    double v = 0;
    if (op == "ReduceSum") for (double a : g) v += a;
    else if (op == "ReduceMean") {
      for (double a : g) v += a;
      v /= static_cast<double>(g.size());
    } else if (op == "ReduceMax") {
      v = -INFINITY;
      for (double a : g) v = std::max(v, a);
    } else if (op == "ReduceMin") {
      v = INFINITY;
      for (double a : g) v = std::min(v, a);
    } else if (op == "ReduceProd") {
      v = 1;
      for (double a : g) v *= a;
    } else if (op == "ReduceL1") for (double a : g) v += std::fabs(a);
    else if (op == "ReduceL2") {
      for (double a : g) v += a * a;
      v = std::sqrt(v);
    } else if (op == "ReduceLogSumExp") {
      for (double a : g) v += std::exp(a);
      v = std::log(v);
    } else if (op == "ReduceSumSquare") for (double a : g) v += a * a;
    y.push_back(v);
  }
  return y;
}

const char* kReduceOps[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                            "ReduceL1", "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare"};

bool reduce_int_ok(const std::string& op) {
  return op == "ReduceSum" || op == "ReduceMax" || op == "ReduceMin" || op == "ReduceProd";
}
int reduce_input_opset(const std::string& op) { return op == "ReduceSum" ? 13 : 18; }

TEST(OpsReduce, AxesAttributeAndInputKeepdimsNegativeAxesTypes) {
  Rng rng;
  SEED_TRACE(rng);
  for (const std::string op : kReduceOps)
    for (int form = 0; form < 2; ++form)  // 0: axes attribute (opset before the input form), 1: axes input
      for (DType t : {DType::f32, DType::i32, DType::i64}) {
        if (t != DType::f32 && !reduce_int_ok(op)) continue;
        const int64_t opset = form == 0 ? reduce_input_opset(op) - 1 : reduce_input_opset(op);
        for (int rep = 0; rep < 12; ++rep) {
          const size_t rank = static_cast<size_t>(rand_int(rng, 1, 4));
          const Shape s = rand_shape(rng, rank, 1, 4);
          const Tensor x = op == "ReduceProd" && t != DType::f32 ? rand_tensor(rng, t, s, true) : rand_tensor(rng, t, s);
          std::vector<int64_t> axes;
          std::vector<bool> red(rank, false);
          for (size_t d = 0; d < rank; ++d)
            if (rand_int(rng, 0, 1)) {
              axes.push_back(rand_int(rng, 0, 1) ? static_cast<int64_t>(d) - static_cast<int64_t>(rank)
                                                 : static_cast<int64_t>(d));
              red[d] = true;
            }
          std::shuffle(axes.begin(), axes.end(), rng.gen);
          if (axes.empty()) red.assign(rank, true);  // empty axes: every axis
          const bool keep = rand_int(rng, 0, 1) != 0;
          Shape want_shape;
          const std::vector<double> want = reduce_ref(op, x, red, want_shape, keep);
          const std::string what = op + " opset " + std::to_string(opset) + " " + dtype_name(t) + " " + shape_str(s) +
                                   " axes " + shape_str(axes) + " keepdims " + std::to_string(keep);
          Tensor y;
          if (form == 0) {
            const Node n = node(op, 1, opset, [&](onnx::NodeProto& p) {
              if (!axes.empty()) attr_ints(p, "axes", axes);
              attr_i(p, "keepdims", keep);
            });
            y = run1(n, {&x});
          } else {
            const Node n = node(op, axes.empty() ? 1 : 2, opset, [&](onnx::NodeProto& p) { attr_i(p, "keepdims", keep); });
            const Tensor at = Tensor::i64({static_cast<int64_t>(axes.size())}, axes);
            y = axes.empty() ? run1(n, {&x}) : run1(n, {&x, &at});
          }
          ASSERT_EQ(y.dtype, t) << what;
          expect_near(y, want_shape, want, what);
        }
      }
}

TEST(OpsReduce, EmptyAxesWithAndWithoutNoop) {
  Rng rng;
  SEED_TRACE(rng);
  const Shape s = {3, 4, 2};
  const Tensor x = rand_tensor(rng, DType::f32, s);
  const Tensor empty = Tensor::i64({0}, {});
  for (const std::string op : kReduceOps) {
    const int64_t opset = reduce_input_opset(op);
    for (bool noop : {false, true})
      for (bool given : {false, true}) {  // an empty axes input, or none
        const Node n = node(op, given ? 2 : 1, opset, [&](onnx::NodeProto& p) {
          attr_i(p, "noop_with_empty_axes", noop);
          attr_i(p, "keepdims", 0);
        });
        const Tensor y = given ? run1(n, {&x, &empty}) : run1(n, {&x});
        const std::string what = op + " noop " + std::to_string(noop) + " axes given " + std::to_string(given);
        if (noop) {  // each element reduced alone, as onnxruntime: |x| for L1/L2, x * x for SumSquare
          Shape ws;
          expect_near(y, s, reduce_ref(op, x, {false, false, false}, ws, false), what);
          if (op == "ReduceSum" || op == "ReduceMax" || op == "ReduceMin" || op == "ReduceMean") expect_bits(y, x, what);
        } else {
          Shape ws;
          expect_near(y, ws, reduce_ref(op, x, {true, true, true}, ws, false), what);
          EXPECT_TRUE(y.shape.empty()) << what;
        }
      }
  }
}

TEST(OpsReduce, EmptyReductionsAndErrors) {
  const Tensor x(DType::f32, Shape{2, 0, 3});
  const Tensor ax = Tensor::i64({1}, {1});
  std::map<std::string, double> want = {{"ReduceSum", 0.0}, {"ReduceProd", 1.0}, {"ReduceMax", -INFINITY},
                                        {"ReduceMin", INFINITY}, {"ReduceL2", 0.0}, {"ReduceLogSumExp", -INFINITY},
                                        {"ReduceMean", NAN}};
  for (const auto& [op, v] : want) {
    const Tensor y = run1(node(op, 2, 18), {&x, &ax});
    expect_near(y, {2, 1, 3}, std::vector<double>(6, v), op + " over an empty axis");
  }
  const Tensor bad = Tensor::i64({1}, {3});
  EXPECT_HAS(error_of([&] { run1(node("ReduceSum", 2, 13), {&x, &bad}); }), "axis 3 is out of range");
  const Tensor xi(DType::i64, Shape{2, 2});
  EXPECT_HAS(error_of([&] { run1(node("ReduceMean", 1, 17), {&xi}); }), "expected float32");
  EXPECT_HAS(error_of([&] { node("ReduceMean", 1, 18, [](onnx::NodeProto& q) { attr_ints(q, "axes", {0}); }); }),
             "axes");
}

// Rows of a batch are independent and the bits do not depend on threads.
TEST(OpsReduce, BitwiseIndependentOfBatchAndThreads) {
  Rng rng;
  SEED_TRACE(rng);
  const int64_t B = 9, S = 37, H = 130;
  const Tensor x = rand_tensor(rng, DType::f32, {B, S, H});
  for (const std::string op : kReduceOps)
    for (const std::vector<int64_t>& axes : std::vector<std::vector<int64_t>>{{1}, {-1}, {1, 2}}) {
      const Tensor at = Tensor::i64({static_cast<int64_t>(axes.size())}, axes);
      const Node n = node(op, 2, 18);
      const Tensor ref = run1(n, {&x, &at}, 1);
      expect_bits(run1(n, {&x, &at}, 4), ref, op + " 4 threads");
      const int64_t row = S * H, out_row = ref.numel() / B;
      for (int64_t b : {int64_t{0}, B - 1}) {
        Tensor xb(DType::f32, {1, S, H});
        std::memcpy(xb.raw(), x.data<float>() + b * row, static_cast<size_t>(row) * sizeof(float));
        const Tensor yb = run1(n, {&xb, &at}, 3);
        ASSERT_EQ(0, std::memcmp(yb.raw(), ref.data<float>() + b * out_row, static_cast<size_t>(out_row) * 4))
            << op << " row " << b;
      }
    }
}

// ---------------------------------------------------------------- ArgMax / ArgMin

TEST(OpsArg, TiesSelectLastIndexKeepdimsNegativeAxis) {
  Rng rng;
  SEED_TRACE(rng);
  for (const std::string op : {"ArgMax", "ArgMin"})
    for (DType t : {DType::f32, DType::i32, DType::i64})
      for (int rep = 0; rep < 20; ++rep) {
        const size_t rank = static_cast<size_t>(rand_int(rng, 1, 4));
        const Shape s = rand_shape(rng, rank, 1, 5);
        const Tensor x = rand_tensor(rng, t, s, true);  // few distinct values: many ties
        const int64_t r = static_cast<int64_t>(rank), axis = rand_int(rng, -r, r - 1);
        const size_t ax = static_cast<size_t>(axis < 0 ? axis + r : axis);
        const bool keep = rand_int(rng, 0, 1), last = rand_int(rng, 0, 1);
        const Node n = node(op, 1, 13, [&](onnx::NodeProto& p) {
          attr_i(p, "axis", axis);
          attr_i(p, "keepdims", keep);
          attr_i(p, "select_last_index", last);
        });
        const Tensor y = run1(n, {&x});
        Shape ws = s;
        if (keep) ws[ax] = 1;
        else ws.erase(ws.begin() + static_cast<std::ptrdiff_t>(ax));
        Shape red = s;
        red[ax] = 1;
        std::vector<double> want;
        for (int64_t e = 0; e < shape_numel(red); ++e) {
          std::vector<int64_t> i = unravel(e, red);
          int64_t best = 0;
          double bv = 0;
          for (int64_t j = 0; j < s[ax]; ++j) {
            i[ax] = j;
            const double v = x.double_at(ravel(i, s));
            const bool better = j == 0 || (op == "ArgMax" ? v > bv : v < bv) || (last && v == bv);
            if (better) best = j, bv = v;
          }
          want.push_back(static_cast<double>(best));
        }
        ASSERT_EQ(y.dtype, DType::i64);
        expect_near(y, ws, want, op + " " + shape_str(s) + " axis " + std::to_string(axis) + " last " + std::to_string(last));
      }
  // Explicit ties.
  const Tensor x = Tensor::f32({1, 5}, {1, 3, 3, 0, 3});
  EXPECT_EQ(run1(node("ArgMax", 1, 13, [](onnx::NodeProto& p) { attr_i(p, "axis", 1); }), {&x}).int_at(0), 1);
  EXPECT_EQ(run1(node("ArgMax", 1, 13,
                      [](onnx::NodeProto& p) {
                        attr_i(p, "axis", 1);
                        attr_i(p, "select_last_index", 1);
                      }),
                 {&x})
                .int_at(0),
            4);
}

// ---------------------------------------------------------------- TopK

TEST(OpsTopK, LargestSmallestTiesAxes) {
  Rng rng;
  SEED_TRACE(rng);
  for (DType t : {DType::f32, DType::i64, DType::i32})
    for (bool largest : {true, false})
      for (int rep = 0; rep < 15; ++rep) {
        const size_t rank = static_cast<size_t>(rand_int(rng, 1, 3));
        const Shape s = rand_shape(rng, rank, 1, 6);
        const Tensor x = rand_tensor(rng, t, s, true);
        const int64_t r = static_cast<int64_t>(rank), axis = rand_int(rng, -r, r - 1);
        const size_t ax = static_cast<size_t>(axis < 0 ? axis + r : axis);
        const int64_t k = rand_int(rng, 0, s[ax]);
        const Node n = node("TopK", 2, 11,
                            [&](onnx::NodeProto& p) {
                              attr_i(p, "axis", axis);
                              attr_i(p, "largest", largest);
                            },
                            2);
        const Tensor kt = Tensor::i64({1}, {k});
        const std::vector<Tensor> y = run(n, {&x, &kt});
        Shape ws = s;
        ws[ax] = k;
        std::vector<double> wv(static_cast<size_t>(shape_numel(ws))), wi(wv.size());
        Shape lines = s;
        lines[ax] = 1;
        for (int64_t e = 0; e < shape_numel(lines); ++e) {
          std::vector<int64_t> i = unravel(e, lines);
          std::vector<std::pair<double, int64_t>> v;
          for (int64_t j = 0; j < s[ax]; ++j) {
            i[ax] = j;
            v.push_back({x.double_at(ravel(i, s)), j});
          }
          std::stable_sort(v.begin(), v.end(), [&](const auto& a, const auto& b) {
            return largest ? a.first > b.first : a.first < b.first;
          });
          for (int64_t j = 0; j < k; ++j) {
            i[ax] = j;
            wv[static_cast<size_t>(ravel(i, ws))] = v[static_cast<size_t>(j)].first;
            wi[static_cast<size_t>(ravel(i, ws))] = static_cast<double>(v[static_cast<size_t>(j)].second);
          }
        }
        const std::string what = std::string("TopK ") + dtype_name(t) + " " + shape_str(s) + " axis " +
                                 std::to_string(axis) + " k " + std::to_string(k) + " largest " + std::to_string(largest);
        ASSERT_EQ(y[0].dtype, t);
        ASSERT_EQ(y[1].dtype, DType::i64);
        expect_near(y[0], ws, wv, what + " values");
        expect_near(y[1], ws, wi, what + " indices");
      }
  // Ties: lower index first, as onnxruntime.
  const Tensor x = Tensor::f32({6}, {2, 5, 5, 1, 5, 1});
  const Tensor k3 = Tensor::i64({1}, {3});
  auto y = run(node("TopK", 2, 11, nullptr, 2), {&x, &k3});
  EXPECT_EQ(y[1].ints(), (std::vector<int64_t>{1, 2, 4}));
  y = run(node("TopK", 2, 11, [](onnx::NodeProto& p) { attr_i(p, "largest", 0); }, 2), {&x, &k3});
  EXPECT_EQ(y[1].ints(), (std::vector<int64_t>{3, 5, 0}));
  // Opset 1-9: k attribute.
  y = run(node("TopK", 1, 9, [](onnx::NodeProto& p) { attr_i(p, "k", 2); }, 2), {&x});
  EXPECT_EQ(y[1].ints(), (std::vector<int64_t>{1, 2}));
  const Tensor k9 = Tensor::i64({1}, {7});
  EXPECT_HAS(error_of([&] { run(node("TopK", 2, 11, nullptr, 2), {&x, &k9}); }), "k = 7 is out of range");
}

// ---------------------------------------------------------------- CumSum

TEST(OpsCumSum, ExclusiveReverseAxes) {
  Rng rng;
  SEED_TRACE(rng);
  for (DType t : {DType::f32, DType::i32, DType::i64})
    for (bool excl : {false, true})
      for (bool rev : {false, true})
        for (int rep = 0; rep < 6; ++rep) {
          const size_t rank = static_cast<size_t>(rand_int(rng, 1, 4));
          const Shape s = rand_shape(rng, rank, 1, 5);
          const Tensor x = rand_tensor(rng, t, s);
          const int64_t r = static_cast<int64_t>(rank), axis = rand_int(rng, -r, r - 1);
          const size_t ax = static_cast<size_t>(axis < 0 ? axis + r : axis);
          const Tensor at = rand_int(rng, 0, 1) ? Tensor::i64({}, {axis}) : Tensor::of(DType::i32, {1}, std::vector<int32_t>{static_cast<int32_t>(axis)});
          const Node n = node("CumSum", 2, 14, [&](onnx::NodeProto& p) {
            attr_i(p, "exclusive", excl);
            attr_i(p, "reverse", rev);
          });
          std::vector<double> want(static_cast<size_t>(x.numel()));
          for (int64_t e = 0; e < x.numel(); ++e) {
            std::vector<int64_t> i = unravel(e, s);
            const int64_t at_j = i[ax];
            double sum = 0;
            for (int64_t j = 0; j < s[ax]; ++j) {
              const bool take = rev ? (excl ? j > at_j : j >= at_j) : (excl ? j < at_j : j <= at_j);
              i[ax] = j;
              if (take) sum += x.double_at(ravel(i, s));
            }
            want[static_cast<size_t>(e)] = sum;
          }
          expect_near(run1(n, {&x, &at}), s, want,
                      std::string("CumSum ") + dtype_name(t) + " " + shape_str(s) + " axis " + std::to_string(axis) +
                          " exclusive " + std::to_string(excl) + " reverse " + std::to_string(rev));
        }
}

// ---------------------------------------------------------------- GatherElements / GatherND

TEST(OpsGatherElements, AxesNegativeIndicesIndexTypes) {
  Rng rng;
  SEED_TRACE(rng);
  for (DType it : {DType::i64, DType::i32})
    for (int rep = 0; rep < 30; ++rep) {
      const size_t rank = static_cast<size_t>(rand_int(rng, 1, 4));
      const Shape s = rand_shape(rng, rank, 1, 5);
      const int64_t r = static_cast<int64_t>(rank), axis = rand_int(rng, -r, r - 1);
      const size_t ax = static_cast<size_t>(axis < 0 ? axis + r : axis);
      Shape is = s;
      for (size_t d = 0; d < rank; ++d) is[d] = d == ax ? rand_int(rng, 0, 6) : rand_int(rng, 1, s[d]);
      const Tensor x = rand_tensor(rng, DType::f32, s);
      Tensor ind(it, is);
      for (int64_t e = 0; e < ind.numel(); ++e) {
        const int64_t v = rand_int(rng, -s[ax], s[ax] - 1);
        if (it == DType::i64) ind.data<int64_t>()[e] = v;
        else ind.data<int32_t>()[e] = static_cast<int32_t>(v);
      }
      const Node n = node("GatherElements", 2, 13, [&](onnx::NodeProto& p) { attr_i(p, "axis", axis); });
      std::vector<double> want;
      for (int64_t e = 0; e < ind.numel(); ++e) {
        std::vector<int64_t> i = unravel(e, is);
        int64_t v = ind.int_at(e);
        i[ax] = v < 0 ? v + s[ax] : v;
        want.push_back(x.double_at(ravel(i, s)));
      }
      expect_near(run1(n, {&x, &ind}), is, want, "GatherElements " + shape_str(s) + " axis " + std::to_string(axis), 0);
    }
  const Tensor x = Tensor::f32({2, 2}, {1, 2, 3, 4});
  const Tensor bad = Tensor::i64({1, 2}, {0, 2});
  EXPECT_HAS(error_of([&] { run1(node("GatherElements", 2, 13), {&x, &bad}); }), "index 2 (element 1");
}

TEST(OpsGatherND, BatchDimsNegativeIndices) {
  Rng rng;
  SEED_TRACE(rng);
  for (int64_t b = 0; b <= 2; ++b)
    for (int rep = 0; rep < 15; ++rep) {
      const size_t r = static_cast<size_t>(rand_int(rng, b + 1, 4));
      const Shape s = rand_shape(rng, r, 1, 4);
      const int64_t m = rand_int(rng, 1, static_cast<int64_t>(r) - b);
      Shape is(s.begin(), s.begin() + b);
      const int64_t extra = rand_int(rng, 0, 2);
      for (int64_t q = 0; q < extra; ++q) is.push_back(rand_int(rng, 1, 3));
      is.push_back(m);
      Tensor ind(DType::i64, is);
      for (int64_t e = 0; e < ind.numel(); ++e) {
        const int64_t dim = s[static_cast<size_t>(b + e % m)];
        ind.data<int64_t>()[e] = rand_int(rng, -dim, dim - 1);
      }
      const Tensor x = rand_tensor(rng, DType::i64, s);
      const Node n = node("GatherND", 2, 13, [&](onnx::NodeProto& p) { attr_i(p, "batch_dims", b); });
      Shape ws(is.begin(), is.end() - 1);
      ws.insert(ws.end(), s.begin() + b + m, s.end());
      std::vector<double> want;
      for (int64_t e = 0; e < shape_numel(ws); ++e) {
        const std::vector<int64_t> o = unravel(e, ws);
        // o = batch..., index dims..., trailing data dims
        std::vector<int64_t> ii(o.begin(), o.begin() + static_cast<std::ptrdiff_t>(is.size() - 1));
        std::vector<int64_t> src(o.begin(), o.begin() + b);
        for (int64_t j = 0; j < m; ++j) {
          ii.push_back(j);
          int64_t v = ind.int_at(ravel(ii, is));
          ii.pop_back();
          const int64_t dim = s[static_cast<size_t>(b + j)];
          src.push_back(v < 0 ? v + dim : v);
        }
        src.insert(src.end(), o.begin() + static_cast<std::ptrdiff_t>(is.size() - 1), o.end());
        want.push_back(x.double_at(ravel(src, s)));
      }
      expect_near(run1(n, {&x, &ind}), ws, want,
                  "GatherND " + shape_str(s) + " indices " + shape_str(is) + " batch_dims " + std::to_string(b));
    }
  const Tensor x = Tensor::f32({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor i3 = Tensor::i64({1, 3}, {0, 0, 0});
  EXPECT_HAS(error_of([&] { run1(node("GatherND", 2, 13), {&x, &i3}); }), "expected 1 to 2");
  const Tensor oob = Tensor::i64({1, 2}, {1, -4});
  EXPECT_HAS(error_of([&] { run1(node("GatherND", 2, 13), {&x, &oob}); }), "index -4");
}

// ---------------------------------------------------------------- Split

// Reference: output o holds the slab [start_o, start_o + sizes[o]) along axis.
void check_split(const std::vector<Tensor>& y, const Tensor& x, size_t ax, const std::vector<int64_t>& sizes,
                 const std::string& what) {
  ASSERT_EQ(y.size(), sizes.size()) << what;
  int64_t start = 0;
  for (size_t o = 0; o < y.size(); ++o) {
    Shape ws = x.shape;
    ws[ax] = sizes[o];
    std::vector<double> want;
    for (int64_t e = 0; e < shape_numel(ws); ++e) {
      std::vector<int64_t> i = unravel(e, ws);
      i[ax] += start;
      want.push_back(x.double_at(ravel(i, x.shape)));
    }
    expect_near(y[o], ws, want, what + " output " + std::to_string(o), 0);
    start += sizes[o];
  }
}

TEST(OpsSplit, AttributeInputAndNumOutputs) {
  Rng rng;
  SEED_TRACE(rng);
  const Shape s = {3, 7, 2};
  const Tensor x = rand_tensor(rng, DType::f32, s);
  // Opset 11: split attribute; negative axis.
  check_split(run(node("Split", 1, 11,
                       [](onnx::NodeProto& p) {
                         attr_i(p, "axis", -2);
                         attr_ints(p, "split", {2, 0, 5});
                       },
                       3),
                  {&x}),
              x, 1, {2, 0, 5}, "opset 11 attribute");
  // Equal parts without sizes.
  check_split(run(node("Split", 1, 11, nullptr, 3), {&x}), x, 0, {1, 1, 1}, "opset 11 equal");
  // Opset 13: split input.
  const Tensor sp = Tensor::i64({2}, {3, 4});
  check_split(run(node("Split", 2, 13, [](onnx::NodeProto& p) { attr_i(p, "axis", 1); }, 2), {&x, &sp}), x, 1, {3, 4},
              "opset 13 input");
  // Opset 18: num_outputs, uneven: ceil(7 / 3) = 3 -> 3, 3, 1; 7 into 4 -> 2, 2, 2, 1.
  for (int64_t n : {3, 4, 7}) {
    std::vector<int64_t> want;
    const int64_t chunk = (7 + n - 1) / n;
    for (int64_t left = 7, k = 0; k < n; ++k) want.push_back(std::min(chunk, left)), left -= want.back();
    check_split(run(node("Split", 1, 18,
                         [&](onnx::NodeProto& p) {
                           attr_i(p, "axis", 1);
                           attr_i(p, "num_outputs", n);
                         },
                         static_cast<size_t>(n)),
                    {&x}),
                x, 1, want, "opset 18 num_outputs " + std::to_string(n));
  }
  // Errors.
  const Tensor bad = Tensor::i64({2}, {3, 3});
  EXPECT_HAS(error_of([&] { run(node("Split", 2, 13, [](onnx::NodeProto& p) { attr_i(p, "axis", 1); }, 2), {&x, &bad}); }),
             "add up to 6");
  EXPECT_HAS(error_of([&] { run(node("Split", 1, 13, [](onnx::NodeProto& p) { attr_i(p, "axis", 1); }, 2), {&x}); }),
             "does not split evenly");
  EXPECT_HAS(error_of([&] { node("Split", 1, 18, [](onnx::NodeProto& p) { attr_i(p, "num_outputs", 3); }, 2); }),
             "num_outputs is 3 but the node has 2 outputs");
}

// ---------------------------------------------------------------- Tile / Trilu

TEST(OpsTile, RandomRepeats) {
  Rng rng;
  SEED_TRACE(rng);
  for (int rep = 0; rep < 20; ++rep) {
    const size_t rank = static_cast<size_t>(rand_int(rng, 1, 4));
    const Shape s = rand_shape(rng, rank, 1, 4);
    std::vector<int64_t> reps;
    for (size_t d = 0; d < rank; ++d) reps.push_back(rand_int(rng, rep == 0 && d == 0 ? 0 : 1, 3));
    const Tensor x = rand_tensor(rng, DType::i32, s);
    const Tensor rt = Tensor::i64({static_cast<int64_t>(rank)}, reps);
    Shape ws = s;
    for (size_t d = 0; d < rank; ++d) ws[d] *= reps[d];
    std::vector<double> want;
    for (int64_t e = 0; e < shape_numel(ws); ++e) {
      std::vector<int64_t> i = unravel(e, ws);
      for (size_t d = 0; d < rank; ++d) i[d] %= s[d];
      want.push_back(x.double_at(ravel(i, s)));
    }
    expect_near(run1(node("Tile", 2, 13), {&x, &rt}), ws, want, "Tile " + shape_str(s) + " x " + shape_str(reps));
  }
}

TEST(OpsTrilu, UpperLowerWithK) {
  Rng rng;
  SEED_TRACE(rng);
  for (bool upper : {true, false})
    for (int64_t k : {-3, -1, 0, 1, 2, 5}) {
      const Shape s = rand_shape(rng, static_cast<size_t>(rand_int(rng, 2, 4)), 1, 5);
      const Tensor x = rand_tensor(rng, DType::f32, s);
      const Tensor kt = Tensor::i64({}, {k});
      const Node n = node("Trilu", 2, 14, [&](onnx::NodeProto& p) { attr_i(p, "upper", upper); });
      std::vector<double> want;
      for (int64_t e = 0; e < x.numel(); ++e) {
        const std::vector<int64_t> i = unravel(e, s);
        const int64_t r = i[s.size() - 2], c = i[s.size() - 1];
        want.push_back((upper ? c - r >= k : c - r <= k) ? x.double_at(e) : 0.0);
      }
      expect_near(run1(n, {&x, &kt}), s, want,
                  "Trilu " + shape_str(s) + " upper " + std::to_string(upper) + " k " + std::to_string(k), 0);
    }
  // k absent: 0.
  const Tensor x = Tensor::f32({2, 2}, {1, 2, 3, 4});
  expect_near(run1(node("Trilu", 1, 14), {&x}), {2, 2}, {1, 2, 0, 4}, "Trilu default");
  expect_near(run1(node("Trilu", 1, 14, [](onnx::NodeProto& p) { attr_i(p, "upper", 0); }), {&x}), {2, 2}, {1, 0, 3, 4},
              "Tril default");
}

// ---------------------------------------------------------------- Einsum

// Naive reference for explicit letter-only equations: every assignment of every
// label, out[out labels] += prod of the operands' elements.
std::vector<double> einsum_ref(const std::string& eq, const std::vector<const Tensor*>& in, Shape& out_shape) {
  const size_t arrow = eq.find("->");
  std::vector<std::string> terms;
  for (size_t st = 0;;) {
    const size_t c = eq.find(',', st);
    terms.push_back(eq.substr(st, (c == std::string::npos || c > arrow ? arrow : c) - st));
    if (c == std::string::npos || c > arrow) break;
    st = c + 1;
  }
  const std::string out = eq.substr(arrow + 2);
  std::map<char, int64_t> size;
  for (size_t k = 0; k < terms.size(); ++k)
    for (size_t d = 0; d < terms[k].size(); ++d) {
      const int64_t s = in[k]->shape[d];
      int64_t& cur = size[terms[k][d]];
      cur = std::max(cur, s);  // 1 broadcasts
    }
  std::string labels;
  Shape all;
  for (auto& [c, s] : size) labels += c, all.push_back(s);
  out_shape.clear();
  for (char c : out) out_shape.push_back(size[c]);
  std::vector<double> y(static_cast<size_t>(shape_numel(out_shape)), 0.0);
  for (int64_t e = 0; e < shape_numel(all); ++e) {
    const std::vector<int64_t> i = unravel(e, all);
    auto at = [&](char c) { return i[labels.find(c)]; };
    double p = 1;
    for (size_t k = 0; k < terms.size(); ++k) {
      std::vector<int64_t> ii;
      for (size_t d = 0; d < terms[k].size(); ++d) ii.push_back(in[k]->shape[d] == 1 ? 0 : at(terms[k][d]));
      p *= in[k]->double_at(ravel(ii, in[k]->shape));
    }
    std::vector<int64_t> oi;
    for (char c : out) oi.push_back(at(c));
    y[static_cast<size_t>(ravel(oi, out_shape))] += p;
  }
  return y;
}

Node einsum_node(const std::string& eq, size_t n_in) {
  return node("Einsum", n_in, 13, [&](onnx::NodeProto& p) { attr_s(p, "equation", eq); });
}

TEST(OpsEinsum, FormsAgainstNaiveLoop) {
  Rng rng;
  SEED_TRACE(rng);
  struct Form {
    std::string eq, ref;  // the equation run, and the same contraction in explicit letters for the reference
    std::vector<Shape> shapes;
  };
  const int64_t b = rand_int(rng, 1, 3), h = rand_int(rng, 1, 3), i = rand_int(rng, 1, 6), j = rand_int(rng, 1, 40),
                k = rand_int(rng, 1, 9), d = rand_int(rng, 1, 20);
  const std::vector<Form> forms = {
      {"bij,bjk->bik", "bij,bjk->bik", {{b, i, j}, {b, j, k}}},
      {"bhid,bhjd->bhij", "bhid,bhjd->bhij", {{b, h, i, d}, {b, h, j, d}}},
      {"bhij,bhjd->bhid", "bhij,bhjd->bhid", {{b, h, i, j}, {b, h, j, d}}},
      {"ij,jk->ik", "ij,jk->ik", {{i, j}, {j, k}}},
      {"ij,jk", "ij,jk->ik", {{i, j}, {j, k}}},  // implicit output
      {"bi,bi->b", "bi,bi->b", {{b, i}, {b, i}}},
      {"...ij,...jk->...ik", "xyij,xyjk->xyik", {{b, h, i, j}, {b, h, j, k}}},
      {"...ij,...jk->...ik", "xyij,xyjk->xyik", {{b, 1, i, j}, {1, h, j, k}}},  // "..." broadcast
      {"...ij,...jk->...ik", "yij,xyjk->xyik", {{h, i, j}, {b, h, j, k}}},     // "..." of different ranks
      {"ij->ji", "ij->ji", {{i, j}}},
      {"bij->bi", "bij->bi", {{b, i, j}}},
      {"bij->bji", "bij->bji", {{b, i, j}}},
      {"ij->", "ij->", {{i, j}}},
      {"bij,bkj->bik", "bij,bkj->bik", {{b, i, j}, {b, k, j}}},
      {"bi,ij->bj", "bi,ij->bj", {{b, i}, {i, j}}},
      {"bij,jk->bki", "bij,jk->bki", {{b, i, j}, {j, k}}},
      {"bhid,hd->bhi", "bhid,hd->bhi", {{b, h, i, d}, {h, d}}},
      {"ijk,k->i", "ijk,k->i", {{i, j, k}, {k}}},  // j summed in A alone
      {"i,j->ij", "i,j->ij", {{i}, {j}}},          // outer product
  };
  for (const Form& f : forms) {
    std::vector<Tensor> xs;
    for (const Shape& s : f.shapes) xs.push_back(rand_tensor(rng, DType::f32, s));
    std::vector<const Tensor*> in;
    for (const Tensor& t : xs) in.push_back(&t);
    Shape ws;
    const std::vector<double> want = einsum_ref(f.ref, in, ws);
    const Node n = einsum_node(f.eq, in.size());
    const Tensor y = run1(n, in);
    std::string shapes;
    for (const Shape& s : f.shapes) shapes += shape_str(s);
    expect_near(y, ws, want, "Einsum " + f.eq + " " + shapes, 1e-4);
    expect_bits(run1(n, in, 3), y, "Einsum " + f.eq + " 3 threads");
  }
}

TEST(OpsEinsum, BatchRowsIndependent) {
  Rng rng;
  SEED_TRACE(rng);
  const int64_t B = 7, H = 2, S = 19, D = 24;
  const Tensor q = rand_tensor(rng, DType::f32, {B, H, S, D}), kk = rand_tensor(rng, DType::f32, {B, H, S, D});
  const Node n = einsum_node("bhid,bhjd->bhij", 2);
  const Tensor y = run1(n, {&q, &kk}, 2);
  const int64_t in_row = H * S * D, out_row = H * S * S;
  for (int64_t b : {int64_t{0}, int64_t{3}}) {
    Tensor qb(DType::f32, {1, H, S, D}), kb(DType::f32, {1, H, S, D});
    std::memcpy(qb.raw(), q.data<float>() + b * in_row, static_cast<size_t>(in_row) * 4);
    std::memcpy(kb.raw(), kk.data<float>() + b * in_row, static_cast<size_t>(in_row) * 4);
    const Tensor yb = run1(n, {&qb, &kb}, 1);
    ASSERT_EQ(0, std::memcmp(yb.raw(), y.data<float>() + b * out_row, static_cast<size_t>(out_row) * 4)) << "row " << b;
  }
}

TEST(OpsEinsum, RefusedFormsNameTheEquation) {
  EXPECT_HAS(error_of([] { einsum_node("ii->i", 1); }), "equation \"ii->i\" is not supported: label 'i' repeated");
  EXPECT_HAS(error_of([] { einsum_node("ij,jk,kl->il", 3); }), "3 operands (at most 2");
  EXPECT_HAS(error_of([] { einsum_node("i*j->ij", 1); }), "character '*'");
  EXPECT_HAS(error_of([] { einsum_node("ij->k", 1); }), "output label 'k' appears in no input");
  EXPECT_HAS(error_of([] { einsum_node("ij,jk->ik", 1); }), "2 operand(s) but the node has 1 input");
  const Node n = einsum_node("ij,jk->ik", 2);
  const Tensor a(DType::f32, Shape{2, 3}), b(DType::f32, Shape{4, 5});
  EXPECT_HAS(error_of([&] { run1(n, {&a, &b}); }), "equation \"ij,jk->ik\": dimension of size 4 for label 'j'");
}

// ---------------------------------------------------------------- multi-output end to end

// Split (opset 13, split input) and TopK (values + int64 indices) as graph
// outputs through the CPU backend, for several batch sizes and threads.
TEST(MultiOutputNodes, SplitAndTopKThroughTheCpuBackend) {
  Rng rng;
  SEED_TRACE(rng);
  test::OnnxModel m(13);
  m.input("x", {-1, 7});
  m.init_i64("sizes", {3}, {2, 4, 1});
  m.init_i64("k", {1}, {3});
  m.node("Split", {"x", "sizes"}, {"a", "b", "c"}, "split");
  test::OnnxModel::attr_i(m.g->mutable_node(0), "axis", 1);
  m.node("Relu", {"b"}, {"rb"});
  m.node("TopK", {"x", "k"}, {"tv", "ti"}, "topk");
  m.output("a");
  m.output("rb");
  m.output("c");
  m.output("tv");
  m.output("ti");
  m.g->mutable_output(4)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
  const Graph g = m.load("split.onnx");
  const int64_t rows = 11;
  const std::vector<float> x = rng.uniform({rows, 7});
  for (int threads : {1, 2})
    for (int64_t batch : {int64_t{1}, int64_t{4}, rows}) {
      auto be = make_cpu_backend(threads);
      be->prepare(g, {{7}}, batch);
      std::vector<float> a(rows * 2), rb(rows * 4), c(rows), tv(rows * 3);
      std::vector<int64_t> ti(rows * 3);
      for (int64_t r0 = 0; r0 < rows; r0 += batch) {
        const int64_t n = std::min(batch, rows - r0);
        be->run(n, {x.data() + r0 * 7},
                {a.data() + r0 * 2, rb.data() + r0 * 4, c.data() + r0, tv.data() + r0 * 3, ti.data() + r0 * 3});
      }
      for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x.data() + r * 7;
        for (int j = 0; j < 2; ++j) ASSERT_EQ(a[r * 2 + j], xr[j]);
        for (int j = 0; j < 4; ++j) ASSERT_EQ(rb[r * 4 + j], std::max(xr[2 + j], 0.0f));
        ASSERT_EQ(c[r], xr[6]);
        std::vector<int64_t> order(7);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) { return xr[p] > xr[q]; });
        for (int j = 0; j < 3; ++j) {
          ASSERT_EQ(ti[r * 3 + j], order[j]) << "row " << r << " batch " << batch << " threads " << threads;
          ASSERT_EQ(tv[r * 3 + j], xr[order[j]]);
        }
      }
    }
}

// A multi-output node computed on the host (shape arithmetic) whose output 0
// is left unused: the plan computes it and the backend does not run it.
TEST(MultiOutputNodes, HostSplitWithUnusedFirstOutput) {
  Rng rng;
  SEED_TRACE(rng);
  test::OnnxModel m(13);
  m.input("x", {-1, 2, 3});
  m.init_i64("ones", {3}, {1, 1, 1});
  m.init_i64("minus1", {1}, {-1});
  m.node("Shape", {"x"}, {"s"});
  m.node("Split", {"s", "ones"}, {"", "d1", "d2"}, "split_shape");
  m.node("Concat", {"minus1", "d2", "d1"}, {"target"});
  test::OnnxModel::attr_i(m.g->mutable_node(2), "axis", 0);
  m.node("Reshape", {"x", "target"}, {"y"});
  m.output("y");
  const Graph g = m.load("host_split.onnx");
  const std::vector<float> x = rng.uniform({5, 2, 3});
  auto be = make_cpu_backend(2);
  be->prepare(g, {{2, 3}}, 5);
  std::vector<float> y(30, -1.0f);
  be->run(5, {x.data()}, {y.data()});
  EXPECT_EQ(y, x);
  EXPECT_EQ(g.plan({{5, 2, 3}}).shapes[static_cast<size_t>(g.outputs[0])], (Shape{5, 3, 2}));
}

}  // namespace
}  // namespace mgi
