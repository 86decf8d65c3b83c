// Reductions along axes: ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSumExp/SumSquare
// (ArgMax/ArgMin, CumSum, TopK: along_axis.cpp).
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
#include "reduce_util.hpp"

namespace mgi {

namespace {

using namespace reduce_util;

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
}

}  // namespace mgi
