// The comparison, bool and float-test ops (logic.cpp: Less, LessOrEqual,
// Greater, GreaterOrEqual, And, Or, Xor, Not, IsNaN, IsInf) and the math ops
// (math.cpp: Min, Max, Sum, Mean, Clip, Mod, Pow) on fresh random inputs of
// every type they take, against reference loops written here (double
// arithmetic on decoded values, numpy broadcasting by index), plus the edge
// cases of each (NaN, infinities, -0, negative operands, integer overflow), the
// opset-dependent type rules, and results independent of the thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "error.hpp"
#include "error_test_util.hpp"
#include "graph.hpp"
#include "onnx_attrs.hpp"
#include "op_registry.hpp"
#include "test_rng.hpp"

namespace mgi {
namespace {

using test::Rng;

const std::string kSource = "t.onnx";
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

constexpr DType kNumeric[] = {DType::f32, DType::f16, DType::bf16, DType::i64, DType::i32, DType::i8, DType::u8};
constexpr DType kFloats[] = {DType::f32, DType::f16, DType::bf16};
constexpr DType kInts[] = {DType::i64, DType::i32, DType::i8, DType::u8};

// ---------------------------------------------------------------- helpers

void attr_i(onnx::NodeProto& p, const char* name, int64_t v) {
  auto* a = p.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void attr_f(onnx::NodeProto& p, const char* name, float v) {
  auto* a = p.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

// A node of `op` for `opset` with inputs 0..n_in-1, its attributes parsed by the op's definition.
Node node(const std::string& op, size_t n_in, int64_t opset = 17,
          const std::function<void(onnx::NodeProto&)>& attrs = nullptr) {
  Node n;
  n.def = OpRegistry::get().find("", op, opset);
  if (!n.def) throw ModelError("no op " + op + " for opset " + std::to_string(opset));
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

// Inference, then the CPU kernel with `threads` (nullptr: an absent optional input).
Tensor run(const Node& n, const std::vector<const Tensor*>& in, int threads = 1) {
  InferArgs ia{n, kSource, {}, {}, {}};
  for (const Tensor* t : in) {
    ia.types.push_back(t ? t->dtype : DType::f32);
    ia.shapes.push_back(t ? &t->shape : nullptr);
    ia.values.push_back(t);
  }
  std::vector<OutInfo> info(1);
  n.def->infer(ia, info);
  Tensor out(info[0].dtype, info[0].shape);
  cpu::ExecOptions opt;
  opt.threads = threads;
  KernelArgs args{n, {}, {}, opt};
  for (const Tensor* t : in) args.in.push_back(t ? In{t->dtype, &t->shape, t->raw()} : In{DType::f32, nullptr, nullptr});
  args.out.push_back(Out{out.dtype, &out.shape, out.raw()});
  n.def->cpu(args);
  return out;
}

using test::error_of;

// Element k of t set from a double (rounded to the type's storage; ints: exact values only).
void set(Tensor& t, int64_t k, double v) {
  switch (t.dtype) {
    case DType::f32: t.data<float>()[k] = static_cast<float>(v); break;
    case DType::f16: t.data<uint16_t>()[k] = float_to_half(static_cast<float>(v)); break;
    case DType::bf16: t.data<uint16_t>()[k] = float_to_bf16(static_cast<float>(v)); break;
    case DType::i64: t.data<int64_t>()[k] = static_cast<int64_t>(v); break;
    case DType::i32: t.data<int32_t>()[k] = static_cast<int32_t>(v); break;
    case DType::i8: t.data<int8_t>()[k] = static_cast<int8_t>(v); break;
    case DType::u8: t.data<uint8_t>()[k] = static_cast<uint8_t>(v); break;
    case DType::b8: t.data<uint8_t>()[k] = v != 0; break;
  }
}
Tensor of(DType t, Shape s, const std::vector<double>& v) {
  Tensor r(t, std::move(s));
  EXPECT_EQ(static_cast<int64_t>(v.size()), r.numel());
  for (size_t k = 0; k < v.size(); ++k) set(r, static_cast<int64_t>(k), v[k]);
  return r;
}
std::vector<double> values(const Tensor& t) {
  std::vector<double> v;
  for (int64_t k = 0; k < t.numel(); ++k) v.push_back(t.double_at(k));
  return v;
}

// Random values of type t: floats on a grid of quarters in [-4, 4] (ties and
// exact zeros happen; exact in float16/bfloat16), integers in [-9, 9] ([0, 18] for uint8).
Tensor rand_tensor(Rng& rng, DType t, const Shape& s, int lo = -16, int hi = 16) {
  Tensor r(t, s);
  std::uniform_int_distribution<int> q(lo, hi);
  for (int64_t k = 0; k < r.numel(); ++k) {
    const int v = q(rng.gen);
    if (is_float(t)) set(r, k, v / 4.0);
    else if (t == DType::u8) set(r, k, (v - lo) * 18 / (hi - lo));
    else if (t == DType::b8) set(r, k, v & 1);
    else set(r, k, v * 9 / hi);
  }
  return r;
}

// Numpy broadcasting by index: the output shape and each input's offset.
Shape bshape(const std::vector<Shape>& in) {
  size_t r = 0;
  for (const Shape& s : in) r = std::max(r, s.size());
  Shape o(r, 1);
  for (const Shape& s : in)
    for (size_t k = 0; k < s.size(); ++k) {
      int64_t& d = o[r - s.size() + k];
      if (s[k] != 1) d = s[k];
    }
  return o;
}
int64_t offset(const Shape& in, const Shape& out, int64_t e) {
  std::vector<int64_t> idx(out.size());
  for (size_t k = out.size(); k-- > 0;) {
    idx[k] = e % out[k];
    e /= out[k];
  }
  int64_t off = 0, stride = 1;
  for (size_t k = 0; k < in.size(); ++k) {
    const size_t i = in.size() - 1 - k, o = out.size() - 1 - k;
    off += (in[i] == 1 ? 0 : idx[o]) * stride;
    stride *= in[i];
  }
  return off;
}
// ref[e] = f(inputs' elements broadcast to e), over decoded (double) values.
std::vector<double> ref_map(const std::vector<const Tensor*>& in, const std::function<double(const std::vector<double>&)>& f) {
  std::vector<Shape> shapes;
  for (const Tensor* t : in) shapes.push_back(t->shape);
  const Shape os = bshape(shapes);
  std::vector<double> out;
  std::vector<double> args(in.size());
  for (int64_t e = 0; e < shape_numel(os); ++e) {
    for (size_t j = 0; j < in.size(); ++j) args[j] = in[j]->double_at(offset(in[j]->shape, os, e));
    out.push_back(f(args));
  }
  return out;
}

// Exact equality of decoded values (NaN matches NaN; -0 matches 0 unless `signs`).
void expect_values(const Tensor& got, const std::vector<double>& want, bool signs = false) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size()));
  for (int64_t k = 0; k < got.numel(); ++k) {
    const double g = got.double_at(k), w = want[static_cast<size_t>(k)];
    if (std::isnan(w)) {
      EXPECT_TRUE(std::isnan(g)) << "element " << k << ": got " << g << ", want NaN";
    } else {
      EXPECT_EQ(g, w) << "element " << k;
      if (signs) {
        EXPECT_EQ(std::signbit(g), std::signbit(w)) << "sign of element " << k;
      }
    }
  }
}
// Within rel * |want| (NaN and infinities must match exactly).
void expect_near(const Tensor& got, const std::vector<double>& want, double rel) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size()));
  for (int64_t k = 0; k < got.numel(); ++k) {
    const double g = got.double_at(k), w = want[static_cast<size_t>(k)];
    if (std::isnan(w)) {
      EXPECT_TRUE(std::isnan(g)) << "element " << k << ": got " << g << ", want NaN";
    } else if (std::isinf(w)) {
      EXPECT_EQ(g, w) << "element " << k;
    } else {
      EXPECT_NEAR(g, w, rel * std::fabs(w) + 1e-30) << "element " << k;
    }
  }
}
void expect_bitwise(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dtype, b.dtype);
  ASSERT_EQ(a.shape, b.shape);
  EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.bytes()), 0);
}

