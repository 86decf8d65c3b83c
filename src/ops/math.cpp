// Math ops with numpy broadcasting (one file, over 400 lines: the four op groups
// share the broadcast walk and the float16/bfloat16 round trip below): the variadic Min, Max, Sum, Mean; Clip (both
// forms); Mod (both modes); Pow (float and integer bases, any numeric exponent).
// float16/bfloat16 are storage types: they compute through float32 and round
// once to their own type (Min/Max/Clip select an input's own bits). Each output
// element depends on its own inputs only, through a fixed order of operations
// (variadic ops fold inputs left to right), so OpenMP over elements keeps
// results bitwise independent of threads and batch size.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "broadcast_map.hpp"
#include "error.hpp"
#include "layout.hpp"
#include "onnx_attrs.hpp"
#include "op_registry.hpp"

namespace mgi {

namespace {

// ---------------------------------------------------------------- helpers

struct F16 {
  static float load(uint16_t v) { return half_to_float(v); }
  static uint16_t store(float f) { return float_to_half(f); }
  static constexpr uint16_t lowest = 0xfbff, highest = 0x7bff;  // -+65504
};
struct BF16 {
  static float load(uint16_t v) { return bf16_to_float(v); }
  static uint16_t store(float f) { return float_to_bf16(f); }
  static constexpr uint16_t lowest = 0xff7f, highest = 0x7f7f;  // -+3.39e38
};

bool is_numeric(DType t) { return t != DType::b8; }

// "float32, float16 or bfloat16" style lists for messages.
std::string type_fail(const char* what, DType t, const char* expected) {
  return std::string(what) + " has type " + dtype_name(t) + "; expected " + expected;
}

// Calls f(Storage{}) for the storage type of t (f16/bf16: uint16_t; bool: uint8_t).
template <class F>
void by_type(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::f16:
    case DType::bf16: return f(uint16_t{});
    case DType::i64: return f(int64_t{});
    case DType::i32: return f(int32_t{});
    case DType::i8: return f(int8_t{});
    case DType::u8:
    case DType::b8: return f(uint8_t{});
  }
}

// One input of a fold: its shape and data.
template <class T>
struct Operand {
  const Shape* shape;
  const T* data;
};

// out (shape os) = input 0 broadcast to os.
template <class T>
void broadcast_copy(const Operand<T>& x, const Shape& os, T* out) {
  if (*x.shape == os) {
    std::copy(x.data, x.data + shape_numel(os), out);
    return;
  }
  const std::array<std::vector<int64_t>, 1> st{broadcast_strides(*x.shape, os)};
  for_each_broadcast(os, st, [&](int64_t e, const std::array<int64_t, 1>& o) { out[e] = x.data[o[0]]; });
}

// out = f(...f(f(x0, x1), x2)..., xn): inputs folded left to right, each
// broadcast to os (the broadcast of them all).
template <class T, class F>
void fold(const std::vector<Operand<T>>& ins, const Shape& os, T* out, int threads, F f) {
  size_t next = 1;
  if (ins.size() >= 2 && broadcast_shapes(*ins[0].shape, *ins[1].shape).out == os) {
    map2(*ins[0].shape, ins[0].data, *ins[1].shape, ins[1].data, os, out, threads, f);
    next = 2;
  } else {
    broadcast_copy(ins[0], os, out);
  }
  for (size_t j = next; j < ins.size(); ++j)
    map2(os, static_cast<const T*>(out), *ins[j].shape, ins[j].data, os, out, threads, f);
}

template <class T>
std::vector<Operand<T>> operands(const KernelArgs& k) {
  std::vector<Operand<T>> v;
  for (const In& in : k.in) v.push_back({in.shape, in.as<T>()});
  return v;
}

// ---------------------------------------------------------------- Min, Max, Sum, Mean

enum class Var { min, max, sum, mean };

template <Var V>
void infer_variadic(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const DType t = a.type(0);
  for (size_t k = 1; k < a.count(); ++k)
    if (a.type(k) != t)
      a.fail(std::string("input ") + std::to_string(k) + " has type " + dtype_name(a.type(k)) + ", input 0 " +
             dtype_name(t) + "; expected one type");
  constexpr bool minmax = V == Var::min || V == Var::max;
  if (minmax && a.node.opset >= 12) {
    if (!is_numeric(t)) a.fail(type_fail("input 0", t, "a numeric type"));
  } else if (!is_float(t)) {
    a.fail(type_fail("input 0", t, minmax ? "float32, float16 or bfloat16 (integers from opset 12)"
                                          : "float32, float16 or bfloat16"));
  }
  Shape s = a.shape(0);
  for (size_t k = 1; k < a.count(); ++k) s = a.broadcast(s, a.shape(k));
  out[0] = {t, s};
}

// NaN in either operand gives NaN (as numpy's minimum/maximum and onnxruntime);
// of equal values (0 and -0) the first operand is kept.
struct MinF {
  float operator()(float a, float b) const { return (a != a || b != b) ? a + b : (b < a ? b : a); }
};
struct MaxF {
  float operator()(float a, float b) const { return (a != a || b != b) ? a + b : (a < b ? b : a); }
};

template <Var V, class H>
void variadic_half(const KernelArgs& k) {
  const Shape& os = *k.out[0].shape;
  uint16_t* out = k.out[0].as<uint16_t>();
  const int t = k.opt.threads;
  if constexpr (V == Var::min || V == Var::max) {
    fold(operands<uint16_t>(k), os, out, t, [](uint16_t a, uint16_t b) {
      const float fa = H::load(a), fb = H::load(b);
      if (fa != fa) return a;
      if (fb != fb) return b;
      if (V == Var::min) return fb < fa ? b : a;
      return fa < fb ? b : a;
    });
  } else {
    // Sum in float32, rounded once to the storage type.
    std::vector<std::vector<float>> widened(k.in.size());
    std::vector<Operand<float>> ins;
    for (size_t j = 0; j < k.in.size(); ++j) {
      const int64_t n = k.in[j].numel();
      widened[j].resize(static_cast<size_t>(n));
      const uint16_t* p = k.in[j].as<uint16_t>();
      for (int64_t e = 0; e < n; ++e) widened[j][static_cast<size_t>(e)] = H::load(p[e]);
      ins.push_back({k.in[j].shape, widened[j].data()});
    }
    std::vector<float> acc(static_cast<size_t>(shape_numel(os)));
    fold(ins, os, acc.data(), t, [](float a, float b) { return a + b; });
    const float count = static_cast<float>(k.in.size());
    map1(static_cast<int64_t>(acc.size()), acc.data(), out, t,
         [count](float v) { return H::store(V == Var::mean ? v / count : v); });
  }
}

template <Var V>
void cpu_variadic(const KernelArgs& k) {
  const Shape& os = *k.out[0].shape;
  const int t = k.opt.threads;
  switch (k.in[0].dtype) {
    case DType::f16: return variadic_half<V, F16>(k);
    case DType::bf16: return variadic_half<V, BF16>(k);
    case DType::f32: {
      float* out = k.out[0].as<float>();
      const auto ins = operands<float>(k);
      if (V == Var::min) return fold(ins, os, out, t, MinF{});
      if (V == Var::max) return fold(ins, os, out, t, MaxF{});
      fold(ins, os, out, t, [](float a, float b) { return a + b; });
      if (V == Var::mean) {
        const float count = static_cast<float>(k.in.size());
        map1(shape_numel(os), static_cast<const float*>(out), out, t, [count](float v) { return v / count; });
      }
      return;
    }
    default:
      if constexpr (V == Var::min || V == Var::max) {
        by_type(k.in[0].dtype, [&](auto tag) {
          using T = decltype(tag);
          fold(operands<T>(k), os, k.out[0].as<T>(), t, [](T a, T b) {
            if (V == Var::min) return b < a ? b : a;
            return a < b ? b : a;
          });
        });
        return;
      }
      MGI_ASSERT(false, std::string("Sum/Mean: unsupported type ") + dtype_name(k.in[0].dtype));
  }
}

// ---------------------------------------------------------------- Clip

// Opset 6-10: min and max are attributes, kept in Node::alpha / Node::beta
// (absent: -FLT_MAX / FLT_MAX, the float32 lowest and highest).
void parse_clip6(const OnnxNode& on, Node& n) {
  n.alpha = on.get_float("min", std::numeric_limits<float>::lowest());
  n.beta = on.get_float("max", std::numeric_limits<float>::max());
}

void infer_clip(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const DType t = a.type(0);
  if (a.node.opset >= 12) {
    if (!is_numeric(t)) a.fail(type_fail("input 0", t, "a numeric type"));
  } else if (!is_float(t)) {
    a.fail(type_fail("input 0", t, "float32, float16 or bfloat16 (integers from opset 12)"));
  }
  static const char* names[] = {"input", "min", "max"};
  for (size_t k = 1; k < a.count(); ++k) {
    if (!a.has(k)) continue;
    if (a.type(k) != t)
      a.fail(std::string("input '") + names[k] + "' has type " + dtype_name(a.type(k)) + "; expected " +
             dtype_name(t) + ", the type of the input");
    if (shape_numel(a.shape(k)) != 1)
      a.fail(std::string("input '") + names[k] + "' has shape " + shape_str(a.shape(k)) + "; expected a scalar");
  }
  out[0] = {t, a.shape(0)};
}

// y = min(max(x, lo), hi), each as "the other operand only when strictly
// beyond": NaN x stays NaN, a NaN bound clips nothing (onnxruntime's result),
// and lo > hi gives hi everywhere (the ONNX spec).
template <class T>
void clip_typed(const KernelArgs& k, T lo, T hi) {
  map1(k.out[0].numel(), k.in[0].as<T>(), k.out[0].as<T>(), k.opt.threads, [lo, hi](T x) {
    const T y = x < lo ? lo : x;
    return hi < y ? hi : y;
  });
}

template <class H>
void clip_half(const KernelArgs& k, uint16_t lo, uint16_t hi) {
  const float flo = H::load(lo), fhi = H::load(hi);
  map1(k.out[0].numel(), k.in[0].as<uint16_t>(), k.out[0].as<uint16_t>(), k.opt.threads,
       [=](uint16_t x) {
         const float fx = H::load(x);
         if (fx < flo) return fhi < flo ? hi : lo;
         return fhi < fx ? hi : x;
       });
}

// The bound of input k (min: 1, max: 2) or the attribute / type default.
template <class T>
T clip_bound(const KernelArgs& k, size_t idx, T fallback) {
  if (k.node.opset >= 11) return k.in.size() > idx && k.in[idx].present() ? k.in[idx].as<T>()[0] : fallback;
  return fallback;
}

void cpu_clip(const KernelArgs& k) {
  const bool attrs = k.node.opset < 11;
  const float amin = k.node.alpha, amax = k.node.beta;
  const bool has_amin = attrs && amin != std::numeric_limits<float>::lowest();
  const bool has_amax = attrs && amax != std::numeric_limits<float>::max();
  switch (k.in[0].dtype) {
    case DType::f32:
      return clip_typed<float>(k, clip_bound<float>(k, 1, attrs ? amin : std::numeric_limits<float>::lowest()),
                               clip_bound<float>(k, 2, attrs ? amax : std::numeric_limits<float>::max()));
    case DType::f16:
      return clip_half<F16>(k, clip_bound<uint16_t>(k, 1, has_amin ? F16::store(amin) : F16::lowest),
                            clip_bound<uint16_t>(k, 2, has_amax ? F16::store(amax) : F16::highest));
    case DType::bf16:
      return clip_half<BF16>(k, clip_bound<uint16_t>(k, 1, has_amin ? BF16::store(amin) : BF16::lowest),
                             clip_bound<uint16_t>(k, 2, has_amax ? BF16::store(amax) : BF16::highest));
    default:
      by_type(k.in[0].dtype, [&](auto tag) {
        using T = decltype(tag);
        clip_typed<T>(k, clip_bound<T>(k, 1, std::numeric_limits<T>::lowest()),
                      clip_bound<T>(k, 2, std::numeric_limits<T>::max()));
      });
  }
}

// ---------------------------------------------------------------- Mod

void parse_mod(const OnnxNode& on, Node& n) {
  const int64_t f = on.get_int("fmod", 0);
  if (f != 0 && f != 1) on.fail("attribute 'fmod' is " + std::to_string(f) + "; expected 0 or 1");
  n.fmod = f == 1;
}

void infer_mod(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const DType t = a.type(0);
  if (a.type(1) != t)
    a.fail(std::string("inputs have types ") + dtype_name(t) + " and " + dtype_name(a.type(1)) + "; expected one type");
  if (!is_numeric(t)) a.fail(type_fail("input 0", t, "a numeric type"));
  if (is_float(t) && !a.node.fmod)
    a.fail(std::string("fmod=0 on ") + dtype_name(t) + " inputs; the ONNX spec requires fmod=1 for floating point");
  out[0] = {t, a.broadcast(a.shape(0), a.shape(1))};
}

// Integer modulo. fmod: C's remainder, the sign of the dividend; otherwise the
// sign of the divisor (Python's %). x mod 0 = 0 (onnxruntime fails instead;
// shape arithmetic must never trap), x mod -1 = 0 (no INT_MIN % -1 overflow).
template <class T>
T int_mod(T x, T y, bool c_fmod) {
  if (y == 0) return 0;
  if constexpr (std::is_signed_v<T>) {
    if (y == -1) return 0;
  }
  T r = static_cast<T>(x % y);
  if (!c_fmod && r != 0 && ((r < 0) != (y < 0))) r = static_cast<T>(r + y);
  return r;
}

template <class H>
void mod_half(const KernelArgs& k) {
  map2(*k.in[0].shape, k.in[0].as<uint16_t>(), *k.in[1].shape, k.in[1].as<uint16_t>(), *k.out[0].shape,
       k.out[0].as<uint16_t>(), k.opt.threads,
       [](uint16_t a, uint16_t b) { return H::store(std::fmod(H::load(a), H::load(b))); });
}

void cpu_mod(const KernelArgs& k) {
  const Shape &as = *k.in[0].shape, &bs = *k.in[1].shape, &os = *k.out[0].shape;
  const int t = k.opt.threads;
  switch (k.in[0].dtype) {
    case DType::f32:  // fmod=1 (inference refuses fmod=0 on floats)
      return map2(as, k.in[0].as<float>(), bs, k.in[1].as<float>(), os, k.out[0].as<float>(), t,
                  [](float a, float b) { return std::fmod(a, b); });
    case DType::f16: return mod_half<F16>(k);
    case DType::bf16: return mod_half<BF16>(k);
    default:
      by_type(k.in[0].dtype, [&](auto tag) {
        using T = decltype(tag);
        if constexpr (std::is_integral_v<T>) {
          const bool c_fmod = k.node.fmod;
          map2(as, k.in[0].as<T>(), bs, k.in[1].as<T>(), os, k.out[0].as<T>(), t,
               [c_fmod](T a, T b) { return int_mod<T>(a, b, c_fmod); });
        }
      });
  }
}

// ---------------------------------------------------------------- Pow

void infer_pow(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const DType tx = a.type(0), te = a.type(1);
  if (a.node.opset < 12) {
    if (!is_float(tx)) a.fail(type_fail("base", tx, "float32, float16 or bfloat16 (int32/int64 from opset 12)"));
    if (te != tx)
      a.fail(std::string("exponent has type ") + dtype_name(te) + ", the base " + dtype_name(tx) +
             "; before opset 12 both have one type");
  } else {
    if (!is_float(tx) && tx != DType::i32 && tx != DType::i64)
      a.fail(type_fail("base", tx, "float32, float16, bfloat16, int32 or int64"));
    if (!is_numeric(te)) a.fail(type_fail("exponent", te, "a numeric type"));
  }
  out[0] = {tx, a.broadcast(a.shape(0), a.shape(1))};
}

// float base, float exponent: powf, x^2 as x * x (exact either way; common in exported norms).
inline float pow_ff(float x, float y) { return y == 2.0f ? x * x : std::pow(x, y); }
// float base, integer exponent: the power in double, rounded once (what onnxruntime computes).
inline float pow_fi(float x, int64_t y) {
  return static_cast<float>(std::pow(static_cast<double>(x), static_cast<double>(y)));
}

// Integer base, integer exponent: exact, wrapping on overflow like Mul (onnxruntime
// multiplies for a scalar exponent of 2 or 3 and wraps the same way). A negative
// exponent truncates 1 / x^|y| toward zero: 1 and -1 give +-1, 0 gives 0 (as
// x / 0 = 0 in Div), anything else 0.
template <class T>
T int_pow(T x, int64_t y) {
  using U = std::make_unsigned_t<T>;
  if (y < 0) {
    if (x == 1) return 1;
    if (x == -1) return (y & 1) ? T(-1) : T(1);
    return 0;
  }
  U base = static_cast<U>(x), r = 1;
  for (uint64_t e = static_cast<uint64_t>(y); e; e >>= 1) {
    if (e & 1) r = static_cast<U>(r * base);
    base = static_cast<U>(base * base);
  }
  return static_cast<T>(r);
}

// Integer base, float exponent: an integral exponent as above; otherwise the
// power in double truncated toward zero, and NaN or a result out of range gives
// the type's minimum (what onnxruntime's conversion gives on x86-64).
template <class T>
T int_pow_f(T x, double y) {
  constexpr double kLimit = 9.2233720368547758e18;  // 2^63
  if (std::trunc(y) == y && std::fabs(y) < kLimit) return int_pow<T>(x, static_cast<int64_t>(y));
  const double r = std::trunc(std::pow(static_cast<double>(x), y));
  const double hi = -static_cast<double>(std::numeric_limits<T>::min());  // 2^(bits-1)
  if (!(r < hi && r >= -hi)) return std::numeric_limits<T>::min();
  return static_cast<T>(r);
}

void cpu_pow(const KernelArgs& k) {
  const Shape &as = *k.in[0].shape, &bs = *k.in[1].shape, &os = *k.out[0].shape;
  const int t = k.opt.threads;
  const DType tx = k.in[0].dtype, te = k.in[1].dtype;
  // float32 ** float32: the vectorizable common case.
  if (tx == DType::f32 && te == DType::f32)
    return map2(as, k.in[0].as<float>(), bs, k.in[1].as<float>(), os, k.out[0].as<float>(), t,
                [](float x, float y) { return pow_ff(x, y); });
  const bool e_half = te == DType::f16;
  by_type(te, [&](auto etag) {
    using E = decltype(etag);
    const E* e = k.in[1].as<E>();
    switch (tx) {
      case DType::f32:
      case DType::f16:
      case DType::bf16: {
        // Base through float32; result rounded once to the base's type.
        auto pw = [e_half](float x, E ev) {
          if constexpr (std::is_same_v<E, uint16_t>) return pow_ff(x, e_half ? F16::load(ev) : BF16::load(ev));
          else if constexpr (std::is_floating_point_v<E>) return pow_ff(x, ev);
          else return pow_fi(x, static_cast<int64_t>(ev));
        };
        if (tx == DType::f32) return map2(as, k.in[0].as<float>(), bs, e, os, k.out[0].as<float>(), t, pw);
        const bool half = tx == DType::f16;
        return map2(as, k.in[0].as<uint16_t>(), bs, e, os, k.out[0].as<uint16_t>(), t, [pw, half](uint16_t x, E ev) {
          return half ? F16::store(pw(F16::load(x), ev)) : BF16::store(pw(BF16::load(x), ev));
        });
      }
      case DType::i32:
      case DType::i64:
        by_type(tx, [&](auto xtag) {
          using T = decltype(xtag);
          if constexpr (std::is_integral_v<T>) {
            map2(as, k.in[0].as<T>(), bs, e, os, k.out[0].as<T>(), t, [e_half](T x, E ev) {
              if constexpr (std::is_same_v<E, uint16_t>)
                return int_pow_f<T>(x, e_half ? F16::load(ev) : BF16::load(ev));
              else if constexpr (std::is_floating_point_v<E>) return int_pow_f<T>(x, ev);
              else return int_pow<T>(x, static_cast<int64_t>(ev));
            });
          }
        });
        return;
      default: MGI_ASSERT(false, std::string("Pow: unsupported base type ") + dtype_name(tx));
    }
  });
}

}  // namespace

