// Reductions along axes: ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSumExp/SumSquare,
// ArgMax/ArgMin, CumSum, TopK.
//
// Every output element is computed by one sequential loop over its reduced
// elements in row-major order of the reduced axes (float sums accumulate in
// double), so its bits depend only on the input's shape: never on the batch
// size, on other rows or on the thread count (threads split output elements).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "error.hpp"
#include "layout.hpp"
#include "onnx_attrs.hpp"

namespace mgi {

namespace {

constexpr int64_t kParallelMin = 16384;  // elements read; below this, threads cost more than they save

int64_t prod(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t k = from; k < to; ++k) p *= s[k];
  return p;
}

// float32, int32, int64 (the types these kernels instantiate).
template <class F>
void by_num_type(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::i32: return f(int32_t{});
    case DType::i64: return f(int64_t{});
    default: MGI_ASSERT(false, std::string("numeric type ") + dtype_name(t));
  }
}

void want_num_type(const InferArgs& a, bool ints_ok) {
  const DType t = a.type(0);
  if (t == DType::f32 || (ints_ok && (t == DType::i32 || t == DType::i64))) return;
  a.fail(std::string("input has type ") + dtype_name(t) + "; expected " +
         (ints_ok ? "float32, int32 or int64" : "float32"));
}

// ---------------------------------------------------------------- Reduce*

enum class RK { sum, mean, max, min, prod, l1, l2, log_sum_exp, sum_square };

RK reduce_kind(const std::string& s) {
  if (s == "ReduceSum") return RK::sum;
  if (s == "ReduceMean") return RK::mean;
  if (s == "ReduceMax") return RK::max;
  if (s == "ReduceMin") return RK::min;
  if (s == "ReduceProd") return RK::prod;
  if (s == "ReduceL1") return RK::l1;
  if (s == "ReduceL2") return RK::l2;
  if (s == "ReduceLogSumExp") return RK::log_sum_exp;
  return RK::sum_square;
}
RK reduce_kind(const Node& n) { return reduce_kind(n.def->name); }

bool ints_allowed(RK k) { return k == RK::sum || k == RK::max || k == RK::min || k == RK::prod; }

// Opset range with axes as an attribute: the attribute and keepdims. From the
// opset where axes became an input (ReduceSum 13, the others 18) also noop_with_empty_axes.
void parse_reduce_attr(const OnnxNode& on, Node& n) {
  n.ints = on.get_ints("axes");
  n.keepdims = on.get_int("keepdims", 1) != 0;
  n.noop_with_empty_axes = false;
}
void parse_reduce_input(const OnnxNode& on, Node& n) {
  if (on.has("axes")) on.fail("attribute 'axes' is not allowed from this opset on (axes is input 1)");
  n.ints.clear();
  n.keepdims = on.get_int("keepdims", 1) != 0;
  n.noop_with_empty_axes = on.get_int("noop_with_empty_axes", 0) != 0;
}

// The input dims reduced (every dim for empty axes, none for the no-op) and the output shape.
struct ReduceGeo {
  std::vector<bool> red;
  Shape out;
};

std::string reduce_geometry(const Shape& in, const std::vector<int64_t>& axes, bool keepdims, bool noop,
                            ReduceGeo& g) {
  const int64_t r = static_cast<int64_t>(in.size());
  g.red.assign(in.size(), axes.empty() && !noop);
  for (int64_t a : axes) {
    if (a < -r || a >= r)
      return "axis " + std::to_string(a) + " is out of range for an input of rank " + std::to_string(r);
    g.red[static_cast<size_t>(a < 0 ? a + r : a)] = true;
  }
  g.out.clear();
  for (size_t d = 0; d < in.size(); ++d)
    if (!g.red[d]) g.out.push_back(in[d]);
    else if (keepdims) g.out.push_back(1);
  return "";
}

std::vector<int64_t> reduce_axes(const Node& n, const InferArgs* a, const KernelArgs* k) {
  if (a) return a->has(1) ? int_list(*a, 1, "axes", false) : n.ints;
  return k->in.size() > 1 && k->in[1].present() ? int_list(k->in[1]) : n.ints;
}