// The value stored in type t for v (the rounding of float16/bfloat16; the wrap of integers).
double in_type(DType t, double v) {
  Tensor x(t, {1});
  set(x, 0, v);
  return x.double_at(0);
}

const std::vector<std::pair<Shape, Shape>> kPairs = {
    {{3, 5}, {3, 5}}, {{4, 3, 5}, {5}}, {{4, 1, 5}, {3, 1}}, {{1}, {4, 3}}, {{2, 3}, {}}, {{6, 1}, {1, 7}}, {{2, 3, 1, 5}, {3, 4, 1}}};

// ---------------------------------------------------------------- comparisons and bool ops

TEST(MathLogic, CompareEveryTypeAndBroadcast) {
  Rng rng;
  SEED_TRACE(rng);
  const std::vector<std::pair<const char*, std::function<bool(double, double)>>> ops = {
      {"Less", [](double x, double y) { return x < y; }},
      {"LessOrEqual", [](double x, double y) { return x <= y; }},
      {"Greater", [](double x, double y) { return x > y; }},
      {"GreaterOrEqual", [](double x, double y) { return x >= y; }}};
  for (const auto& [op, f] : ops)
    for (DType t : kNumeric)
      for (const auto& [as, bs] : kPairs) {
        SCOPED_TRACE(std::string(op) + " " + dtype_name(t) + " " + shape_str(as) + " with " + shape_str(bs));
        const Tensor a = rand_tensor(rng, t, as, -4, 4), b = rand_tensor(rng, t, bs, -4, 4);  // many ties
        const Tensor y = run(node(op, 2, 13), {&a, &b});
        EXPECT_EQ(y.dtype, DType::b8);
        expect_values(y, ref_map({&a, &b}, [&f = f](const std::vector<double>& v) { return f(v[0], v[1]) ? 1.0 : 0.0; }));
      }
}

