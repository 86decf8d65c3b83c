// Comparisons (Equal: numeric and bool; Less, LessOrEqual, Greater,
// GreaterOrEqual: numeric), the bool ops And, Or, Xor, Not, the float tests
// IsNaN and IsInf (all with bool outputs; binary ones with numpy broadcast), and
// Where (bool condition, X/Y of any one type, three-way broadcast). float16 and
// bfloat16 compare as their float32 values (exact). Each output element depends
// on its own inputs only, so results never depend on threads or batch size.
#include <cmath>
#include <string>

#include "broadcast_map.hpp"
#include "error.hpp"
#include "layout.hpp"
#include "onnx_attrs.hpp"

namespace mgi {

namespace {

DType type_bool(const Node&, const std::vector<DType>&, size_t) { return DType::b8; }
DType type_of_x(const Node&, const std::vector<DType>& in, size_t) { return in.at(1); }

// ---------------------------------------------------------------- Equal

void infer_equal(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  if (a.type(0) != a.type(1))
    a.fail(std::string("inputs have types ") + dtype_name(a.type(0)) + " and " + dtype_name(a.type(1)) +
           "; expected one type");
  out[0] = {DType::b8, a.broadcast(a.shape(0), a.shape(1))};
}

template <class T, class Load>
void equal_typed(const KernelArgs& k, Load load) {
  const Shape& s = *k.out[0].shape;
  const std::array<std::vector<int64_t>, 2> st{broadcast_strides(*k.in[0].shape, s),
                                               broadcast_strides(*k.in[1].shape, s)};
  const T* x = k.in[0].as<T>();
  const T* y = k.in[1].as<T>();
  uint8_t* z = k.out[0].as<uint8_t>();
  for_each_broadcast(s, st, [&](int64_t e, const std::array<int64_t, 2>& o) {
    z[e] = static_cast<uint8_t>(load(x[o[0]]) == load(y[o[1]]));
  });
}

void cpu_equal(const KernelArgs& k) {
  auto same = [](auto v) { return v; };
  switch (k.in[0].dtype) {
    case DType::f32: return equal_typed<float>(k, same);
    case DType::f16: return equal_typed<uint16_t>(k, [](uint16_t v) { return half_to_float(v); });
    case DType::bf16: return equal_typed<uint16_t>(k, [](uint16_t v) { return bf16_to_float(v); });
    case DType::i64: return equal_typed<int64_t>(k, same);
    case DType::i32: return equal_typed<int32_t>(k, same);
    case DType::i8: return equal_typed<int8_t>(k, same);
    case DType::u8: return equal_typed<uint8_t>(k, same);
    case DType::b8: return equal_typed<uint8_t>(k, [](uint8_t v) { return v != 0; });
  }
}

// ---------------------------------------------------------------- Less, LessOrEqual, Greater, GreaterOrEqual

enum class Cmp { lt, le, gt, ge };

template <Cmp C>
void infer_compare(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const DType t = a.type(0);
  if (a.type(1) != t)
    a.fail(std::string("inputs have types ") + dtype_name(t) + " and " + dtype_name(a.type(1)) + "; expected one type");
  // Less/Greater took only float types before opset 9; bool is never ordered.
  if (t == DType::b8 || (a.node.opset < 9 && !is_float(t)))
    a.fail(std::string("inputs have type ") + dtype_name(t) + "; expected " +
           (a.node.opset < 9 ? "float32, float16 or bfloat16 (integers from opset 9)" : "a numeric type"));
  out[0] = {DType::b8, a.broadcast(a.shape(0), a.shape(1))};
}

template <Cmp C, class V>
bool compare(V x, V y) {
  if constexpr (C == Cmp::lt) return x < y;
  else if constexpr (C == Cmp::le) return x <= y;
  else if constexpr (C == Cmp::gt) return x > y;
  else return x >= y;
}

template <Cmp C>
void cpu_compare(const KernelArgs& k) {
  const Shape &as = *k.in[0].shape, &bs = *k.in[1].shape, &os = *k.out[0].shape;
  uint8_t* z = k.out[0].as<uint8_t>();
  const int t = k.opt.threads;
  auto run = [&](auto tag, auto load) {
    using T = decltype(tag);
    map2(as, k.in[0].as<T>(), bs, k.in[1].as<T>(), os, z, t,
         [load](T x, T y) { return static_cast<uint8_t>(compare<C>(load(x), load(y))); });
  };
  auto same = [](auto v) { return v; };
  switch (k.in[0].dtype) {
    case DType::f32: return run(float{}, same);
    case DType::f16: return run(uint16_t{}, [](uint16_t v) { return half_to_float(v); });
    case DType::bf16: return run(uint16_t{}, [](uint16_t v) { return bf16_to_float(v); });
    case DType::i64: return run(int64_t{}, same);
    case DType::i32: return run(int32_t{}, same);
    case DType::i8: return run(int8_t{}, same);
    case DType::u8: return run(uint8_t{}, same);
    case DType::b8: break;
  }
  MGI_ASSERT(false, "compare: bool inputs");
}

// ---------------------------------------------------------------- And, Or, Xor, Not

void infer_bool_binary(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  for (size_t k = 0; k < 2; ++k)
    if (a.type(k) != DType::b8)
      a.fail("input " + std::to_string(k) + " has type " + dtype_name(a.type(k)) + "; expected bool");
  out[0] = {DType::b8, a.broadcast(a.shape(0), a.shape(1))};
}

void infer_not(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  if (a.type(0) != DType::b8) a.fail(std::string("input has type ") + dtype_name(a.type(0)) + "; expected bool");
  out[0] = {DType::b8, a.shape(0)};
}

enum class BoolOp { and_, or_, xor_ };

// bool bytes are 0 or 1; any nonzero byte still reads as true.
template <BoolOp B>
void cpu_bool_binary(const KernelArgs& k) {
  map2(*k.in[0].shape, k.in[0].as<uint8_t>(), *k.in[1].shape, k.in[1].as<uint8_t>(), *k.out[0].shape,
       k.out[0].as<uint8_t>(), k.opt.threads, [](uint8_t x, uint8_t y) {
         const bool p = x != 0, q = y != 0;
         if constexpr (B == BoolOp::and_) return static_cast<uint8_t>(p & q);
         else if constexpr (B == BoolOp::or_) return static_cast<uint8_t>(p | q);
         else return static_cast<uint8_t>(p ^ q);
       });
}

void cpu_not(const KernelArgs& k) {
  map1(k.out[0].numel(), k.in[0].as<uint8_t>(), k.out[0].as<uint8_t>(), k.opt.threads,
       [](uint8_t x) { return static_cast<uint8_t>(x == 0); });
}

// ---------------------------------------------------------------- IsNaN, IsInf

void parse_isinf(const OnnxNode& on, Node& n) {
  n.detect_positive = on.get_int("detect_positive", 1) != 0;
  n.detect_negative = on.get_int("detect_negative", 1) != 0;
}

template <bool Inf>
void infer_float_test(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const DType t = a.type(0);
  // IsInf took float16/bfloat16 only from opset 20.
  const bool half_ok = !Inf || a.node.opset >= 20;
  if (t != DType::f32 && !(half_ok && is_float(t)))
    a.fail(std::string("input has type ") + dtype_name(t) + "; expected " +
           (half_ok ? "float32, float16 or bfloat16" : "float32 (float16/bfloat16 from opset 20)"));
  out[0] = {DType::b8, a.shape(0)};
}

template <bool Inf>
void cpu_float_test(const KernelArgs& k) {
  const int64_t n = k.out[0].numel();
  uint8_t* z = k.out[0].as<uint8_t>();
  const bool pos = k.node.detect_positive, neg = k.node.detect_negative;
  auto test = [pos, neg](float v) {
    if constexpr (Inf) return static_cast<uint8_t>((pos && v == INFINITY) || (neg && v == -INFINITY));
    else return static_cast<uint8_t>(v != v);
  };
  switch (k.in[0].dtype) {
    case DType::f32: return map1(n, k.in[0].as<float>(), z, k.opt.threads, test);
    case DType::f16:
      return map1(n, k.in[0].as<uint16_t>(), z, k.opt.threads, [test](uint16_t v) { return test(half_to_float(v)); });
    case DType::bf16:
      return map1(n, k.in[0].as<uint16_t>(), z, k.opt.threads, [test](uint16_t v) { return test(bf16_to_float(v)); });
    default: MGI_ASSERT(false, std::string("IsNaN/IsInf: unsupported type ") + dtype_name(k.in[0].dtype));
  }
}

// ---------------------------------------------------------------- Where

void infer_where(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  if (a.type(0) != DType::b8)
    a.fail(std::string("input 'condition' has type ") + dtype_name(a.type(0)) + "; expected bool");
  if (a.type(1) != a.type(2))
    a.fail(std::string("X and Y must have one type (have ") + dtype_name(a.type(1)) + " and " +
           dtype_name(a.type(2)) + ")");
  out[0] = {a.type(1), a.broadcast(a.broadcast(a.shape(0), a.shape(1)), a.shape(2))};
}

template <class T>
void where_typed(const KernelArgs& k) {
  const Shape& s = *k.out[0].shape;
  const std::array<std::vector<int64_t>, 3> st{broadcast_strides(*k.in[0].shape, s),
                                               broadcast_strides(*k.in[1].shape, s),
                                               broadcast_strides(*k.in[2].shape, s)};
  const uint8_t* c = k.in[0].as<uint8_t>();
  const T* x = k.in[1].as<T>();
  const T* y = k.in[2].as<T>();
  T* z = k.out[0].as<T>();
  for_each_broadcast(s, st, [&](int64_t e, const std::array<int64_t, 3>& o) { z[e] = c[o[0]] ? x[o[1]] : y[o[2]]; });
}

void cpu_where(const KernelArgs& k) {
  switch (dtype_size(k.in[1].dtype)) {
    case 1: return where_typed<uint8_t>(k);
    case 2: return where_typed<uint16_t>(k);
    case 4: return where_typed<uint32_t>(k);
    case 8: return where_typed<uint64_t>(k);
    default: MGI_ASSERT(false, "element size");
  }
}

}  // namespace

void register_logic_ops(OpRegistry& r) {
  {
    OpDef d;
    d.name = "Equal";
    d.since = 7;
    d.min_inputs = d.max_inputs = 2;
    d.infer = infer_equal;
    d.cpu = cpu_equal;
    d.type = type_bool;
    d.types = "T: all (both inputs one type); T1: bool";
    d.notes = "Numpy broadcast. Floats compare as values (NaN != NaN, -0 == 0). Opset 1-6 (broadcast "
              "attribute) is not supported; strings are not.";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "Where";
    d.since = 9;
    d.min_inputs = d.max_inputs = 3;
    d.infer = infer_where;
    d.cpu = cpu_where;
    d.type = type_of_x;
    d.types = "B: bool; T: all";
    d.notes = "Three-way numpy broadcast of condition, X and Y.";
    r.add(d);
  }
  auto compare_op = [&](const char* name, int since, InferFn infer, CpuKernel cpu) {
    OpDef d;
    d.name = name;
    d.since = since;
    d.min_inputs = d.max_inputs = 2;
    d.infer = infer;
    d.cpu = cpu;
    d.type = type_bool;
    d.types = since < 9 ? "T: float32, float16, bfloat16; from opset 9 also int64, int32, int8, uint8. T1: bool"
                        : "T: float32, float16, bfloat16, int64, int32, int8, uint8. T1: bool";
    d.notes = "Numpy broadcast. Any comparison with NaN is false; -0 == 0.";
    if (since < 9) d.notes += " Opset 1-6 (broadcast attribute) is not supported.";
    r.add(std::move(d));
  };
  compare_op("Less", 7, infer_compare<Cmp::lt>, cpu_compare<Cmp::lt>);
  compare_op("LessOrEqual", 12, infer_compare<Cmp::le>, cpu_compare<Cmp::le>);
  compare_op("Greater", 7, infer_compare<Cmp::gt>, cpu_compare<Cmp::gt>);
  compare_op("GreaterOrEqual", 12, infer_compare<Cmp::ge>, cpu_compare<Cmp::ge>);
  auto bool_op = [&](const char* name, CpuKernel cpu) {
    OpDef d;
    d.name = name;
    d.since = 7;  // opset 1-6: broadcast attribute
    d.min_inputs = d.max_inputs = 2;
    d.infer = infer_bool_binary;
    d.cpu = cpu;
    d.type = type_bool;
    d.types = "T: bool; T1: bool";
    d.notes = "Numpy broadcast. Opset 1-6 (broadcast attribute) is not supported.";
    r.add(std::move(d));
  };
  bool_op("And", cpu_bool_binary<BoolOp::and_>);
  bool_op("Or", cpu_bool_binary<BoolOp::or_>);
  bool_op("Xor", cpu_bool_binary<BoolOp::xor_>);
  {
    OpDef d;
    d.name = "Not";
    d.infer = infer_not;
    d.cpu = cpu_not;
    d.type = type_bool;
    d.types = "T: bool";
    r.add(std::move(d));
  }
  {
    OpDef d;
    d.name = "IsNaN";
    d.since = 9;
    d.infer = infer_float_test<false>;
    d.cpu = cpu_float_test<false>;
    d.type = type_bool;
    d.types = "T1: float32, float16, bfloat16; T2: bool";
    r.add(std::move(d));
  }
  {
    OpDef d;
    d.name = "IsInf";
    d.since = 10;
    d.parse = parse_isinf;
    d.infer = infer_float_test<true>;
    d.cpu = cpu_float_test<true>;
    d.type = type_bool;
    d.types = "T1: float32; from opset 20 also float16, bfloat16. T2: bool";
    d.notes = "detect_positive / detect_negative (default 1) select +inf / -inf; NaN is never inf.";
    r.add(std::move(d));
  }
}

}  // namespace mgi
