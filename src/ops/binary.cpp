// Binary elementwise ops with numpy broadcasting: Add, Sub, Mul, Div (float32,
// int32, int64) and PRelu (float32); Pow is in math.cpp. Each output element depends on its inputs
// only, so OpenMP over elements keeps results bitwise independent of threads
// and batch size. Integer arithmetic wraps on overflow, and integer division
// truncates toward zero with x / 0 == 0 (shape arithmetic must never trap).
#include <cmath>
#include <limits>
#include <type_traits>

#include "broadcast_map.hpp"
#include "error.hpp"
#include "onnx_attrs.hpp"
#include "op_registry.hpp"

namespace mgi {

namespace {

enum class BinOp { add, sub, mul, div };

void run_float(BinOp op, const KernelArgs& k) {
  const Shape &as = *k.in[0].shape, &bs = *k.in[1].shape, &os = *k.out[0].shape;
  const float* a = k.in[0].as<float>();
  const float* b = k.in[1].as<float>();
  float* out = k.out[0].as<float>();
  const int t = k.opt.threads;
  switch (op) {
    case BinOp::add: return map2(as, a, bs, b, os, out, t, [](float x, float y) { return x + y; });
    case BinOp::sub: return map2(as, a, bs, b, os, out, t, [](float x, float y) { return x - y; });
    case BinOp::mul: return map2(as, a, bs, b, os, out, t, [](float x, float y) { return x * y; });
    case BinOp::div: return map2(as, a, bs, b, os, out, t, [](float x, float y) { return x / y; });
  }
  MGI_ASSERT(false, "binary: unknown op");
}

template <class T>
void run_int(BinOp op, const KernelArgs& k) {
  using U = std::make_unsigned_t<T>;
  const Shape &as = *k.in[0].shape, &bs = *k.in[1].shape, &os = *k.out[0].shape;
  const T* a = k.in[0].as<T>();
  const T* b = k.in[1].as<T>();
  T* out = k.out[0].as<T>();
  const int t = k.opt.threads;
  switch (op) {
    case BinOp::add:
      return map2(as, a, bs, b, os, out, t,
                  [](T x, T y) { return static_cast<T>(static_cast<U>(x) + static_cast<U>(y)); });
    case BinOp::sub:
      return map2(as, a, bs, b, os, out, t,
                  [](T x, T y) { return static_cast<T>(static_cast<U>(x) - static_cast<U>(y)); });
    case BinOp::mul:
      return map2(as, a, bs, b, os, out, t,
                  [](T x, T y) { return static_cast<T>(static_cast<U>(x) * static_cast<U>(y)); });
    case BinOp::div:
      return map2(as, a, bs, b, os, out, t, [](T x, T y) {
        if (y == 0) return T{0};
        if (y == -1) return static_cast<T>(U{0} - static_cast<U>(x));  // MIN / -1 wraps to MIN
        return static_cast<T>(x / y);
      });
  }
  MGI_ASSERT(false, "binary: unknown op");
}

template <BinOp Op>
void binary_kernel(const KernelArgs& k) {
  switch (k.in[0].dtype) {
    case DType::f32: return run_float(Op, k);
    case DType::i64: return run_int<int64_t>(Op, k);
    case DType::i32: return run_int<int32_t>(Op, k);
    default: break;
  }
  MGI_ASSERT(false, std::string("binary: unsupported type ") + dtype_name(k.in[0].dtype));
}

void infer_binary(const InferArgs& a, std::vector<OutInfo>& out) {
  const Shape& as = a.shape(0);
  const Shape& bs = a.shape(1);
  const DType ta = a.type(0), tb = a.type(1);
  if (ta != tb) a.fail(std::string("inputs have types ") + dtype_name(ta) + " and " + dtype_name(tb));
  if (ta != DType::f32 && ta != DType::i64 && ta != DType::i32)
    a.fail(std::string("inputs have type ") + dtype_name(ta) + "; expected float32, int32 or int64");
  out[0].dtype = ta;
  out[0].shape = a.broadcast(as, bs);
}

// PRelu: y = x < 0 ? slope * x : x, slope broadcast to X's shape (unidirectional).
void infer_prelu(const InferArgs& a, std::vector<OutInfo>& out) {
  a.want_type(0, DType::f32);
  a.want_type(1, DType::f32);
  const Shape& xs = a.shape(0);
  const Shape& ss = a.shape(1);
  if (ss.size() > xs.size() || a.broadcast(xs, ss) != xs)
    a.fail("slope has shape " + shape_str(ss) + ", which does not broadcast to X's shape " + shape_str(xs));
  out[0].dtype = DType::f32;
  out[0].shape = xs;
}

void prelu_kernel(const KernelArgs& k) {
  map2(*k.in[0].shape, k.in[0].as<float>(), *k.in[1].shape, k.in[1].as<float>(), *k.out[0].shape,
       k.out[0].as<float>(), k.opt.threads, [](float x, float s) { return x < 0.0f ? s * x : x; });
}

void parse_arith(const OnnxNode& on, Node&) {
  if (on.has("axis") && on.get_int("broadcast", 0) != 0)
    on.fail("legacy broadcasting with 'axis' (opset < 7) is not supported");
}

void add_binary(OpRegistry& r, const char* name, CpuKernel kernel) {
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 2;
  d.parse = parse_arith;
  d.infer = infer_binary;
  d.cpu = kernel;
  d.types = "T: float32, int32, int64";
  d.notes = "legacy broadcast with 'axis' (opset < 7) refused; integers wrap on overflow";
  if (std::string(name) == "Div") d.notes += "; integer division truncates toward zero, x / 0 = 0";
  r.add(std::move(d));
}

}  // namespace

void register_binary_ops(OpRegistry& r) {
  add_binary(r, "Add", binary_kernel<BinOp::add>);
  add_binary(r, "Sub", binary_kernel<BinOp::sub>);
  add_binary(r, "Mul", binary_kernel<BinOp::mul>);
  add_binary(r, "Div", binary_kernel<BinOp::div>);
  {
    OpDef d;
    d.name = "PRelu";
    d.since = 7;  // opset 6 and earlier: slope of X's shape or one element, no broadcasting
    d.min_inputs = d.max_inputs = 2;
    d.infer = infer_prelu;
    d.cpu = prelu_kernel;
    d.types = "float32";
    d.notes = "slope broadcast to X (unidirectional); integer types refused";
    r.add(std::move(d));
  }
}

}  // namespace mgi