void infer_reduce(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  want_num_type(a, ints_allowed(reduce_kind(a.node)));
  ReduceGeo g;
  const std::string err =
      reduce_geometry(a.shape(0), reduce_axes(a.node, &a, nullptr), a.node.keepdims, a.node.noop_with_empty_axes, g);
  if (!err.empty()) a.fail(err);
  out[0] = {a.type(0), g.out};
}

// Output element (o, i) = reduction over j of x[outer_off[o] + red_off[j] + i]:
// `inner` is the block of kept dims after the last reduced dim (contiguous in
// both input and output), `outer` the other kept dims.
struct ReducePlan {
  int64_t inner = 1;
  std::vector<int64_t> outer_off, red_off;
};

ReducePlan reduce_plan(const Shape& in, const std::vector<bool>& red) {
  ReducePlan p;
  const size_t rank = in.size();
  size_t last = 0;
  bool any = false;
  for (size_t d = 0; d < rank; ++d)
    if (red[d]) last = d, any = true;
  std::vector<int64_t> stride(rank, 1);
  for (size_t d = rank; d-- > 1;) stride[d - 1] = stride[d] * in[d];
  const size_t head = any ? last + 1 : 0;  // dims [0, head) are split into outer and reduced
  p.inner = prod(in, head, rank);
  // Row-major offsets of the dims in `pick` among [0, head).
  auto offsets = [&](bool want_red) {
    std::vector<int64_t> off{0};
    for (size_t d = 0; d < head; ++d) {
      if (red[d] != want_red) continue;
      std::vector<int64_t> next;
      next.reserve(off.size() * static_cast<size_t>(in[d]));
      for (int64_t base : off)
        for (int64_t j = 0; j < in[d]; ++j) next.push_back(base + j * stride[d]);
      off.swap(next);
    }
    return off;
  };
  p.outer_off = offsets(false);
  p.red_off = offsets(true);
  return p;
}

constexpr int64_t kBlock = 64;  // output elements accumulated together (one pass over the reduced rows)

// y[o * inner + i] = fin(fold over j in order of step(acc, x[...])), acc starting at init.
template <class T, class A, class Step, class Fin>
void reduce_loop(const ReducePlan& p, const T* x, T* y, A init, int threads, Step step, Fin fin) {
  const int64_t outer = static_cast<int64_t>(p.outer_off.size()), inner = p.inner;
  const int64_t blocks = (inner + kBlock - 1) / kBlock, tasks = outer * blocks;
  const int64_t work = outer * inner * static_cast<int64_t>(p.red_off.size());
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && work > kParallelMin && tasks > 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t o = t / blocks, i0 = (t % blocks) * kBlock, w = std::min(kBlock, inner - i0);
    const T* base = x + p.outer_off[static_cast<size_t>(o)] + i0;
    A acc[kBlock];
    for (int64_t i = 0; i < w; ++i) acc[i] = init;
    for (int64_t r : p.red_off) {
      const T* xr = base + r;
      for (int64_t i = 0; i < w; ++i) acc[i] = step(acc[i], xr[i]);
    }
    T* yo = y + o * inner + i0;
    for (int64_t i = 0; i < w; ++i) yo[i] = fin(acc[i]);
  }
}

// log(sum(exp(x))) as max + log(sum(exp(x - max))): two ordered passes.
void log_sum_exp_loop(const ReducePlan& p, const float* x, float* y, int threads) {
  const int64_t outer = static_cast<int64_t>(p.outer_off.size()), inner = p.inner;
  const int64_t blocks = (inner + kBlock - 1) / kBlock, tasks = outer * blocks;
  const int64_t work = outer * inner * static_cast<int64_t>(p.red_off.size());
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && work > kParallelMin && tasks > 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t o = t / blocks, i0 = (t % blocks) * kBlock, w = std::min(kBlock, inner - i0);
    const float* base = x + p.outer_off[static_cast<size_t>(o)] + i0;
    float mx[kBlock];
    double sum[kBlock];
    for (int64_t i = 0; i < w; ++i) mx[i] = -std::numeric_limits<float>::infinity(), sum[i] = 0.0;
    for (int64_t r : p.red_off)
      for (int64_t i = 0; i < w; ++i) {
        const float v = base[r + i];
        if (v > mx[i] || std::isnan(v)) mx[i] = v;
      }
    for (int64_t r : p.red_off)
      for (int64_t i = 0; i < w; ++i)
        if (std::isfinite(mx[i])) sum[i] += std::exp(static_cast<double>(base[r + i]) - mx[i]);
    float* yo = y + o * inner + i0;
    for (int64_t i = 0; i < w; ++i)
      yo[i] = std::isfinite(mx[i]) ? static_cast<float>(static_cast<double>(mx[i]) + std::log(sum[i])) : mx[i];
  }
}