TEST(MathLogic, CompareNaNInfAndSignedZero) {
  const Tensor a = of(DType::f32, {6}, {kNaN, 1, kNaN, -0.0, kInf, -kInf});
  const Tensor b = of(DType::f32, {6}, {1, kNaN, kNaN, 0.0, kInf, 3});
  expect_values(run(node("Less", 2), {&a, &b}), {0, 0, 0, 0, 0, 1});
  expect_values(run(node("LessOrEqual", 2), {&a, &b}), {0, 0, 0, 1, 1, 1});
  expect_values(run(node("Greater", 2), {&a, &b}), {0, 0, 0, 0, 0, 0});
  expect_values(run(node("GreaterOrEqual", 2), {&a, &b}), {0, 0, 0, 1, 1, 0});
  for (DType t : {DType::f16, DType::bf16}) {  // the same through the 16-bit storage
    const Tensor c = a.cast(t), d = b.cast(t);
    expect_values(run(node("LessOrEqual", 2), {&c, &d}), {0, 0, 0, 1, 1, 1});
  }
}

TEST(MathLogic, CompareTypeRules) {
  const Tensor i = of(DType::i32, {2}, {1, 2}), f = of(DType::f32, {2}, {1, 2}), b = of(DType::b8, {2}, {1, 0});
  EXPECT_HAS(error_of([&] { run(node("Less", 2, 8), {&i, &i}); }), "integers from opset 9");
  expect_values(run(node("Less", 2, 9), {&i, &i}), {0, 0});
  EXPECT_HAS(error_of([&] { run(node("Greater", 2), {&b, &b}); }), "expected a numeric type");
  EXPECT_HAS(error_of([&] { run(node("Less", 2), {&i, &f}); }), "expected one type");
  EXPECT_EQ(OpRegistry::get().find("", "LessOrEqual", 11), nullptr);  // from opset 12
  EXPECT_NE(OpRegistry::get().find("", "GreaterOrEqual", 12), nullptr);
  EXPECT_HAS(error_of([&] { run(node("Less", 2), {&f, &f, &f}); }), "expects 2 inputs");
}

TEST(MathLogic, BoolOpsBroadcast) {
  Rng rng;
  SEED_TRACE(rng);
  const std::vector<std::pair<const char*, std::function<bool(bool, bool)>>> ops = {
      {"And", [](bool x, bool y) { return x && y; }},
      {"Or", [](bool x, bool y) { return x || y; }},
      {"Xor", [](bool x, bool y) { return x != y; }}};
  for (const auto& [op, f] : ops)
    for (const auto& [as, bs] : kPairs) {
      SCOPED_TRACE(std::string(op) + " " + shape_str(as) + " with " + shape_str(bs));
      const Tensor a = rand_tensor(rng, DType::b8, as), b = rand_tensor(rng, DType::b8, bs);
      expect_values(run(node(op, 2), {&a, &b}),
                    ref_map({&a, &b}, [&f = f](const std::vector<double>& v) { return f(v[0] != 0, v[1] != 0) ? 1.0 : 0.0; }));
    }
  const Tensor x = rand_tensor(rng, DType::b8, {4, 9});
  expect_values(run(node("Not", 1), {&x}), ref_map({&x}, [](const std::vector<double>& v) { return v[0] != 0 ? 0.0 : 1.0; }));
  const Tensor i = of(DType::i32, {1}, {1});
  EXPECT_HAS(error_of([&] { run(node("And", 2), {&i, &x}); }), "input 0 has type int32; expected bool");
  EXPECT_HAS(error_of([&] { run(node("Not", 1), {&i}); }), "expected bool");
}

TEST(MathLogic, IsNaNIsInf) {
  const std::vector<double> v = {kNaN, kInf, -kInf, 0.0, -0.0, 1.5, -3e38};
  for (DType t : kFloats) {
    SCOPED_TRACE(dtype_name(t));
    const Tensor x = of(t, {7}, v);
    expect_values(run(node("IsNaN", 1, 13), {&x}), {1, 0, 0, 0, 0, 0, 0});
    // -3e38 overflows float16 to -inf: what IsInf must then see.
    const double last = t == DType::f16 ? 1 : 0;
    expect_values(run(node("IsInf", 1, 20), {&x}), {0, 1, 1, 0, 0, 0, last});
    expect_values(run(node("IsInf", 1, 20, [](onnx::NodeProto& p) { attr_i(p, "detect_negative", 0); }), {&x}),
                  {0, 1, 0, 0, 0, 0, 0});
    expect_values(run(node("IsInf", 1, 20, [](onnx::NodeProto& p) { attr_i(p, "detect_positive", 0); }), {&x}),
                  {0, 0, 1, 0, 0, 0, last});
    expect_values(run(node("IsInf", 1, 20,
                           [](onnx::NodeProto& p) {
                             attr_i(p, "detect_positive", 0);
                             attr_i(p, "detect_negative", 0);
                           }),
                      {&x}),
                  {0, 0, 0, 0, 0, 0, 0});
  }
  const Tensor h = of(DType::f16, {1}, {1}), i = of(DType::i64, {1}, {1});
  EXPECT_HAS(error_of([&] { run(node("IsInf", 1, 17), {&h}); }), "float16/bfloat16 from opset 20");
  EXPECT_HAS(error_of([&] { run(node("IsNaN", 1, 17), {&i}); }), "expected float32, float16 or bfloat16");
  const Tensor f = of(DType::f32, {2}, {kInf, 1});
  expect_values(run(node("IsInf", 1, 10), {&f}), {1, 0});
}

