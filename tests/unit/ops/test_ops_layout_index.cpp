// The layout, shape, index, logic and cast ops (layout.cpp, shape.cpp,
// index.cpp, logic.cpp, cast.cpp) through run_cpu_node, on fresh random
// inputs, against reference loops written here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "cast.hpp"
#include "error.hpp"
#include "error_test_util.hpp"
#include "index_test_util.hpp"
#include "graph.hpp"
#include "onnx_attrs.hpp"
#include "op_registry.hpp"
#include "test_rng.hpp"

namespace mgi {
namespace {

using test::Rng;

const std::string kSource = "t.onnx";

constexpr DType kAllTypes[] = {DType::f32, DType::f16, DType::bf16, DType::i64,
                               DType::i32, DType::i8,  DType::u8,   DType::b8};

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

// A node of `op` for `opset` with inputs 0..n_in-1, its attributes set by
// `attrs` and parsed by the op's definition, as the loader does.
Node node(const std::string& op, size_t n_in, int64_t opset = 17,
          const std::function<void(onnx::NodeProto&)>& attrs = nullptr) {
  Node n;
  n.def = OpRegistry::get().find("", op, opset);
  if (!n.def) throw ModelError("no op " + op);
  n.name = "t_" + op;
  n.op_type = op;
  n.opset = opset;
  for (size_t k = 0; k < n_in; ++k) n.inputs.push_back(static_cast<int>(k));
  n.outputs = {static_cast<int>(n_in)};
  onnx::NodeProto proto;
  proto.set_op_type(op);
  if (attrs) attrs(proto);
  if (n.def->parse) n.def->parse(OnnxNode(proto, n.name, kSource), n);
  return n;
}

Tensor run1(const Node& n, const std::vector<const Tensor*>& in) { return run_cpu_node(n, in, kSource).at(0); }

using test::error_of;

// Element k of t set from an integer value (exact in every type for the values used).
void set_int(Tensor& t, int64_t k, int64_t v) {
  switch (t.dtype) {
    case DType::f32: t.data<float>()[k] = static_cast<float>(v); break;
    case DType::f16: t.data<uint16_t>()[k] = float_to_half(static_cast<float>(v)); break;
    case DType::bf16: t.data<uint16_t>()[k] = float_to_bf16(static_cast<float>(v)); break;
    case DType::i64: t.data<int64_t>()[k] = v; break;
    case DType::i32: t.data<int32_t>()[k] = static_cast<int32_t>(v); break;
    case DType::i8: t.data<int8_t>()[k] = static_cast<int8_t>(v); break;
    case DType::u8: t.data<uint8_t>()[k] = static_cast<uint8_t>(v); break;
    case DType::b8: t.data<uint8_t>()[k] = v != 0; break;
  }
}
Tensor of_ints(DType t, Shape s, const std::vector<int64_t>& v) {
  Tensor r(t, std::move(s));
  EXPECT_EQ(static_cast<int64_t>(v.size()), r.numel());
  for (size_t k = 0; k < v.size(); ++k) set_int(r, static_cast<int64_t>(k), v[k]);
  return r;
}

// Random values of type t: floats in [-4, 4), small integers, 0/1 for bool.
Tensor rand_tensor(Rng& rng, DType t, const Shape& s) {
  Tensor r(t, s);
  std::uniform_int_distribution<int> small(-60, 60), byte(0, 255), bit(0, 1);
  std::uniform_real_distribution<float> f(-4.0f, 4.0f);
  for (int64_t k = 0; k < r.numel(); ++k) {
    switch (t) {
      case DType::f32: r.data<float>()[k] = f(rng.gen); break;
      case DType::f16: r.data<uint16_t>()[k] = float_to_half(f(rng.gen)); break;
      case DType::bf16: r.data<uint16_t>()[k] = float_to_bf16(f(rng.gen)); break;
      case DType::u8: r.data<uint8_t>()[k] = static_cast<uint8_t>(byte(rng.gen)); break;
      case DType::b8: r.data<uint8_t>()[k] = static_cast<uint8_t>(bit(rng.gen)); break;
      default: set_int(r, k, small(rng.gen));
    }
  }
  return r;
}

int64_t rand_int(Rng& rng, int64_t lo, int64_t hi) {  // [lo, hi]
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng.gen);
}

using test::ravel;
using test::unravel;
// Offset in a tensor of shape `in` of the element that broadcasts to output index idx.
int64_t bcast_offset(const Shape& in, const std::vector<int64_t>& idx) {
  std::vector<int64_t> j(in.size());
  for (size_t k = 0; k < in.size(); ++k) {
    const size_t o = idx.size() - in.size() + k;
    j[k] = in[k] == 1 ? 0 : idx[o];
  }
  return ravel(j, in);
}

const char* elem(const Tensor& t, int64_t k) {
  return static_cast<const char*>(t.raw()) + static_cast<size_t>(k) * dtype_size(t.dtype);
}

// got == want: type, shape and every element's bytes.
void expect_same(const Tensor& got, const Tensor& want, const std::string& what = "") {
  ASSERT_EQ(got.dtype, want.dtype) << what << ": " << dtype_name(got.dtype) << " vs " << dtype_name(want.dtype);
  ASSERT_EQ(got.shape, want.shape) << what << ": " << shape_str(got.shape) << " vs " << shape_str(want.shape);
  const size_t es = dtype_size(got.dtype);
  for (int64_t k = 0; k < got.numel(); ++k)
    if (std::memcmp(elem(got, k), elem(want, k), es) != 0) {
      ADD_FAILURE() << what << ": element " << k << " is " << got.double_at(k) << ", expected " << want.double_at(k);
      return;
    }
}

// ---------------------------------------------------------------- Gather

// Reference: out[pre, idx..., post] = x[pre, wrap(indices[idx...]), post].
Tensor gather_ref(const Tensor& x, const Tensor& ind, int64_t axis) {
  const size_t ax = static_cast<size_t>(axis < 0 ? axis + static_cast<int64_t>(x.shape.size()) : axis);
  Shape s(x.shape.begin(), x.shape.begin() + static_cast<std::ptrdiff_t>(ax));
  s.insert(s.end(), ind.shape.begin(), ind.shape.end());
  s.insert(s.end(), x.shape.begin() + static_cast<std::ptrdiff_t>(ax) + 1, x.shape.end());
  Tensor y(x.dtype, s);
  const size_t es = dtype_size(x.dtype);
  for (int64_t e = 0; e < y.numel(); ++e) {
    const std::vector<int64_t> o = unravel(e, s);
    std::vector<int64_t> i(o.begin() + static_cast<std::ptrdiff_t>(ax),
                           o.begin() + static_cast<std::ptrdiff_t>(ax + ind.shape.size()));
    int64_t v = ind.int_at(ravel(i, ind.shape));
    if (v < 0) v += x.shape[ax];
    std::vector<int64_t> src(o.begin(), o.begin() + static_cast<std::ptrdiff_t>(ax));
    src.push_back(v);
    src.insert(src.end(), o.begin() + static_cast<std::ptrdiff_t>(ax + ind.shape.size()), o.end());
    std::memcpy(static_cast<char*>(y.raw()) + static_cast<size_t>(e) * es, elem(x, ravel(src, x.shape)), es);
  }
  return y;
}

TEST(OpsGather, AxesNegativeIndicesAndIndexTypes) {
  Rng rng;
  SEED_TRACE(rng);
  const Shape xs = {4, 5, 3};
  for (int64_t axis : {0, 1, -1, 2, -3})
    for (DType it : {DType::i64, DType::i32})
      for (DType dt : {DType::f32, DType::i64, DType::f16, DType::u8, DType::b8}) {
        const Tensor x = rand_tensor(rng, dt, xs);
        const int64_t dim = xs[static_cast<size_t>(axis < 0 ? axis + 3 : axis)];
        const Shape is = {rand_int(rng, 0, 3), rand_int(rng, 1, 3)};
        Tensor ind(it, is);
        for (int64_t k = 0; k < ind.numel(); ++k) set_int(ind, k, rand_int(rng, -dim, dim - 1));
        const Node n = node("Gather", 2, 13, [&](onnx::NodeProto& p) { attr_i(p, "axis", axis); });
        expect_same(run1(n, {&x, &ind}), gather_ref(x, ind, axis),
                    "axis " + std::to_string(axis) + " " + dtype_name(dt) + " indices " + dtype_name(it));
      }
}

TEST(OpsGather, EmbeddingRowsScalarIndexAndDefaultAxis) {
  Rng rng;
  SEED_TRACE(rng);
  const Tensor table = rand_tensor(rng, DType::f32, {50, 16});
  Tensor ids(DType::i64, {3, 7});
  for (int64_t k = 0; k < ids.numel(); ++k) set_int(ids, k, rand_int(rng, -50, 49));
  const Node n = node("Gather", 2, 13);  // axis defaults to 0
  EXPECT_EQ(n.axis, 0);
  const Tensor y = run1(n, {&table, &ids});
  EXPECT_EQ(y.shape, (Shape{3, 7, 16}));
  expect_same(y, gather_ref(table, ids, 0));
  const Tensor one = Tensor::i64({}, {-1});  // scalar index: the axis disappears
  const Tensor last = run1(n, {&table, &one});
  EXPECT_EQ(last.shape, (Shape{16}));
  expect_same(last, gather_ref(table, one, 0));
  const Tensor none(DType::i32, {0, 2});  // empty indices
  EXPECT_EQ(run1(n, {&table, &none}).shape, (Shape{0, 2, 16}));
}

TEST(OpsGather, IndexOutOfRangeIsAnError) {
  const Tensor x = Tensor::f32({2, 5}, std::vector<float>(10, 1.0f));
  const Node n = node("Gather", 2, 13, [](onnx::NodeProto& p) { attr_i(p, "axis", 1); });
  for (int64_t bad : {5, -6, 1000}) {
    const Tensor ind = Tensor::i64({3}, {0, bad, 1});
    const std::string msg = error_of([&] { run1(n, {&x, &ind}); });
    EXPECT_HAS(msg, "index " + std::to_string(bad));
    EXPECT_HAS(msg, "out of range for axis 1 of size 5");
    EXPECT_HAS(msg, "-5 to 4");
  }
  const Tensor fl = Tensor::f32({1}, {0.0f});
  EXPECT_HAS(error_of([&] { run1(n, {&x, &fl}); }), "expected int32 or int64");
}

// ---------------------------------------------------------------- Squeeze, Unsqueeze

TEST(OpsSqueeze, BothOpsetForms) {
  Rng rng;
  SEED_TRACE(rng);
  const Tensor x = rand_tensor(rng, DType::i32, {1, 3, 1, 2});
  auto with_shape = [&](Shape s) {
    Tensor r = x;
    r.shape = std::move(s);
    return r;
  };
  // opset 11: axes attribute
  expect_same(run1(node("Squeeze", 1, 11, [](onnx::NodeProto& p) { attr_ints(p, "axes", {0, -2}); }), {&x}),
              with_shape({3, 2}));
  expect_same(run1(node("Squeeze", 1, 11), {&x}), with_shape({3, 2}));  // no axes: every 1
  expect_same(run1(node("Unsqueeze", 1, 11, [](onnx::NodeProto& p) { attr_ints(p, "axes", {0, -1}); }), {&x}),
              with_shape({1, 1, 3, 1, 2, 1}));
  EXPECT_HAS(error_of([] { node("Unsqueeze", 1, 11); }), "'axes'");
  // opset 13: axes input
  const Tensor ax = Tensor::i64({1}, {2});
  expect_same(run1(node("Squeeze", 2, 13), {&x, &ax}), with_shape({1, 3, 2}));
  expect_same(run1(node("Squeeze", 1, 13), {&x}), with_shape({3, 2}));
  const Tensor uax = Tensor::i64({2}, {-1, 1});
  expect_same(run1(node("Unsqueeze", 2, 13), {&x, &uax}), with_shape({1, 1, 3, 1, 2, 1}));
  const Tensor bad = Tensor::i64({1}, {1});
  EXPECT_HAS(error_of([&] { run1(node("Squeeze", 2, 13), {&x, &bad}); }), "cannot squeeze axis 1");
  const Tensor twice = Tensor::i64({2}, {0, -6});
  EXPECT_HAS(error_of([&] { run1(node("Unsqueeze", 2, 13), {&x, &twice}); }), "appears twice");
  const Tensor far = Tensor::i64({1}, {6});
  EXPECT_HAS(error_of([&] { run1(node("Unsqueeze", 2, 13), {&x, &far}); }), "axis 6 is out of range");
}

// ---------------------------------------------------------------- Equal, Where

TEST(OpsLogic, EqualAndWhereBroadcast) {
  Rng rng;
  SEED_TRACE(rng);
  const Shape as = {3, 1, 4}, bs = {5, 1}, out = {3, 5, 4};
  for (DType t : kAllTypes) {
    // Values from a small set so that equal pairs occur.
    Tensor a(t, as), b(t, bs);
    for (int64_t k = 0; k < a.numel(); ++k) set_int(a, k, rand_int(rng, 0, 2));
    for (int64_t k = 0; k < b.numel(); ++k) set_int(b, k, rand_int(rng, 0, 2));
    Tensor want(DType::b8, out);
    for (int64_t e = 0; e < want.numel(); ++e) {
      const std::vector<int64_t> idx = unravel(e, out);
      want.data<uint8_t>()[e] = a.double_at(bcast_offset(as, idx)) == b.double_at(bcast_offset(bs, idx));
    }
    const Tensor eq = run1(node("Equal", 2, 13), {&a, &b});
    expect_same(eq, want, std::string("Equal ") + dtype_name(t));

    const Shape xs = {5, 1}, ys = {4};
    const Tensor x = rand_tensor(rng, t, xs), y = rand_tensor(rng, t, ys);
    Tensor w(t, out);
    const size_t es = dtype_size(t);
    for (int64_t e = 0; e < w.numel(); ++e) {
      const std::vector<int64_t> idx = unravel(e, out);
      const Tensor& src = eq.data<uint8_t>()[e] ? x : y;
      std::memcpy(static_cast<char*>(w.raw()) + static_cast<size_t>(e) * es,
                  elem(src, bcast_offset(src.shape, idx)), es);
    }
    expect_same(run1(node("Where", 3, 16), {&eq, &x, &y}), w, std::string("Where ") + dtype_name(t));
  }
  // Float semantics: -0 == 0, NaN != NaN.
  const Tensor p = Tensor::f32({3}, {0.0f, std::nanf(""), 1.5f}), q = Tensor::f32({3}, {-0.0f, std::nanf(""), 1.5f});
  EXPECT_EQ(run1(node("Equal", 2, 13), {&p, &q}).ints(), (std::vector<int64_t>{1, 0, 1}));
  // Errors: mixed types, a non-bool condition, shapes that do not broadcast.
  const Tensor i = Tensor::i64({3}, {0, 1, 2});
  EXPECT_HAS(error_of([&] { run1(node("Equal", 2, 13), {&p, &i}); }), "float32 and int64");
  EXPECT_HAS(error_of([&] { run1(node("Where", 3, 16), {&i, &p, &q}); }), "expected bool");
  const Tensor c = of_ints(DType::b8, {2}, {1, 0});
  EXPECT_HAS(error_of([&] { run1(node("Where", 3, 16), {&c, &p, &q}); }), "do not broadcast");
  // Empty.
  const Tensor e0(DType::b8, {0, 3});
  EXPECT_EQ(run1(node("Where", 3, 16), {&e0, &p, &q}).shape, (Shape{0, 3}));
}

// ---------------------------------------------------------------- Cast

TEST(OpsCast, EveryPairOnSurvivingValues) {
  Rng rng;
  SEED_TRACE(rng);
  for (DType from : kAllTypes)
    for (DType to : kAllTypes) {
      // Integers in [0, 100] are exact in every type (bool: 0 or 1).
      std::vector<int64_t> v(13);
      for (int64_t& x : v) x = from == DType::b8 ? rand_int(rng, 0, 1) : rand_int(rng, 0, 100);
      v[0] = 0;
      v[1] = 1;
      const Tensor x = of_ints(from, {13}, v);
      std::vector<int64_t> w = v;
      if (to == DType::b8)
        for (int64_t& y : w) y = y != 0;
      const std::string what = std::string(dtype_name(from)) + " -> " + dtype_name(to);
      const Node n = node("Cast", 1, 13, [&](onnx::NodeProto& p) { attr_i(p, "to", dtype_to_onnx(to)); });
      EXPECT_EQ(n.to, to);
      expect_same(run1(n, {&x}), of_ints(to, {13}, w), what);
      const Tensor like(to, {0});
      expect_same(run1(node("CastLike", 2, 15), {&x, &like}), of_ints(to, {13}, w), "CastLike " + what);
    }
}

TEST(OpsCast, TruncationBoolRoundingAndTypeMap) {
  const Node to_i64 = node("Cast", 1, 13, [](onnx::NodeProto& p) { attr_i(p, "to", onnx::TensorProto::INT64); });
  const Tensor f = Tensor::f32({6}, {2.7f, -2.7f, 0.5f, -0.0f, 1000.0f, -0.99f});
  EXPECT_EQ(run1(to_i64, {&f}).ints(), (std::vector<int64_t>{2, -2, 0, 0, 1000, 0}));
  const Node to_bool = node("Cast", 1, 13, [](onnx::NodeProto& p) { attr_i(p, "to", onnx::TensorProto::BOOL); });
  const Tensor b = run1(to_bool, {&f});
  EXPECT_EQ(b.dtype, DType::b8);
  EXPECT_EQ(b.ints(), (std::vector<int64_t>{1, 1, 1, 0, 1, 1}));
  const Tensor i = Tensor::i64({3}, {0, -7, 300});
  EXPECT_EQ(run1(to_bool, {&i}).ints(), (std::vector<int64_t>{0, 1, 1}));
  // float32 -> float16: 1 + 2^-11 is a tie, rounds to even (1.0); 1 + 3 * 2^-11 rounds up.
  const Node to_f16 = node("Cast", 1, 13, [](onnx::NodeProto& p) { attr_i(p, "to", onnx::TensorProto::FLOAT16); });
  const Tensor ties = Tensor::f32({2}, {1.0f + 0.00048828125f, 1.0f + 3 * 0.00048828125f});
  const Tensor h = run1(to_f16, {&ties});
  EXPECT_EQ(h.data<uint16_t>()[0], 0x3C00);
  EXPECT_EQ(h.data<uint16_t>()[1], 0x3C02);
  // double -> float32; string refused.
  const Node to_double = node("Cast", 1, 13, [](onnx::NodeProto& p) { attr_i(p, "to", onnx::TensorProto::DOUBLE); });
  EXPECT_EQ(run1(to_double, {&i}).dtype, DType::f32);
  EXPECT_HAS(error_of([] { node("Cast", 1, 13, [](onnx::NodeProto& p) { attr_i(p, "to", onnx::TensorProto::STRING); }); }),
             "Cast to string is not supported");
  EXPECT_HAS(error_of([] { node("Cast", 1, 13); }), "'to'");
  DType d;
  EXPECT_TRUE(dtype_from_onnx(onnx::TensorProto::DOUBLE, d));
  EXPECT_EQ(d, DType::f32);
  EXPECT_FALSE(dtype_from_onnx(onnx::TensorProto::UINT16, d));
  EXPECT_FALSE(dtype_from_onnx(onnx::TensorProto::STRING, d));
  for (DType t : kAllTypes) {
    ASSERT_TRUE(dtype_from_onnx(dtype_to_onnx(t), d));
    EXPECT_EQ(d, t);
  }
}

// ---------------------------------------------------------------- Slice

// Reference straight from the ONNX text: adjust negative starts/ends, clamp,
// then walk i = start; i < end (or > end for a negative step); i += step.
Tensor slice_ref(const Tensor& x, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                 const std::vector<int64_t>& axes, const std::vector<int64_t>& steps) {
  const size_t r = x.shape.size();
  std::vector<std::vector<int64_t>> pick(r);
  for (size_t a = 0; a < r; ++a) {
    pick[a].resize(static_cast<size_t>(x.shape[a]));
    std::iota(pick[a].begin(), pick[a].end(), 0);
  }
  for (size_t k = 0; k < starts.size(); ++k) {
    const size_t a = static_cast<size_t>(axes[k] < 0 ? axes[k] + static_cast<int64_t>(r) : axes[k]);
    const int64_t dim = x.shape[a], step = steps[k];
    int64_t b = starts[k] < 0 ? starts[k] + dim : starts[k];
    int64_t e = ends[k] < 0 ? ends[k] + dim : ends[k];
    if (step > 0) {
      b = std::min(std::max<int64_t>(b, 0), dim);
      e = std::min(std::max<int64_t>(e, 0), dim);
    } else {
      b = std::min(std::max<int64_t>(b, 0), dim - 1);
      e = std::min(std::max<int64_t>(e, -1), dim - 1);
    }
    pick[a].clear();
    for (__int128 i = b; step > 0 ? i < e : i > e; i += step) pick[a].push_back(static_cast<int64_t>(i));
  }
  Shape s(r);
  for (size_t a = 0; a < r; ++a) s[a] = static_cast<int64_t>(pick[a].size());
  Tensor y(x.dtype, s);
  const size_t es = dtype_size(x.dtype);
  for (int64_t e = 0; e < y.numel(); ++e) {
    std::vector<int64_t> idx = unravel(e, s);
    for (size_t a = 0; a < r; ++a) idx[a] = pick[a][static_cast<size_t>(idx[a])];
    std::memcpy(static_cast<char*>(y.raw()) + static_cast<size_t>(e) * es, elem(x, ravel(idx, x.shape)), es);
  }
  return y;
}

TEST(OpsSlice, RandomStartsEndsNegativeSteps) {
  Rng rng;
  SEED_TRACE(rng);
  const int64_t big = std::numeric_limits<int64_t>::max(), small = std::numeric_limits<int64_t>::min();
  for (int trial = 0; trial < 60; ++trial) {
    const Shape xs = {rand_int(rng, 0, 5), rand_int(rng, 1, 6), rand_int(rng, 1, 4)};
    const DType t = trial % 3 == 0 ? DType::f32 : trial % 3 == 1 ? DType::i64 : DType::f16;
    const Tensor x = rand_tensor(rng, t, xs);
    std::vector<int64_t> axes = {0, 1, 2}, starts, ends, steps;
    std::shuffle(axes.begin(), axes.end(), rng.gen);
    axes.resize(static_cast<size_t>(rand_int(rng, 1, 3)));
    auto edge = [&](int64_t dim) {
      switch (rand_int(rng, 0, 5)) {
        case 0: return big;
        case 1: return small;
        default: return rand_int(rng, -dim - 2, dim + 2);
      }
    };
    for (int64_t& a : axes) {
      const int64_t dim = xs[static_cast<size_t>(a)];
      starts.push_back(edge(dim));
      ends.push_back(edge(dim));
      int64_t st = rand_int(rng, -3, 3);
      if (st == 0) st = -1;
      if (rand_int(rng, 0, 9) == 0) st = st > 0 ? big : small;
      steps.push_back(st);
      if (rand_int(rng, 0, 1)) a -= 3;  // negative axis
    }
    const DType it = trial % 2 ? DType::i64 : DType::i32;
    auto ints = [&](const std::vector<int64_t>& v) {
      std::vector<int64_t> w = v;
      if (it == DType::i32)  // keep the int32 extremes
        for (int64_t& q : w) q = std::max<int64_t>(std::min<int64_t>(q, INT32_MAX), INT32_MIN);
      return of_ints(it, {static_cast<int64_t>(v.size())}, w);
    };
    const Tensor ts = ints(starts), te = ints(ends), ta = ints(axes), tp = ints(steps);
    std::vector<int64_t> s2 = ts.ints(), e2 = te.ints(), p2 = tp.ints();
    expect_same(run1(node("Slice", 5, 13), {&x, &ts, &te, &ta, &tp}), slice_ref(x, s2, e2, axes, p2),
                "trial " + std::to_string(trial) + " x " + shape_str(xs) + " starts " + shape_str(s2) + " ends " +
                    shape_str(e2) + " axes " + shape_str(axes) + " steps " + shape_str(p2));
  }
}

TEST(OpsSlice, FixedCasesAttributeFormAndErrors) {
  const Tensor x = Tensor::i64({5}, {0, 1, 2, 3, 4});
  auto slice = [&](std::vector<int64_t> s, std::vector<int64_t> e, std::vector<int64_t> st) {
    const Tensor ts = Tensor::i64({1}, s), te = Tensor::i64({1}, e), ta = Tensor::i64({1}, {0}),
                 tp = Tensor::i64({1}, st);
    return run1(node("Slice", 5, 13), {&x, &ts, &te, &ta, &tp}).ints();
  };
  EXPECT_EQ(slice({-1}, {std::numeric_limits<int64_t>::min()}, {-1}), (std::vector<int64_t>{4, 3, 2, 1, 0}));
  EXPECT_EQ(slice({10}, {0}, {-2}), (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(slice({1}, {-1}, {2}), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(slice({3}, {3}, {1}), (std::vector<int64_t>{}));
  // Optional axes and steps left out.
  const Tensor ts = Tensor::i64({1}, {1}), te = Tensor::i64({1}, {3});
  EXPECT_EQ(run1(node("Slice", 3, 13), {&x, &ts, &te}).ints(), (std::vector<int64_t>{1, 2}));
  // Opset 9: attributes.
  const Tensor m = Tensor::f32({2, 3}, {0, 1, 2, 3, 4, 5});
  const Node a9 = node("Slice", 1, 9, [](onnx::NodeProto& p) {
    attr_ints(p, "starts", {1});
    attr_ints(p, "ends", {-1});
    attr_ints(p, "axes", {-1});
  });
  const Tensor y = run1(a9, {&m});
  EXPECT_EQ(y.shape, (Shape{2, 1}));
  EXPECT_EQ(y.data<float>()[0], 1.0f);
  EXPECT_EQ(y.data<float>()[1], 4.0f);
  EXPECT_HAS(error_of([] { node("Slice", 1, 9); }), "'starts'");
  const Tensor zero = Tensor::i64({1}, {0}), ax = Tensor::i64({1}, {0});
  EXPECT_HAS(error_of([&] { run1(node("Slice", 5, 13), {&x, &ts, &te, &ax, &zero}); }), "step 0");
  const Tensor two = Tensor::i64({2}, {0, 1});
  EXPECT_HAS(error_of([&] { run1(node("Slice", 3, 13), {&x, &two, &te}); }), "same length");
}

// ---------------------------------------------------------------- Concat, Reshape, Expand, Transpose

TEST(OpsLayout, ConcatInt64AnyAxis) {
  Rng rng;
  SEED_TRACE(rng);
  for (int64_t axis : {0, 1, -1, 2}) {
    const size_t ax = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
    std::vector<Tensor> parts;
    for (int64_t len : {2, 0, 3, 1}) {
      Shape s = {2, 3, 4};
      s[ax] = len;
      parts.push_back(rand_tensor(rng, DType::i64, s));
    }
    Shape os = {2, 3, 4};
    os[ax] = 6;
    Tensor want(DType::i64, os);
    for (int64_t e = 0; e < want.numel(); ++e) {
      std::vector<int64_t> idx = unravel(e, os);
      size_t p = 0;
      while (idx[ax] >= parts[p].shape[ax]) idx[ax] -= parts[p++].shape[ax];
      want.data<int64_t>()[e] = parts[p].data<int64_t>()[ravel(idx, parts[p].shape)];
    }
    const Node n = node("Concat", 4, 13, [&](onnx::NodeProto& p) { attr_i(p, "axis", axis); });
    expect_same(run1(n, {&parts[0], &parts[1], &parts[2], &parts[3]}), want, "axis " + std::to_string(axis));
  }
  const Tensor a = Tensor::i64({2}, {1, 2}), b = Tensor::f32({2}, {1, 2});
  const Node n = node("Concat", 2, 13, [](onnx::NodeProto& p) { attr_i(p, "axis", 0); });
  EXPECT_HAS(error_of([&] { run1(n, {&a, &b}); }), "does not match input 0");
  EXPECT_HAS(error_of([] { node("Concat", 2, 13); }), "'axis'");
  const Node one = node("Concat", 1, 13, [](onnx::NodeProto& p) { attr_i(p, "axis", 0); });
  expect_same(run1(one, {&a}), a);
}

TEST(OpsLayout, ReshapeZeroAndMinusOne) {
  Rng rng;
  SEED_TRACE(rng);
  const Tensor x = rand_tensor(rng, DType::bf16, {2, 3, 4});
  auto reshape = [&](const Tensor& in, std::vector<int64_t> s, int64_t opset = 13, bool allowzero = false) {
    const Tensor shape = Tensor::i64({static_cast<int64_t>(s.size())}, s);
    const Node n = node("Reshape", 2, opset, [&](onnx::NodeProto& p) {
      if (allowzero) attr_i(p, "allowzero", 1);
    });
    return run1(n, {&in, &shape});
  };
  auto with_shape = [&](Shape s) {
    Tensor r = x;
    r.shape = std::move(s);
    return r;
  };
  expect_same(reshape(x, {0, -1}), with_shape({2, 12}));
  expect_same(reshape(x, {-1, 0, 2}), with_shape({4, 3, 2}));
  expect_same(reshape(x, {0, 0, -1}), x);
  expect_same(reshape(x, {0, 3, 2, -1}), with_shape({2, 3, 2, 2}));
  expect_same(reshape(x, {24}), with_shape({24}));
  const Tensor empty(DType::f32, {0, 4});
  EXPECT_EQ(reshape(empty, {0, 2, 2}, 14, true).shape, (Shape{0, 2, 2}));
  EXPECT_EQ(reshape(empty, {-1, 2}, 14, false).shape, (Shape{0, 2}));
  EXPECT_HAS(error_of([&] { reshape(empty, {0, -1}); }), "with -1");  // 0 elements: -1 is ambiguous (as numpy)
  const Tensor six(DType::f32, {2, 6});
  EXPECT_EQ(error_of([&] { reshape(six, {0, 4}); }),
            "model t.onnx: node 't_Reshape' (Reshape): cannot reshape input [2, 6] (12 elements) to [2, 4] (8 elements)");
  EXPECT_HAS(error_of([&] { reshape(six, {-1, -1}); }), "more than one -1");
  EXPECT_HAS(error_of([&] { reshape(six, {0, 5, -1}); }), "with -1");
  EXPECT_HAS(error_of([&] { reshape(six, {0, 6}, 14, true); }), "cannot reshape");
  EXPECT_HAS(error_of([&] { reshape(six, {0, 0, 0}); }), "copies dim 2");
}

TEST(OpsLayout, ExpandBroadcastsBothWays) {
  Rng rng;
  SEED_TRACE(rng);
  for (DType t : {DType::f32, DType::i64, DType::u8, DType::f16}) {
    const Tensor x = rand_tensor(rng, t, {3, 1});
    for (const std::vector<int64_t>& target :
         {std::vector<int64_t>{2, 1, 4}, std::vector<int64_t>{1}, std::vector<int64_t>{3, 5}, std::vector<int64_t>{0, 1, 1}}) {
      const Tensor shape = Tensor::i64({static_cast<int64_t>(target.size())}, target);
      Shape os = target;
      while (os.size() < 2) os.insert(os.begin(), 1);
      for (size_t k = 0; k < 2; ++k) {
        int64_t& d = os[os.size() - 2 + k];
        if (d == 1) d = x.shape[k];
      }
      Tensor want(t, os);
      const size_t es = dtype_size(t);
      for (int64_t e = 0; e < want.numel(); ++e)
        std::memcpy(static_cast<char*>(want.raw()) + static_cast<size_t>(e) * es,
                    elem(x, bcast_offset(x.shape, unravel(e, os))), es);
      expect_same(run1(node("Expand", 2, 13), {&x, &shape}), want, "target " + shape_str(target));
    }
  }
  const Tensor x = Tensor::f32({3}, {1, 2, 3}), bad = Tensor::i64({1}, {2});
  EXPECT_HAS(error_of([&] { run1(node("Expand", 2, 13), {&x, &bad}); }), "do not broadcast");
}

TEST(OpsLayout, TransposeAnyTypeAndRank) {
  Rng rng;
  SEED_TRACE(rng);
  for (int trial = 0; trial < 40; ++trial) {
    const size_t rank = static_cast<size_t>(rand_int(rng, 0, 4));
    Shape xs(rank);
    for (int64_t& d : xs) d = rand_int(rng, trial == 7 ? 0 : 1, 5);
    const DType t = kAllTypes[trial % kDTypeCount];
    const Tensor x = rand_tensor(rng, t, xs);
    std::vector<int64_t> perm(rank);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng.gen);
    const bool reverse = trial % 5 == 0;  // no perm attribute: reversed axes
    if (reverse) std::sort(perm.rbegin(), perm.rend());  // descending
    Shape os(rank);
    for (size_t k = 0; k < rank; ++k) os[k] = xs[static_cast<size_t>(perm[k])];
    Tensor want(t, os);
    const size_t es = dtype_size(t);
    for (int64_t e = 0; e < want.numel(); ++e) {
      const std::vector<int64_t> o = unravel(e, os);
      std::vector<int64_t> i(rank);
      for (size_t k = 0; k < rank; ++k) i[static_cast<size_t>(perm[k])] = o[k];
      std::memcpy(static_cast<char*>(want.raw()) + static_cast<size_t>(e) * es, elem(x, ravel(i, xs)), es);
    }
    const Node n = node("Transpose", 1, 13, [&](onnx::NodeProto& p) {
      if (!reverse) attr_ints(p, "perm", perm);
    });
    expect_same(run1(n, {&x}), want, std::string(dtype_name(t)) + " " + shape_str(xs) + " perm " + shape_str(perm));
  }
  const Tensor x(DType::f32, {2, 3, 4});
  EXPECT_HAS(error_of([&] { run1(node("Transpose", 1, 13, [](onnx::NodeProto& p) { attr_ints(p, "perm", {0, 0, 1}); }), {&x}); }),
             "not a permutation");
}

TEST(OpsLayout, FlattenIdentityDropout) {
  Rng rng;
  SEED_TRACE(rng);
  const Tensor x = rand_tensor(rng, DType::i8, {2, 3, 4});
  for (auto [axis, want] : std::vector<std::pair<int64_t, Shape>>{{0, {1, 24}}, {1, {2, 12}}, {3, {24, 1}}, {-1, {6, 4}}}) {
    Tensor r = x;
    r.shape = want;
    expect_same(run1(node("Flatten", 1, 13, [&](onnx::NodeProto& p) { attr_i(p, "axis", axis); }), {&x}), r);
  }
  EXPECT_HAS(error_of([&] { run1(node("Flatten", 1, 13, [](onnx::NodeProto& p) { attr_i(p, "axis", 4); }), {&x}); }),
             "axis 4 is out of range");
  expect_same(run1(node("Identity", 1, 16), {&x}), x);
  expect_same(run1(node("Dropout", 1, 13), {&x}), x);
  const Tensor ratio = Tensor::f32({}, {0.5f}), training = of_ints(DType::b8, {}, {1});
  expect_same(run1(node("Dropout", 2, 13), {&x, &ratio}), x);
  EXPECT_HAS(error_of([&] { run1(node("Dropout", 3, 13), {&x, &ratio, &training}); }), "training_mode");
}

// ---------------------------------------------------------------- Shape, Size, ConstantOfShape, Range

TEST(OpsShape, ShapeWithStartEndAndSize) {
  const Tensor x(DType::u8, {2, 3, 0, 5});
  EXPECT_EQ(run1(node("Shape", 1, 13), {&x}).ints(), (std::vector<int64_t>{2, 3, 0, 5}));
  auto shape15 = [&](int64_t start, const int64_t* end) {
    return run1(node("Shape", 1, 15,
                     [&](onnx::NodeProto& p) {
                       attr_i(p, "start", start);
                       if (end) attr_i(p, "end", *end);
                     }),
                {&x})
        .ints();
  };
  const int64_t m1 = -1, big = 100, zero = 0;
  EXPECT_EQ(shape15(1, nullptr), (std::vector<int64_t>{3, 0, 5}));
  EXPECT_EQ(shape15(-3, &m1), (std::vector<int64_t>{3, 0}));
  EXPECT_EQ(shape15(-100, &big), (std::vector<int64_t>{2, 3, 0, 5}));
  EXPECT_EQ(shape15(3, &zero), (std::vector<int64_t>{}));
  const Tensor size = run1(node("Size", 1, 13), {&x});
  EXPECT_EQ(size.dtype, DType::i64);
  EXPECT_EQ(size.shape, Shape{});
  EXPECT_EQ(size.ints(), (std::vector<int64_t>{0}));
  const Tensor y(DType::f16, {4, 7});
  EXPECT_EQ(run1(node("Size", 1, 13), {&y}).ints(), (std::vector<int64_t>{28}));
  const Tensor s(DType::f32, {});
  EXPECT_EQ(run1(node("Shape", 1, 13), {&s}).shape, (Shape{0}));
}

TEST(OpsShape, ConstantOfShape) {
  const Tensor shape = Tensor::i64({2}, {2, 3});
  const Tensor z = run1(node("ConstantOfShape", 1, 9), {&shape});
  expect_same(z, Tensor::f32({2, 3}, std::vector<float>(6, 0.0f)));
  const Node seven = node("ConstantOfShape", 1, 20, [](onnx::NodeProto& p) {
    auto* a = p.add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    a->mutable_t()->set_data_type(onnx::TensorProto::INT64);
    a->mutable_t()->add_dims(1);
    a->mutable_t()->add_int64_data(7);
  });
  expect_same(run1(seven, {&shape}), Tensor::i64({2, 3}, std::vector<int64_t>(6, 7)));
  const Tensor scalar(DType::i64, {0});
  EXPECT_EQ(run1(seven, {&scalar}).shape, Shape{});
  EXPECT_EQ(run1(seven, {&scalar}).ints(), (std::vector<int64_t>{7}));
  const Tensor empty = Tensor::i64({2}, {0, 3});
  EXPECT_EQ(run1(seven, {&empty}).shape, (Shape{0, 3}));
  const Tensor neg = Tensor::i64({1}, {-2});
  EXPECT_HAS(error_of([&] { run1(seven, {&neg}); }), "negative");
}

TEST(OpsShape, Range) {
  Rng rng;
  SEED_TRACE(rng);
  const Node n = node("Range", 3, 11);
  for (int trial = 0; trial < 30; ++trial) {
    const int64_t st = rand_int(rng, -20, 20), lim = rand_int(rng, -20, 20);
    int64_t d = rand_int(rng, -5, 5);
    if (d == 0) d = 3;
    std::vector<int64_t> want;
    for (int64_t v = st; d > 0 ? v < lim : v > lim; v += d) want.push_back(v);
    for (DType t : {DType::i64, DType::i32}) {
      const Tensor a = of_ints(t, {}, {st}), b = of_ints(t, {}, {lim}), c = of_ints(t, {}, {d});
      const Tensor y = run1(n, {&a, &b, &c});
      EXPECT_EQ(y.dtype, t);
      EXPECT_EQ(y.ints(), want) << "range(" << st << ", " << lim << ", " << d << ") " << dtype_name(t);
    }
    // float32: element k is start + k * delta.
    const float fs = static_cast<float>(st) / 4, fl = static_cast<float>(lim) / 4, fd = static_cast<float>(d) / 8;
    std::vector<float> fw;
    for (int64_t k = 0; fd > 0 ? fs + k * fd < fl : fs + k * fd > fl; ++k) fw.push_back(fs + static_cast<float>(k) * fd);
    const Tensor a = Tensor::f32({}, {fs}), b = Tensor::f32({}, {fl}), c = Tensor::f32({}, {fd});
    expect_same(run1(n, {&a, &b, &c}), Tensor::f32({static_cast<int64_t>(fw.size())}, fw),
                "range(" + std::to_string(fs) + ", " + std::to_string(fl) + ", " + std::to_string(fd) + ")");
  }
  const Tensor a = Tensor::i64({}, {5}), z = Tensor::i64({}, {0});
  EXPECT_EQ(run1(n, {&a, &a, &a}).shape, (Shape{0}));
  EXPECT_HAS(error_of([&] { run1(n, {&z, &a, &z}); }), "delta is 0");
  const Tensor f = Tensor::f32({}, {1.0f});
  EXPECT_HAS(error_of([&] { run1(n, {&a, &f, &a}); }), "one type");
}

}  // namespace
}  // namespace mgi