template <class T>
void reduce_typed(RK kind, const ReducePlan& p, const T* x, T* y, int threads) {
  const int64_t count = static_cast<int64_t>(p.red_off.size());
  if constexpr (std::is_floating_point_v<T>) {
    const double n = static_cast<double>(count);  // count 0: NaN mean (0 / 0)
    auto to_f = [](double a) { return static_cast<float>(a); };
    switch (kind) {
      case RK::sum: return reduce_loop(p, x, y, 0.0, threads, [](double a, float v) { return a + v; }, to_f);
      case RK::mean:
        return reduce_loop(p, x, y, 0.0, threads, [](double a, float v) { return a + v; },
                           [n](double a) { return static_cast<float>(a / n); });
      case RK::prod: return reduce_loop(p, x, y, 1.0, threads, [](double a, float v) { return a * v; }, to_f);
      case RK::l1:
        return reduce_loop(p, x, y, 0.0, threads, [](double a, float v) { return a + std::fabs(v); }, to_f);
      case RK::l2:
        return reduce_loop(p, x, y, 0.0, threads, [](double a, float v) { return a + double(v) * v; },
                           [](double a) { return static_cast<float>(std::sqrt(a)); });
      case RK::sum_square:
        return reduce_loop(p, x, y, 0.0, threads, [](double a, float v) { return a + double(v) * v; }, to_f);
      case RK::max:
        return reduce_loop(p, x, y, -std::numeric_limits<float>::infinity(), threads,
                           [](float a, float v) { return v > a || std::isnan(v) ? v : a; }, [](float a) { return a; });
      case RK::min:
        return reduce_loop(p, x, y, std::numeric_limits<float>::infinity(), threads,
                           [](float a, float v) { return v < a || std::isnan(v) ? v : a; }, [](float a) { return a; });
      case RK::log_sum_exp: return log_sum_exp_loop(p, x, y, threads);
    }
  } else {
    // Sums and products wrap around in two's complement (unsigned arithmetic, no overflow UB).
    auto to_t = [](uint64_t a) { return static_cast<T>(static_cast<int64_t>(a)); };
    switch (kind) {
      case RK::sum:
        return reduce_loop(p, x, y, uint64_t{0}, threads,
                           [](uint64_t a, T v) { return a + static_cast<uint64_t>(static_cast<int64_t>(v)); }, to_t);
      case RK::prod:
        return reduce_loop(p, x, y, uint64_t{1}, threads,
                           [](uint64_t a, T v) { return a * static_cast<uint64_t>(static_cast<int64_t>(v)); }, to_t);
      case RK::max:
        return reduce_loop(p, x, y, std::numeric_limits<T>::lowest(), threads,
                           [](T a, T v) { return std::max(a, v); }, [](T a) { return a; });
      case RK::min:
        return reduce_loop(p, x, y, std::numeric_limits<T>::max(), threads, [](T a, T v) { return std::min(a, v); },
                           [](T a) { return a; });
      default: MGI_ASSERT(false, "integer reduction");
    }
  }
}

void cpu_reduce(const KernelArgs& k) {
  const Shape& in = *k.in[0].shape;
  ReduceGeo g;
  const std::string err =
      reduce_geometry(in, reduce_axes(k.node, nullptr, &k), k.node.keepdims, k.node.noop_with_empty_axes, g);
  MGI_ASSERT(err.empty(), err);
  if (k.out[0].numel() == 0) return;
  const ReducePlan p = reduce_plan(in, g.red);
  const RK kind = reduce_kind(k.node);
  by_num_type(k.in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    reduce_typed<T>(kind, p, k.in[0].as<T>(), k.out[0].as<T>(), k.opt.threads);
  });
}