// ---------------------------------------------------------------- Min, Max, Sum, Mean

const std::vector<std::vector<Shape>> kVariadicShapes = {
    {{3, 4}}, {{1, 4}}, {{3, 4}, {3, 4}}, {{3, 1}, {1, 4}}, {{3, 4}, {4}, {}}, {{2, 1, 4}, {3, 1}, {1}, {2, 3, 4}}, {{5}, {2, 3, 5}}};

double ref_min(const std::vector<double>& v) {
  double r = v[0];
  for (double x : v) {
    if (std::isnan(x) || std::isnan(r)) return kNaN;
    r = x < r ? x : r;
  }
  return r;
}
double ref_max(const std::vector<double>& v) {
  double r = v[0];
  for (double x : v) {
    if (std::isnan(x) || std::isnan(r)) return kNaN;
    r = x > r ? x : r;
  }
  return r;
}

TEST(MathLogic, MinMaxEveryTypeVariadic) {
  Rng rng;
  SEED_TRACE(rng);
  for (const char* op : {"Min", "Max"})
    for (DType t : kNumeric)
      for (const auto& shapes : kVariadicShapes) {
        SCOPED_TRACE(std::string(op) + " " + dtype_name(t) + " over " + std::to_string(shapes.size()) + " inputs, first " +
                     shape_str(shapes[0]));
        std::vector<Tensor> ins;
        for (const Shape& s : shapes) ins.push_back(rand_tensor(rng, t, s));
        std::vector<const Tensor*> ptrs;
        for (const Tensor& x : ins) ptrs.push_back(&x);
        const Tensor y = run(node(op, ins.size(), 13), ptrs);
        EXPECT_EQ(y.dtype, t);
        expect_values(y, ref_map(ptrs, std::string(op) == "Min" ? ref_min : ref_max));
      }
}

TEST(MathLogic, MinMaxNaNInfSignedZero) {
  // NaN in any input propagates (the ONNX reference is numpy's minimum/maximum; onnxruntime agrees);
  // of 0 and -0 the earlier input's is kept.
  const std::vector<double> av = {1, kNaN, 3, kNaN, -kInf, 0.0, -0.0, kInf};
  const std::vector<double> bv = {kNaN, 2, kNaN, kNaN, 1, -0.0, 0.0, 5};
  for (DType t : kFloats) {
    SCOPED_TRACE(dtype_name(t));
    const Tensor a = of(t, {8}, av), b = of(t, {8}, bv);
    expect_values(run(node("Min", 2), {&a, &b}), {kNaN, kNaN, kNaN, kNaN, -kInf, 0.0, -0.0, 5}, true);
    expect_values(run(node("Max", 2), {&a, &b}), {kNaN, kNaN, kNaN, kNaN, 1, 0.0, -0.0, kInf}, true);
    // A NaN in a later, broadcast input reaches every element.
    const Tensor c = of(t, {1}, {kNaN}), d = of(t, {2, 1}, {2, kNaN});
    const Tensor y = run(node("Max", 3), {&a, &d, &c});
    for (int64_t k = 0; k < y.numel(); ++k) EXPECT_TRUE(std::isnan(y.double_at(k)));
  }
}

TEST(MathLogic, MinMaxTypeRules) {
  const Tensor i = of(DType::i32, {2}, {1, 2}), f = of(DType::f32, {2}, {1, 2});
  EXPECT_HAS(error_of([&] { run(node("Max", 2, 11), {&i, &i}); }), "integers from opset 12");
  expect_values(run(node("Max", 2, 12), {&i, &i}), {1, 2});
  EXPECT_HAS(error_of([&] { run(node("Min", 2), {&f, &i}); }), "expected one type");
  const Tensor b = of(DType::b8, {1}, {1});
  EXPECT_HAS(error_of([&] { run(node("Min", 1), {&b}); }), "expected a numeric type");
  const Tensor x = of(DType::f32, {3}, {1, 2, 3}), z = of(DType::f32, {2}, {1, 2});
  EXPECT_HAS(error_of([&] { run(node("Min", 2), {&x, &z}); }), "do not broadcast");
}

