// Binary elementwise ops with numpy broadcasting: Add, Sub, Mul, Div (float32,
// int32, int64), Pow and PRelu (float32). Each output element depends on its inputs
// only, so OpenMP over elements keeps results bitwise independent of threads
// and batch size. Integer arithmetic wraps on overflow, and integer division
// truncates toward zero with x / 0 == 0 (shape arithmetic must never trap).
#include <cmath>
#include <limits>
#include <type_traits>

#include "broadcast.hpp"
#include "error.hpp"
#include "onnx_attrs.hpp"
#include "op_registry.hpp"

namespace mgi {

namespace {

constexpr int64_t kParallelMin = 16384;  // below this, threads cost more than they save

enum class BinOp { add, sub, mul, div, pow };

template <class T, class F>
void map2(const Shape& as, const T* a, const Shape& bs, const T* b, const Shape& os, T* out, int threads, F f) {
  const int64_t total = shape_numel(os);
  if (as == bs) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && total > kParallelMin)
    for (int64_t i = 0; i < total; ++i) out[i] = f(a[i], b[i]);
    return;
  }
  const int64_t na = shape_numel(as), nb = shape_numel(bs);
  if (nb == 1) {
    const T bv = b[0];
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && total > kParallelMin)
    for (int64_t i = 0; i < total; ++i) out[i] = f(a[i], bv);
    return;
  }
  if (na == 1) {
    const T av = a[0];
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && total > kParallelMin)
    for (int64_t i = 0; i < total; ++i) out[i] = f(av, b[i]);
    return;
  }
  // General case: loop over the last output dim with strides, outer index decoded per row.
  const Broadcast bc = broadcast_shapes(as, bs);
  const size_t rank = bc.out.size();
  const int64_t inner = rank ? bc.out[rank - 1] : 1;
  if (inner == 0 || total == 0) return;
  const int64_t rows = total / inner;
  const int64_t sa = rank ? bc.a_strides[rank - 1] : 0, sb = rank ? bc.b_strides[rank - 1] : 0;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && total > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, ao = 0, bo = 0;
    for (size_t q = rank - 1; q-- > 0;) {
      const int64_t idx = rem % bc.out[q];
      rem /= bc.out[q];
      ao += idx * bc.a_strides[q];
      bo += idx * bc.b_strides[q];
    }
    const T* pa = a + ao;
    const T* pb = b + bo;
    T* po = out + r * inner;
    for (int64_t j = 0; j < inner; ++j) po[j] = f(pa[j * sa], pb[j * sb]);
  }
}

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
    case BinOp::pow:
      return map2(as, a, bs, b, os, out, t, [](float x, float y) {
        if (y == 2.0f) return x * x;  // the common case in exported norms; exact either way
        return std::pow(x, y);
      });
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
    case BinOp::pow: break;
  }
  MGI_ASSERT(false, "binary: no integer kernel for this op");
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

template <bool Ints>
void infer_binary(const InferArgs& a, std::vector<OutInfo>& out) {
  const Shape& as = a.shape(0);
  const Shape& bs = a.shape(1);
  const DType ta = a.type(0), tb = a.type(1);
  if (ta != tb) a.fail(std::string("inputs have types ") + dtype_name(ta) + " and " + dtype_name(tb));
  if (ta != DType::f32 && !(Ints && (ta == DType::i64 || ta == DType::i32)))
    a.fail(std::string("inputs have type ") + dtype_name(ta) + "; expected float32" +
           (Ints ? ", int32 or int64" : ""));
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

void add_binary(OpRegistry& r, const char* name, CpuKernel kernel, bool ints) {
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 2;
  d.parse = ints ? parse_arith : nullptr;
  d.infer = ints ? infer_binary<true> : infer_binary<false>;
  d.cpu = kernel;
  d.types = ints ? "T: float32, int32, int64" : "float32";
  d.notes = ints ? "legacy broadcast with 'axis' (opset < 7) refused; integers wrap on overflow"
                 : "base and exponent both float32";
  if (std::string(name) == "Div") d.notes += "; integer division truncates toward zero, x / 0 = 0";
  r.add(std::move(d));
}

}  // namespace

void register_binary_ops(OpRegistry& r) {
  add_binary(r, "Add", binary_kernel<BinOp::add>, true);
  add_binary(r, "Sub", binary_kernel<BinOp::sub>, true);
  add_binary(r, "Mul", binary_kernel<BinOp::mul>, true);
  add_binary(r, "Div", binary_kernel<BinOp::div>, true);
  add_binary(r, "Pow", binary_kernel<BinOp::pow>, false);
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