// ---------------------------------------------------------------- ArgMax / ArgMin

void parse_arg(const OnnxNode& on, Node& n) {
  n.axis = on.get_int("axis", 0);
  n.keepdims = on.get_int("keepdims", 1) != 0;
  n.select_last_index = n.opset >= 12 && on.get_int("select_last_index", 0) != 0;
}

DType type_i64_out(const Node&, const std::vector<DType>&, size_t) { return DType::i64; }

void infer_arg(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  want_num_type(a, true);
  const Shape& x = a.shape(0);
  if (x.empty()) a.fail("input is a scalar; expected rank >= 1");
  const size_t ax = static_cast<size_t>(a.axis(a.node.axis, x.size()));
  if (x[ax] == 0) a.fail("axis " + std::to_string(ax) + " has size 0: no element to select");
  Shape s = x;
  if (a.node.keepdims) s[ax] = 1;
  else s.erase(s.begin() + static_cast<std::ptrdiff_t>(ax));
  out[0] = {DType::i64, s};
}

template <class T>
void arg_typed(const KernelArgs& k, int64_t outer, int64_t len, int64_t inner) {
  const T* x = k.in[0].as<T>();
  int64_t* y = k.out[0].as<int64_t>();
  const bool is_max = k.node.is("ArgMax"), last = k.node.select_last_index;
  const int64_t lines = outer * inner;
  const int threads = k.opt.threads;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && lines * len > kParallelMin)
  for (int64_t l = 0; l < lines; ++l) {
    const T* px = x + (l / inner) * len * inner + (l % inner);
    T best = px[0];
    int64_t at = 0;
    for (int64_t j = 1; j < len; ++j) {
      const T v = px[j * inner];
      const bool better = is_max ? (last ? v >= best : v > best) : (last ? v <= best : v < best);
      if (better) best = v, at = j;
    }
    y[l] = at;
  }
}

void cpu_arg(const KernelArgs& k) {
  const Shape& x = *k.in[0].shape;
  const size_t ax = static_cast<size_t>(k.node.axis < 0 ? k.node.axis + static_cast<int64_t>(x.size()) : k.node.axis);
  const int64_t outer = prod(x, 0, ax), len = x[ax], inner = prod(x, ax + 1, x.size());
  by_num_type(k.in[0].dtype, [&](auto tag) { arg_typed<decltype(tag)>(k, outer, len, inner); });
}

// ---------------------------------------------------------------- CumSum

void parse_cumsum(const OnnxNode& on, Node& n) {
  n.exclusive = on.get_int("exclusive", 0) != 0;
  n.reverse = on.get_int("reverse", 0) != 0;
}

int64_t cumsum_axis_value(const InferArgs& a) {
  const Tensor& t = a.value(1, "axis");
  if (t.dtype != DType::i64 && t.dtype != DType::i32)
    a.fail(std::string("input 'axis' has type ") + dtype_name(t.dtype) + "; expected int32 or int64");
  if (t.numel() != 1 || t.shape.size() > 1)
    a.fail("input 'axis' has shape " + shape_str(t.shape) + "; expected a scalar");
  return t.int_at(0);
}

void infer_cumsum(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  want_num_type(a, true);
  const Shape& x = a.shape(0);
  if (x.empty()) a.fail("input is a scalar; expected rank >= 1");
  a.axis(cumsum_axis_value(a), x.size());
  out[0] = {a.type(0), x};
}

template <class T>
void cumsum_typed(const KernelArgs& k, int64_t outer, int64_t len, int64_t inner) {
  using A = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;
  const T* x = k.in[0].as<T>();
  T* y = k.out[0].as<T>();
  const bool excl = k.node.exclusive, rev = k.node.reverse;
  const int64_t lines = outer * inner;
  const int threads = k.opt.threads;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && lines * len > kParallelMin)
  for (int64_t l = 0; l < lines; ++l) {
    const int64_t base = (l / inner) * len * inner + (l % inner);
    A acc = 0;
    for (int64_t s = 0; s < len; ++s) {
      const int64_t j = rev ? len - 1 - s : s;
      const T v = x[base + j * inner];
      A add;
      if constexpr (std::is_floating_point_v<T>) add = v;
      else add = static_cast<uint64_t>(static_cast<int64_t>(v));
      if (!excl) acc += add;
      if constexpr (std::is_floating_point_v<T>) y[base + j * inner] = static_cast<T>(acc);
      else y[base + j * inner] = static_cast<T>(static_cast<int64_t>(acc));
      if (excl) acc += add;
    }
  }
}