TEST(MathLogic, SumMeanFloatTypes) {
  Rng rng;
  SEED_TRACE(rng);
  for (const char* op : {"Sum", "Mean"})
    for (DType t : kFloats)
      for (const auto& shapes : kVariadicShapes) {
        SCOPED_TRACE(std::string(op) + " " + dtype_name(t) + " over " + std::to_string(shapes.size()) + " inputs");
        std::vector<Tensor> ins;
        for (const Shape& s : shapes) {
          Tensor x(t, s);
          const auto u = rng.uniform(s, -3.0f, 3.0f);
          for (size_t k = 0; k < u.size(); ++k) set(x, static_cast<int64_t>(k), u[k]);
          ins.push_back(std::move(x));
        }
        std::vector<const Tensor*> ptrs;
        for (const Tensor& x : ins) ptrs.push_back(&x);
        const bool mean = std::string(op) == "Mean";
        const auto want = ref_map(ptrs, [mean](const std::vector<double>& v) {
          double s = 0;
          for (double x : v) s += x;
          return mean ? s / static_cast<double>(v.size()) : s;
        });
        const auto mag = ref_map(ptrs, [](const std::vector<double>& v) {
          double s = 0;
          for (double x : v) s += std::fabs(x);
          return s;
        });
        // float32 adds in float32 (one rounding per addition, bounded by the sum of
        // magnitudes); float16/bfloat16 add in float32 and round once to their type.
        const double unit = t == DType::f32 ? 0 : t == DType::f16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);
        const double n_in = static_cast<double>(shapes.size());
        const Tensor y = run(node(op, ins.size(), 13), ptrs);
        EXPECT_EQ(y.dtype, t);
        for (size_t k = 0; k < want.size(); ++k)
          EXPECT_NEAR(y.double_at(static_cast<int64_t>(k)), want[k],
                      unit * std::fabs(want[k]) + std::ldexp(1.0, -23) * n_in * mag[k])
              << "element " << k;
      }
  // Order of addition: left to right, in float32 for float32 inputs.
  const Tensor a = of(DType::f32, {1}, {1e8}), b = of(DType::f32, {1}, {-1e8}), c = of(DType::f32, {1}, {1});
  expect_values(run(node("Sum", 3), {&a, &b, &c}), {1});
  expect_values(run(node("Sum", 3), {&c, &a, &b}), {0});
  expect_values(run(node("Mean", 3), {&a, &b, &c}), {static_cast<double>(1.0f / 3.0f)});
  const Tensor n = of(DType::f32, {2}, {kNaN, kInf}), m = of(DType::f32, {2}, {1, -kInf});
  expect_values(run(node("Sum", 2), {&n, &m}), {kNaN, kNaN});
  const Tensor i = of(DType::i64, {1}, {1});
  EXPECT_HAS(error_of([&] { run(node("Sum", 1), {&i}); }), "expected float32, float16 or bfloat16");
}

// ---------------------------------------------------------------- Clip

TEST(MathLogic, ClipEveryTypeAndForm) {
  Rng rng;
  SEED_TRACE(rng);
  for (DType t : kNumeric) {
    SCOPED_TRACE(dtype_name(t));
    const Tensor x = rand_tensor(rng, t, {4, 9});
    const double lo_v = t == DType::u8 ? 4 : -1.5, hi_v = t == DType::u8 ? 12 : 2;
    const Tensor lo = of(t, {}, {in_type(t, lo_v)}), hi = of(t, {1}, {in_type(t, hi_v)});
    const double l = lo.double_at(0), h = hi.double_at(0);
    const Node n = node("Clip", 3, 13);
    expect_values(run(n, {&x, &lo, &hi}), ref_map({&x}, [&](const std::vector<double>& v) { return std::min(std::max(v[0], l), h); }));
    expect_values(run(n, {&x, &lo, nullptr}), ref_map({&x}, [&](const std::vector<double>& v) { return std::max(v[0], l); }));
    expect_values(run(n, {&x, nullptr, &hi}), ref_map({&x}, [&](const std::vector<double>& v) { return std::min(v[0], h); }));
    expect_values(run(node("Clip", 1, 13), {&x}), values(x));
    // min > max: every element is max (the ONNX spec).
    expect_values(run(n, {&x, &hi, &lo}), std::vector<double>(36, l));
  }
  // Integers need opset 12; bounds must be scalars of the input's type.
  const Tensor i = of(DType::i32, {3}, {-5, 0, 7}), ilo = of(DType::i32, {}, {-2}), ihi = of(DType::i32, {}, {3});
  EXPECT_HAS(error_of([&] { run(node("Clip", 3, 11), {&i, &ilo, &ihi}); }), "integers from opset 12");
  expect_values(run(node("Clip", 3, 12), {&i, &ilo, &ihi}), {-2, 0, 3});
  const Tensor f = of(DType::f32, {3}, {-5, 0, 7}), f2 = of(DType::f32, {2}, {0, 1});
  EXPECT_HAS(error_of([&] { run(node("Clip", 3, 13), {&f, &ilo, nullptr}); }), "input 'min' has type int32");
  EXPECT_HAS(error_of([&] { run(node("Clip", 3, 13), {&f, nullptr, &f2}); }), "input 'max' has shape [2]; expected a scalar");
}

