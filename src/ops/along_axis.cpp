// Ops along one axis: ArgMax/ArgMin, CumSum, TopK. Each output element is one
// sequential loop along the axis (float sums in double), so its bits depend
// only on the input's shape: never on the batch size, other rows or threads.
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

}  // namespace

void register_along_axis_ops(OpRegistry& r) {
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