void cpu_cumsum(const KernelArgs& k) {
  const Shape& x = *k.in[0].shape;
  const int64_t r = static_cast<int64_t>(x.size());
  int64_t a = element_as_int(k.in[1].dtype, k.in[1].data, 0);
  const size_t ax = static_cast<size_t>(a < 0 ? a + r : a);
  const int64_t outer = prod(x, 0, ax), len = x[ax], inner = prod(x, ax + 1, x.size());
  by_num_type(k.in[0].dtype, [&](auto tag) { cumsum_typed<decltype(tag)>(k, outer, len, inner); });
}

// ---------------------------------------------------------------- TopK

void parse_topk_attr(const OnnxNode& on, Node& n) {  // opset 1-9: k is an attribute
  n.axis = on.get_int("axis", -1);
  n.ints = {on.need_int("k")};
  n.largest = true;
  n.sorted = true;
}
void parse_topk(const OnnxNode& on, Node& n) {  // opset 10: k input; 11: largest, sorted
  n.axis = on.get_int("axis", -1);
  n.ints.clear();
  n.largest = n.opset < 11 || on.get_int("largest", 1) != 0;
  n.sorted = n.opset < 11 || on.get_int("sorted", 1) != 0;
}

DType type_topk(const Node&, const std::vector<DType>& in, size_t k) {
  return k == 1 ? DType::i64 : (in.empty() ? DType::f32 : in[0]);
}

int64_t topk_k(const InferArgs& a) {
  if (a.count() < 2) return a.node.ints.at(0);
  const Tensor& t = a.value(1, "K");
  if (t.dtype != DType::i64) a.fail(std::string("input 'K' has type ") + dtype_name(t.dtype) + "; expected int64");
  if (t.numel() != 1 || t.shape.size() > 1) a.fail("input 'K' has shape " + shape_str(t.shape) + "; expected [1]");
  return t.int_at(0);
}

void infer_topk(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  want_num_type(a, true);
  const Shape& x = a.shape(0);
  if (x.empty()) a.fail("input is a scalar; expected rank >= 1");
  const size_t ax = static_cast<size_t>(a.axis(a.node.axis, x.size()));
  const int64_t kk = topk_k(a);
  if (kk < 0 || kk > x[ax])
    a.fail("k = " + std::to_string(kk) + " is out of range for axis " + std::to_string(ax) + " of size " +
           std::to_string(x[ax]));
  Shape s = x;
  s[ax] = kk;
  out[0] = {a.type(0), s};
  if (out.size() > 1) out[1] = {DType::i64, s};
}

// a ranks before b: larger (smaller) value first, NaN as the largest; ties by the lower index.
template <class T>
bool topk_before(T va, int64_t ia, T vb, int64_t ib, bool largest) {
  if constexpr (std::is_floating_point_v<T>) {
    const bool na = std::isnan(va), nb = std::isnan(vb);
    if (na || nb) {
      if (na && nb) return ia < ib;
      return largest ? na : nb;
    }
  }
  if (va != vb) return largest ? va > vb : va < vb;
  return ia < ib;
}

template <class T>
void topk_typed(const KernelArgs& k, int64_t outer, int64_t len, int64_t inner, int64_t kk) {
  const T* x = k.in[0].as<T>();
  T* yv = k.out[0].as<T>();
  int64_t* yi = k.out.size() > 1 ? k.out[1].as<int64_t>() : nullptr;
  const bool largest = k.node.largest;
  const int64_t lines = outer * inner;
  const int threads = k.opt.threads;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && lines * len > kParallelMin)
  for (int64_t l = 0; l < lines; ++l) {
    const int64_t o = l / inner, i = l % inner;
    const T* px = x + o * len * inner + i;
    std::vector<int64_t> idx(static_cast<size_t>(len));
    for (int64_t j = 0; j < len; ++j) idx[static_cast<size_t>(j)] = j;
    std::partial_sort(idx.begin(), idx.begin() + kk, idx.end(), [&](int64_t a, int64_t b) {
      return topk_before(px[a * inner], a, px[b * inner], b, largest);
    });
    const int64_t ob = o * kk * inner + i;
    for (int64_t j = 0; j < kk; ++j) {
      const int64_t src = idx[static_cast<size_t>(j)];
      if (yv) yv[ob + j * inner] = px[src * inner];
      if (yi) yi[ob + j * inner] = src;
    }
  }
}