TEST(MathLogic, ClipEdgeValuesAndOpset6) {
  const std::vector<double> v = {kNaN, -5, 5, 1, kInf, -kInf, -0.0};
  const Tensor x = of(DType::f32, {7}, v);
  const Tensor lo = of(DType::f32, {}, {-2}), hi = of(DType::f32, {}, {2}), nan = of(DType::f32, {}, {kNaN});
  expect_values(run(node("Clip", 3, 11), {&x, &lo, &hi}), {kNaN, -2, 2, 1, 2, -2, -0.0}, true);
  // A NaN bound clips nothing (onnxruntime's result); a NaN input stays NaN.
  expect_values(run(node("Clip", 3, 13), {&x, &nan, &hi}), {kNaN, -5, 2, 1, 2, -kInf, -0.0}, true);
  expect_values(run(node("Clip", 3, 13), {&x, &lo, &nan}), {kNaN, -2, 5, 1, kInf, -2, -0.0}, true);
  // An absent bound is the type's lowest / highest value, so infinities become them (the ONNX default).
  const double fmax = std::numeric_limits<float>::max();
  expect_values(run(node("Clip", 3, 13), {&x, nullptr, nullptr}), {kNaN, -5, 5, 1, fmax, -fmax, -0.0});
  const Tensor h = x.cast(DType::f16);
  expect_values(run(node("Clip", 1, 13), {&h}), {kNaN, -5, 5, 1, 65504, -65504, 0});
  // Opset 6-10: attributes.
  const Node n6 = node("Clip", 1, 6, [](onnx::NodeProto& p) {
    attr_f(p, "min", -1.0f);
    attr_f(p, "max", 0.5f);
  });
  expect_values(run(n6, {&x}), {kNaN, -1, 0.5, 0.5, 0.5, -1, -0.0}, true);
  const Tensor b = x.cast(DType::bf16);
  expect_values(run(n6, {&b}), {kNaN, -1, 0.5, 0.5, 0.5, -1, -0.0}, true);
  const Node only_max = node("Clip", 1, 10, [](onnx::NodeProto& p) { attr_f(p, "max", 3.0f); });
  expect_values(run(only_max, {&x}), {kNaN, -5, 3, 1, 3, -fmax, -0.0});
  expect_values(run(node("Clip", 1, 6), {&h}), {kNaN, -5, 5, 1, 65504, -65504, 0});  // float16's own limits
  EXPECT_EQ(OpRegistry::get().find("", "Clip", 10)->max_inputs, 1);
  EXPECT_EQ(OpRegistry::get().find("", "Clip", 11)->max_inputs, 3);
}

// ---------------------------------------------------------------- Mod

// Python's % (sign of the divisor) and C's fmod (sign of the dividend), from floor / trunc division.
double py_mod(double x, double y) { return y == 0 ? 0 : x - y * std::floor(x / y); }
double c_mod(double x, double y) { return y == 0 ? 0 : x - y * std::trunc(x / y); }

TEST(MathLogic, ModIntegersBothModes) {
  Rng rng;
  SEED_TRACE(rng);
  for (int fmod = 0; fmod <= 1; ++fmod)
    for (DType t : kInts)
      for (const auto& [as, bs] : kPairs) {
        SCOPED_TRACE("fmod=" + std::to_string(fmod) + " " + dtype_name(t) + " " + shape_str(as) + " % " + shape_str(bs));
        const Tensor a = rand_tensor(rng, t, as), b = rand_tensor(rng, t, bs);  // negatives and zeros on both sides
        const Node n = node("Mod", 2, 13, [fmod](onnx::NodeProto& p) { attr_i(p, "fmod", fmod); });
        expect_values(run(n, {&a, &b}),
                      ref_map({&a, &b}, [fmod](const std::vector<double>& v) {
                        return fmod ? c_mod(v[0], v[1]) : py_mod(v[0], v[1]);
                      }));
      }
  // The spec's examples and the extremes.
  const Tensor a = of(DType::i32, {6}, {7, -7, 7, -7, 5, -2147483648.0}), b = of(DType::i32, {6}, {3, 3, -3, -3, 0, -1});
  expect_values(run(node("Mod", 2), {&a, &b}), {1, 2, -2, -1, 0, 0});
  expect_values(run(node("Mod", 2, 13, [](onnx::NodeProto& p) { attr_i(p, "fmod", 1); }), {&a, &b}), {1, -1, 1, -1, 0, 0});
  const Tensor c = of(DType::i8, {2}, {-128, 127}), d = of(DType::i8, {2}, {3, -128});
  expect_values(run(node("Mod", 2), {&c, &d}), {1, -1});
  const Tensor e = of(DType::u8, {2}, {200, 7}), g = of(DType::u8, {2}, {7, 200});
  expect_values(run(node("Mod", 2), {&e, &g}), {4, 7});
}