void register_math_ops(OpRegistry& r) {
  auto variadic = [&](const char* name, InferFn infer, CpuKernel cpu, const char* types, const char* notes) {
    OpDef d;
    d.name = name;
    d.since = 6;  // opset 1-5: consumed_inputs
    d.min_inputs = 1;
    d.max_inputs = 1 << 30;
    d.infer = infer;
    d.cpu = cpu;
    d.types = types;
    d.notes = notes;
    r.add(std::move(d));
  };
  variadic("Min", infer_variadic<Var::min>, cpu_variadic<Var::min>,
           "T: float32, float16, bfloat16; from opset 12 also int64, int32, int8, uint8",
           "1 or more inputs, numpy broadcast across all. NaN in any input gives NaN (numpy minimum, the "
           "spec's reference; onnxruntime 1.31 agrees); of 0 and -0 the earlier input's is kept (onnxruntime's "
           "pick varies with the element's SIMD lane).");
  variadic("Max", infer_variadic<Var::max>, cpu_variadic<Var::max>,
           "T: float32, float16, bfloat16; from opset 12 also int64, int32, int8, uint8",
           "1 or more inputs, numpy broadcast across all. NaN in any input gives NaN (numpy maximum, the "
           "spec's reference; onnxruntime 1.31 agrees); of 0 and -0 the earlier input's is kept (onnxruntime's "
           "pick varies with the element's SIMD lane).");
  variadic("Sum", infer_variadic<Var::sum>, cpu_variadic<Var::sum>, "T: float32, float16, bfloat16",
           "1 or more inputs, numpy broadcast across all, added left to right; float16/bfloat16 added in "
           "float32 and rounded once.");
  variadic("Mean", infer_variadic<Var::mean>, cpu_variadic<Var::mean>, "T: float32, float16, bfloat16",
           "1 or more inputs, numpy broadcast across all: the sum left to right divided by the input count; "
           "float16/bfloat16 in float32, rounded once.");
  {
    OpDef d;
    d.name = "Clip";
    d.since = 6;
    d.until = 10;
    d.parse = parse_clip6;
    d.infer = infer_clip;
    d.cpu = cpu_clip;
    d.types = "T: float32, float16, bfloat16";
    d.notes = "min/max attributes (default: float32 lowest/highest; for float16/bfloat16 their own).";
    r.add(std::move(d));
  }
  {
    OpDef d;
    d.name = "Clip";
    d.since = 11;
    d.min_inputs = 1;
    d.max_inputs = 3;
    d.infer = infer_clip;
    d.cpu = cpu_clip;
    d.types = "T: float32, float16, bfloat16; from opset 12 also int64, int32, int8, uint8";
    d.notes = "min/max optional 1-element inputs of the input's type (absent: the type's lowest/highest). "
              "y = min(max(x, min), max): NaN x stays NaN, a NaN bound clips nothing (onnxruntime), "
              "min > max gives max.";
    r.add(std::move(d));
  }
  {
    OpDef d;
    d.name = "Mod";
    d.since = 10;
    d.min_inputs = d.max_inputs = 2;
    d.parse = parse_mod;
    d.infer = infer_mod;
    d.cpu = cpu_mod;
    d.types = "T: float32, float16, bfloat16, int64, int32, int8, uint8";
    d.notes = "Numpy broadcast. fmod=0 (integers only): the sign of the divisor, as Python's %; fmod=1: C fmod, "
              "the sign of the dividend. Floats need fmod=1. Integer x mod 0 = 0 (onnxruntime fails).";
    r.add(std::move(d));
  }
  {
    OpDef d;
    d.name = "Pow";
    d.since = 7;  // opset 1-6: legacy broadcast attributes
    d.min_inputs = d.max_inputs = 2;
    d.infer = infer_pow;
    d.cpu = cpu_pow;
    d.types = "T: float32, float16, bfloat16; from opset 12 also int32, int64. T1: T before opset 12; from 12 "
              "any numeric type";
    d.notes = "Numpy broadcast. float ** float: powf (x^2 as x*x); float ** integer: the power in double, rounded "
              "once (as onnxruntime); integer ** integral exponent: exact, wrapping on overflow like Mul "
              "(onnxruntime: the same for a scalar exponent 2 or 3, else a double power, which rounds int64 "
              "results past 2^53 and gives INT_MIN on overflow); negative exponents truncate 1/x^n (0 ** -n = 0; "
              "onnxruntime: INT_MIN); integer ** fractional float: the double power truncated, NaN or out of "
              "range giving the type's minimum (as onnxruntime on x86-64).";
    r.add(std::move(d));
  }
}

}  // namespace mgi