void cpu_topk(const KernelArgs& k) {
  const Shape& x = *k.in[0].shape;
  const Shape& y = *(k.out[0].shape ? k.out[0].shape : k.out[1].shape);
  const size_t ax = static_cast<size_t>(k.node.axis < 0 ? k.node.axis + static_cast<int64_t>(x.size()) : k.node.axis);
  const int64_t outer = prod(x, 0, ax), len = x[ax], inner = prod(x, ax + 1, x.size()), kk = y[ax];
  if (kk == 0 || outer * inner == 0) return;
  by_num_type(k.in[0].dtype, [&](auto tag) { topk_typed<decltype(tag)>(k, outer, len, inner, kk); });
}

// ---------------------------------------------------------------- registration

void add_reduce(OpRegistry& r, const char* name, int input_since) {
  const bool ints = ints_allowed(reduce_kind(name));
  OpDef d;
  d.name = name;
  d.infer = infer_reduce;
  d.cpu = cpu_reduce;
  d.types = ints ? "float32, int32, int64" : "float32";
  d.since = 1;
  d.until = input_since - 1;
  d.parse = parse_reduce_attr;
  d.notes = "axes attribute (empty: every axis); keepdims. Float sums accumulate in double, in a fixed order.";
  r.add(d);
  d.since = input_since;
  d.until = 0;
  d.max_inputs = 2;
  d.parse = parse_reduce_input;
  d.types += "; axes: int64";
  d.notes = "axes input known on the host (empty or absent: every axis; with noop_with_empty_axes each element "
            "reduced alone, as onnxruntime: L1/L2 give |x|, SumSquare x*x); keepdims. Float sums accumulate in "
            "double, in a fixed order.";
  r.add(d);
}

}  // namespace

void register_reduce_ops(OpRegistry& r) {
  add_reduce(r, "ReduceSum", 13);
  for (const char* name : {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                           "ReduceLogSumExp", "ReduceSumSquare"})
    add_reduce(r, name, 18);
  for (const char* name : {"ArgMax", "ArgMin"}) {
    OpDef d;
    d.name = name;
    d.parse = parse_arg;
    d.infer = infer_arg;
    d.cpu = cpu_arg;
    d.type = type_i64_out;
    d.types = "T: float32, int32, int64; output: int64";
    d.notes = "keepdims; ties give the first index, or the last with select_last_index (opset 12+).";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "CumSum";
    d.since = 11;
    d.min_inputs = d.max_inputs = 2;
    d.parse = parse_cumsum;
    d.infer = infer_cumsum;
    d.cpu = cpu_cumsum;
    d.types = "T: float32, int32, int64; axis: int32, int64";
    d.notes = "axis must be known on the host; exclusive, reverse. Float sums accumulate in double.";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "TopK";
    d.until = 9;
    d.max_outputs = 2;
    d.parse = parse_topk_attr;
    d.infer = infer_topk;
    d.cpu = cpu_topk;
    d.type = type_topk;
    d.types = "T: float32, int32, int64; indices: int64";
    d.notes = "k attribute (opset 1-9). Output always sorted; ties give the lower index first.";
    r.add(d);
    d.since = 10;
    d.until = 0;
    d.min_inputs = d.max_inputs = 2;
    d.parse = parse_topk;
    d.types = "T: float32, int32, int64; K, indices: int64";
    d.notes = "K known on the host; largest, sorted (opset 11+). Output always sorted (also with sorted=0); "
              "ties give the lower index first; NaN ranks as the largest value.";
    r.add(d);
  }
}

}  // namespace mgi