TEST(MathLogic, ModFloats) {
  Rng rng;
  SEED_TRACE(rng);
  const Node n = node("Mod", 2, 13, [](onnx::NodeProto& p) { attr_i(p, "fmod", 1); });
  for (DType t : kFloats)
    for (const auto& [as, bs] : kPairs) {
      SCOPED_TRACE(std::string(dtype_name(t)) + " " + shape_str(as) + " % " + shape_str(bs));
      const Tensor a = rand_tensor(rng, t, as), b = rand_tensor(rng, t, bs, 1, 12);
      Tensor bn = b;  // negative divisors too
      for (int64_t k = 0; k < bn.numel(); k += 2) set(bn, k, -b.double_at(k));
      expect_values(run(n, {&a, &bn}), ref_map({&a, &bn}, [](const std::vector<double>& v) { return std::fmod(v[0], v[1]); }),
                    true);
    }
  const Tensor a = of(DType::f32, {6}, {7.5, -7.5, 7.5, -0.0, kInf, 1}), b = of(DType::f32, {6}, {2, 2, -2, 3, 2, 0});
  expect_values(run(n, {&a, &b}), {1.5, -1.5, 1.5, -0.0, kNaN, kNaN}, true);
  EXPECT_HAS(error_of([&] { run(node("Mod", 2), {&a, &b}); }), "requires fmod=1 for floating point");
  EXPECT_HAS(error_of([&] { node("Mod", 2, 13, [](onnx::NodeProto& p) { attr_i(p, "fmod", 2); }); }),
             "attribute 'fmod' is 2");
  const Tensor i = of(DType::i32, {1}, {1});
  EXPECT_HAS(error_of([&] { run(n, {&a, &i}); }), "expected one type");
}

// ---------------------------------------------------------------- Pow

// x^y with y an integer, exact and wrapping in T's width; negative y truncates.
template <class T>
double ref_int_pow(int64_t x, int64_t y) {
  if (y < 0) return x == 1 ? 1 : x == -1 ? (y % 2 ? -1 : 1) : 0;
  uint64_t r = 1;
  for (int64_t k = 0; k < y; ++k) r *= static_cast<uint64_t>(x);
  return static_cast<double>(static_cast<T>(r));
}

TEST(MathLogic, PowFloatBaseIntegerExponent) {
  Rng rng;
  SEED_TRACE(rng);
  for (DType tx : kFloats)
    for (DType te : {DType::i64, DType::i32, DType::i8, DType::u8, DType::f32, DType::f16})
      for (const auto& [as, bs] : kPairs) {
        SCOPED_TRACE(std::string(dtype_name(tx)) + " ** " + dtype_name(te) + " " + shape_str(as) + ", " + shape_str(bs));
        Tensor x(tx, as);
        const auto u = rng.uniform(as, 0.5f, 2.0f);
        for (size_t k = 0; k < u.size(); ++k) set(x, static_cast<int64_t>(k), (k % 3 == 0 ? -1 : 1) * u[k]);
        const Tensor e = rand_tensor(rng, te, bs, te == DType::u8 ? 0 : -5, 5);
        const Tensor y = run(node("Pow", 2, 15), {&x, &e});
        EXPECT_EQ(y.dtype, tx);
        // The power in double, rounded once to float32 (as onnxruntime), then to the base's type.
        const auto want = ref_map({&x, &e}, [tx](const std::vector<double>& v) {
          return in_type(tx, static_cast<float>(std::pow(v[0], v[1])));
        });
        if (tx == DType::f32 && !is_float(te)) {
          expect_values(y, want);
        } else {  // float exponents: powf, within an ulp of float32 (then rounded to 16 bits)
          const double rel = tx == DType::f32 ? 2.4e-7 : tx == DType::f16 ? 1e-3 : 8e-3;
          expect_near(y, want, rel);
        }
      }
  // Values checked against onnxruntime 1.31 by hand.
  const Tensor x = of(DType::f32, {4}, {1.5, -2, 0.5, -8}), e = of(DType::i32, {4}, {3, 3, -2, 1});
  expect_values(run(node("Pow", 2, 15), {&x, &e}), {3.375, -8, 4, -8});
}

TEST(MathLogic, PowIntegerBase) {
  Rng rng;
  SEED_TRACE(rng);
  for (DType tx : {DType::i64, DType::i32})
    for (DType te : kInts)
      for (const auto& [as, bs] : kPairs) {
        SCOPED_TRACE(std::string(dtype_name(tx)) + " ** " + dtype_name(te) + " " + shape_str(as) + ", " + shape_str(bs));
        const Tensor x = rand_tensor(rng, tx, as, -16, 16);  // [-9, 9]
        const Tensor e = rand_tensor(rng, te, bs, te == DType::u8 ? 0 : -8, 16);
        const Tensor y = run(node("Pow", 2, 13), {&x, &e});
        EXPECT_EQ(y.dtype, tx);
        expect_values(y, ref_map({&x, &e}, [tx](const std::vector<double>& v) {
                        const auto b = static_cast<int64_t>(v[0]), p = static_cast<int64_t>(v[1]);
                        return tx == DType::i64 ? ref_int_pow<int64_t>(b, p) : ref_int_pow<int32_t>(b, p);
                      }));
      }
  // Values checked against onnxruntime 1.31 by hand (0 ** -1: ours 0, onnxruntime INT_MIN).
  const Tensor a = of(DType::i32, {8}, {2, -2, 3, 0, 1, -1, 5, 0}), b = of(DType::i32, {8}, {3, 3, -1, -1, -5, -5, 0, 0});
  expect_values(run(node("Pow", 2, 13), {&a, &b}), {8, -8, 0, 0, 1, -1, 1, 1});
  // Overflow wraps, like Mul (onnxruntime's x * x for a scalar exponent 2).
  const Tensor big = of(DType::i32, {2}, {46341, -46341}), two = of(DType::i32, {}, {2}), three = of(DType::i32, {}, {3});
  expect_values(run(node("Pow", 2, 13), {&big, &two}), {-2147479015, -2147479015});
  expect_values(run(node("Pow", 2, 13), {&big, &three}), {-1932785795, 1932785795});
  const Tensor b64 = of(DType::i64, {2}, {3, -3}), e64 = of(DType::i64, {}, {39});
  Tensor want64(DType::i64, {2});
  want64.data<int64_t>()[0] = 4052555153018976267LL;  // exact (a double power would round it)
  want64.data<int64_t>()[1] = -4052555153018976267LL;
  expect_bitwise(run(node("Pow", 2, 13), {&b64, &e64}), want64);
  // Float exponents on integer bases: integral ones exact; others truncated, NaN / out of range -> minimum.
  const Tensor c = of(DType::i32, {5}, {2, -2, 5, 9, 10}), f = of(DType::f32, {5}, {0.5, 1.5, -1, 0.5, 12.5});
  expect_values(run(node("Pow", 2, 13), {&c, &f}), {1, -2147483648.0, 0, 3, -2147483648.0});
  const Tensor fi = of(DType::f16, {5}, {3, 3, 2, 2, 0});
  expect_values(run(node("Pow", 2, 13), {&c, &fi}), {8, -8, 25, 81, 1});
}

TEST(MathLogic, PowTypeRules) {
  const Tensor f = of(DType::f32, {2}, {1, 2}), i = of(DType::i32, {2}, {1, 2}), h = of(DType::f16, {2}, {1, 2});
  const Tensor b = of(DType::b8, {2}, {1, 0}), c = of(DType::i8, {2}, {1, 2});
  EXPECT_HAS(error_of([&] { run(node("Pow", 2, 11), {&f, &i}); }), "before opset 12 both have one type");
  EXPECT_HAS(error_of([&] { run(node("Pow", 2, 11), {&i, &i}); }), "int32/int64 from opset 12");
  expect_values(run(node("Pow", 2, 11), {&h, &h}), {1, 4});
  expect_values(run(node("Pow", 2, 7), {&f, &f}), {1, 4});
  EXPECT_HAS(error_of([&] { run(node("Pow", 2, 15), {&f, &b}); }), "exponent has type bool");
  EXPECT_HAS(error_of([&] { run(node("Pow", 2, 15), {&c, &c}); }), "base has type int8");
  EXPECT_EQ(OpRegistry::get().find("", "Pow", 6), nullptr);
}

// ---------------------------------------------------------------- threads

TEST(MathLogic, ResultsIndependentOfThreads) {
  Rng rng;
  SEED_TRACE(rng);
  const Shape big = {64, 1, 700}, row = {3, 700};  // past the threading threshold, broadcast both ways
  auto check = [&](const Node& n, const std::vector<const Tensor*>& in) {
    SCOPED_TRACE(n.op_type);
    const Tensor one = run(n, in, 1);
    for (int threads : {2, 3, 4}) expect_bitwise(run(n, in, threads), one);
  };
  Tensor a(DType::f32, big), b(DType::f32, row), c(DType::f32, {700});
  for (Tensor* t : {&a, &b, &c}) {
    const auto u = rng.uniform(t->shape, -3.0f, 3.0f);
    std::memcpy(t->raw(), u.data(), u.size() * sizeof(float));
  }
  for (const char* op : {"Min", "Max", "Sum", "Mean"}) check(node(op, 3), {&a, &b, &c});
  check(node("Less", 2), {&a, &b});
  check(node("Mod", 2, 13, [](onnx::NodeProto& p) { attr_i(p, "fmod", 1); }), {&a, &b});
  check(node("Pow", 2), {&a, &b});
  const Tensor lo = of(DType::f32, {}, {-1}), hi = of(DType::f32, {}, {1});
  check(node("Clip", 3), {&a, &lo, &hi});
  const Tensor ia = rand_tensor(rng, DType::i64, big), ib = rand_tensor(rng, DType::i64, row);
  check(node("Mod", 2), {&ia, &ib});
  check(node("Pow", 2, 13), {&ia, &ib});
  const Tensor ha = a.cast(DType::f16), hb = b.cast(DType::f16);
  check(node("Sum", 2), {&ha, &hb});
  check(node("IsNaN", 1), {&a});
}

}  // namespace
}  // namespace mgi
