#include "constant_fold.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "broadcast.hpp"
#include "error.hpp"
#include "graph.hpp"

namespace mgi {

namespace {

using onnx::TensorProto;

template <class T>
std::vector<T>& data(Tensor& t);
template <>
std::vector<float>& data<float>(Tensor& t) { return t.f; }
template <>
std::vector<int64_t>& data<int64_t>(Tensor& t) { return t.i; }
template <class T>
const std::vector<T>& data(const Tensor& t) { return data<T>(const_cast<Tensor&>(t)); }

template <class T>
constexpr DType dtype_of() { return std::is_same<T, float>::value ? DType::f32 : DType::i64; }

// Calls f(T{}) with T = float or int64_t according to d.
template <class F>
void by_dtype(DType d, F&& f) {
  if (d == DType::f32) f(float{});
  else f(int64_t{});
}

bool has_batch(const Tensor& t) {
  return t.dtype == DType::i64 && std::find(t.i.begin(), t.i.end(), kBatchDim) != t.i.end();
}

struct Folder {
  const OnnxNode& node;
  int64_t opset;
  const std::vector<const Tensor*>& in;

  [[noreturn]] void fail(const std::string& m) const { node.fail(m); }

  const Tensor& input(size_t k) const {
    if (k >= in.size() || in[k] == nullptr) fail("missing required input " + std::to_string(k));
    return *in[k];
  }
  bool present(size_t k) const { return k < in.size() && in[k] != nullptr; }

  void no_batch(const Tensor& t) const {
    if (has_batch(t))
      fail("computes with the batch size, which is only known at run time (only moving it into a "
           "Reshape target is supported)");
  }
  // int64 parameters (indices, axes, shapes): no batch placeholder allowed.
  std::vector<int64_t> ints(const Tensor& t, const char* what) const {
    if (t.dtype != DType::i64) fail(std::string(what) + " must be an integer tensor");
    no_batch(t);
    return t.i;
  }
  void check_size(const Shape& s) const {
    int64_t n = 1;
    for (int64_t d : s) {
      if (d < 0) fail("would produce a tensor of negative dimension " + shape_str(s));
      if (d != 0 && n > kMaxFoldedElements / d)
        fail("would produce a constant of shape " + shape_str(s) + " (more than 2^28 elements)");
      n *= d;
    }
  }
  int64_t axis(int64_t a, int64_t rank, const char* what) const {
    if (a < -rank || a >= rank)
      fail(std::string(what) + " " + std::to_string(a) + " is out of range for rank " + std::to_string(rank));
    return a < 0 ? a + rank : a;
  }
  Tensor reshaped(const Tensor& t, Shape s) const {
    Tensor r = t;
    r.shape = std::move(s);
    return r;
  }
  // For each element of `out`, the offset of the element of a tensor of shape
  // `in` that broadcasts to it.
  std::vector<int64_t> offsets(const Shape& in_shape, const Shape& out) const {
    const Broadcast bc = broadcast_shapes(in_shape, out);
    const int64_t n = shape_numel(out);
    std::vector<int64_t> off(static_cast<size_t>(n));
    const size_t rank = out.size();
    for (int64_t e = 0; e < n; ++e) {
      int64_t rem = e, o = 0;
      for (size_t q = rank; q-- > 0;) {
        o += (rem % out[q]) * bc.a_strides[q];
        rem /= out[q];
      }
      off[static_cast<size_t>(e)] = o;
    }
    return off;
  }
  Shape bshape(const Shape& a, const Shape& b) const {
    try {
      return broadcast_shapes(a, b).out;
    } catch (const ModelError&) {
      fail("inputs have shapes " + shape_str(a) + " and " + shape_str(b) + ", which do not broadcast");
    }
  }

  Tensor cast() const {
    const Tensor& x = input(0);
    const int64_t to = node.need_int("to");
    Tensor r;
    r.shape = x.shape;
    switch (to) {
      case TensorProto::FLOAT:
      case TensorProto::DOUBLE:
        r.dtype = DType::f32;
        if (x.dtype == DType::f32) return x;
        no_batch(x);
        r.f.assign(x.i.begin(), x.i.end());
        return r;
      case TensorProto::INT64:
      case TensorProto::INT32:
      case TensorProto::INT16:
      case TensorProto::INT8:
      case TensorProto::UINT8:
      case TensorProto::UINT16:
      case TensorProto::UINT32:
      case TensorProto::UINT64:
        r.dtype = DType::i64;
        if (x.dtype == DType::i64) return x;
        r.i.resize(x.f.size());
        for (size_t k = 0; k < x.f.size(); ++k) {
          const float v = x.f[k];
          if (!(std::fabs(v) < 9.2e18f)) fail("cannot cast " + std::to_string(v) + " to an integer");
          r.i[k] = static_cast<int64_t>(v);
        }
        return r;
      case TensorProto::BOOL:
        r.dtype = DType::i64;
        if (x.dtype == DType::i64) {
          no_batch(x);
          for (int64_t v : x.i) r.i.push_back(v != 0);
        } else {
          for (float v : x.f) r.i.push_back(v != 0.0f);
        }
        return r;
      default:
        fail("Cast to " + onnx_type_name(static_cast<int32_t>(to)) + " is not supported");
    }
  }

  Tensor reshape() const {
    const Tensor& x = input(0);
    Node n;
    n.op = OpKind::Reshape;
    n.name = node.name();
    n.op_type = node.op_type();
    n.inputs = {0};
    n.allowzero = node.get_int("allowzero", 0) != 0;
    if (opset < 5) {
      n.target_shape = node.get_ints("shape");
    } else {
      if (input(1).dtype != DType::i64) fail("input 'shape' must be int64");
      n.target_shape = input(1).i;  // a kBatchDim here fails in infer_node_shape (no batch for constants)
    }
    return reshaped(x, infer_node_shape(n, {x.shape}, node.source(), -1));
  }

  Tensor flatten() const {
    const Tensor& x = input(0);
    const int64_t r = static_cast<int64_t>(x.shape.size());
    int64_t a = node.get_int("axis", 1);
    if (a < -r || a > r) fail("axis " + std::to_string(a) + " is out of range for rank " + std::to_string(r));
    if (a < 0) a += r;
    int64_t p = 1, q = 1;
    for (int64_t k = 0; k < r; ++k) (k < a ? p : q) *= x.shape[static_cast<size_t>(k)];
    return reshaped(x, {p, q});
  }

  std::vector<int64_t> axes_param(size_t input_index, bool required) const {
    if (opset < 13) {
      if (required && !node.has("axes")) fail("missing required attribute 'axes'");
      return node.get_ints("axes");
    }
    if (!present(input_index)) {
      if (required) fail("missing required input 'axes'");
      return {};
    }
    return ints(input(input_index), "axes");
  }

  Tensor squeeze() const {
    const Tensor& x = input(0);
    const int64_t r = static_cast<int64_t>(x.shape.size());
    std::vector<int64_t> axes = axes_param(1, false);
    std::vector<bool> drop(x.shape.size(), false);
    if (axes.empty()) {
      for (size_t k = 0; k < x.shape.size(); ++k) drop[k] = x.shape[k] == 1;
    }
    for (int64_t a : axes) {
      const size_t k = static_cast<size_t>(axis(a, r, "axis"));
      if (x.shape[k] != 1) fail("cannot squeeze axis " + std::to_string(a) + " of shape " + shape_str(x.shape));
      drop[k] = true;
    }
    Shape s;
    for (size_t k = 0; k < x.shape.size(); ++k)
      if (!drop[k]) s.push_back(x.shape[k]);
    return reshaped(x, s);
  }

  Tensor unsqueeze() const {
    const Tensor& x = input(0);
    const std::vector<int64_t> axes = axes_param(1, true);
    const int64_t r = static_cast<int64_t>(x.shape.size() + axes.size());
    std::vector<bool> ins(static_cast<size_t>(r), false);
    for (int64_t a : axes) {
      const size_t k = static_cast<size_t>(axis(a, r, "axis"));
      if (ins[k]) fail("axis " + std::to_string(a) + " appears twice");
      ins[k] = true;
    }
    Shape s;
    size_t src = 0;
    for (size_t k = 0; k < ins.size(); ++k) s.push_back(ins[k] ? 1 : x.shape[src++]);
    return reshaped(x, s);
  }

  Tensor gather() const {
    const Tensor& x = input(0);
    const std::vector<int64_t> idx = ints(input(1), "indices");
    const Shape& is = input(1).shape;
    const int64_t r = static_cast<int64_t>(x.shape.size());
    if (r == 0) fail("cannot gather from a scalar");
    const size_t ax = static_cast<size_t>(axis(node.get_int("axis", 0), r, "axis"));
    const int64_t dim = x.shape[ax];
    Shape s(x.shape.begin(), x.shape.begin() + static_cast<std::ptrdiff_t>(ax));
    s.insert(s.end(), is.begin(), is.end());
    s.insert(s.end(), x.shape.begin() + static_cast<std::ptrdiff_t>(ax) + 1, x.shape.end());
    check_size(s);
    int64_t outer = 1, inner = 1;
    for (size_t k = 0; k < ax; ++k) outer *= x.shape[k];
    for (size_t k = ax + 1; k < x.shape.size(); ++k) inner *= x.shape[k];
    Tensor out;
    out.dtype = x.dtype;
    out.shape = s;
    by_dtype(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      const auto& src = data<T>(x);
      auto& dst = data<T>(out);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t v : idx) {
          if (v < -dim || v >= dim)
            fail("index " + std::to_string(v) + " is out of range for axis of size " + std::to_string(dim));
          const int64_t j = v < 0 ? v + dim : v;
          const auto first = src.begin() + (o * dim + j) * inner;
          dst.insert(dst.end(), first, first + inner);
        }
    });
    return out;
  }

  Tensor concat() const {
    if (in.empty()) fail("needs at least one input");
    const Tensor& x0 = input(0);
    const int64_t r = static_cast<int64_t>(x0.shape.size());
    if (r == 0) fail("cannot concatenate scalars");
    const size_t ax = static_cast<size_t>(axis(node.need_int("axis"), r, "axis"));
    Shape s = x0.shape;
    s[ax] = 0;
    for (size_t k = 0; k < in.size(); ++k) {
      const Tensor& x = input(k);
      bool ok = x.dtype == x0.dtype && x.shape.size() == x0.shape.size();
      for (size_t d = 0; ok && d < s.size(); ++d) ok = d == ax || x.shape[d] == x0.shape[d];
      if (!ok)
        fail("input " + std::to_string(k) + " (" + dtype_name(x.dtype) + " " + shape_str(x.shape) +
             ") does not match input 0 (" + dtype_name(x0.dtype) + " " + shape_str(x0.shape) + ") off axis " +
             std::to_string(ax));
      s[ax] += x.shape[ax];
    }
    check_size(s);
    int64_t outer = 1, inner = 1;
    for (size_t k = 0; k < ax; ++k) outer *= s[k];
    for (size_t k = ax + 1; k < s.size(); ++k) inner *= s[k];
    Tensor out;
    out.dtype = x0.dtype;
    out.shape = s;
    by_dtype(x0.dtype, [&](auto tag) {
      using T = decltype(tag);
      auto& dst = data<T>(out);
      for (int64_t o = 0; o < outer; ++o)
        for (const Tensor* x : in) {
          const int64_t len = x->shape[ax] * inner;
          const auto first = data<T>(*x).begin() + o * len;
          dst.insert(dst.end(), first, first + len);
        }
    });
    return out;
  }

  Tensor slice() const {
    const Tensor& x = input(0);
    const int64_t r = static_cast<int64_t>(x.shape.size());
    std::vector<int64_t> starts, ends, axes, steps;
    if (opset < 10) {
      if (!node.has("starts") || !node.has("ends")) fail("missing required attribute 'starts' or 'ends'");
      starts = node.get_ints("starts");
      ends = node.get_ints("ends");
      axes = node.get_ints("axes");
    } else {
      starts = ints(input(1), "starts");
      ends = ints(input(2), "ends");
      if (present(3)) axes = ints(input(3), "axes");
      if (present(4)) steps = ints(input(4), "steps");
    }
    if (axes.empty())
      for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
      fail("starts, ends, axes and steps must have the same length");
    std::vector<int64_t> first(static_cast<size_t>(r), 0), step(static_cast<size_t>(r), 1);
    Shape s = x.shape;
    std::vector<bool> seen(static_cast<size_t>(r), false);
    for (size_t k = 0; k < starts.size(); ++k) {
      const size_t a = static_cast<size_t>(axis(axes[k], r, "axis"));
      if (seen[a]) fail("axis " + std::to_string(axes[k]) + " appears twice");
      seen[a] = true;
      const int64_t dim = x.shape[a];
      int64_t st = steps[k];
      if (st == 0) fail("step 0 is not allowed");
      st = std::max(std::min(st, dim + 1), -dim - 1);  // same result, no overflow below
      int64_t b = starts[k], e = ends[k];
      if (b < 0) b += dim;
      if (e < 0) e += dim;
      int64_t len;
      if (st > 0) {
        b = std::clamp<int64_t>(b, 0, dim);
        e = std::clamp<int64_t>(e, 0, dim);
        len = e > b ? (e - b + st - 1) / st : 0;
      } else {
        b = std::clamp<int64_t>(b, 0, dim - 1);
        e = std::clamp<int64_t>(e, -1, dim - 1);
        len = b > e ? (b - e + (-st) - 1) / (-st) : 0;
      }
      first[a] = b;
      step[a] = st;
      s[a] = len;
    }
    Tensor out;
    out.dtype = x.dtype;
    out.shape = s;
    const int64_t n = shape_numel(s);
    std::vector<int64_t> stride(static_cast<size_t>(r), 1);
    for (int64_t k = r - 1; k > 0; --k) stride[static_cast<size_t>(k - 1)] = stride[static_cast<size_t>(k)] * x.shape[static_cast<size_t>(k)];
    by_dtype(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      const auto& src = data<T>(x);
      auto& dst = data<T>(out);
      dst.resize(static_cast<size_t>(n));
      for (int64_t e = 0; e < n; ++e) {
        int64_t rem = e, off = 0;
        for (int64_t q = r - 1; q >= 0; --q) {
          const size_t qq = static_cast<size_t>(q);
          off += (first[qq] + (rem % s[qq]) * step[qq]) * stride[qq];
          rem /= s[qq];
        }
        dst[static_cast<size_t>(e)] = src[static_cast<size_t>(off)];
      }
    });
    return out;
  }

  Tensor constant_of_shape() const {
    Shape s = ints(input(0), "shape");
    check_size(s);
    Tensor v;
    v.dtype = DType::f32;
    v.f = {0.0f};
    if (const TensorProto* t = node.get_tensor("value")) {
      v = tensor_from_onnx(*t, "model " + node.source() + ": node '" + node.name() + "' attribute 'value'");
      if (v.numel() != 1) fail("attribute 'value' must hold one element");
    }
    Tensor out;
    out.dtype = v.dtype;
    out.shape = s;
    const size_t n = static_cast<size_t>(shape_numel(s));
    if (v.dtype == DType::f32) out.f.assign(n, v.f[0]);
    else out.i.assign(n, v.i[0]);
    return out;
  }

  Tensor range() const {
    const Tensor &a = input(0), &b = input(1), &c = input(2);
    if (a.numel() != 1 || b.numel() != 1 || c.numel() != 1) fail("start, limit and delta must be scalars");
    if (a.dtype != b.dtype || a.dtype != c.dtype) fail("start, limit and delta must have one type");
    Tensor out;
    out.dtype = a.dtype;
    if (a.dtype == DType::f32) {
      const double st = a.f[0], lim = b.f[0], d = c.f[0];
      if (d == 0.0) fail("delta is 0");
      const double n = std::max(std::ceil((lim - st) / d), 0.0);
      if (!(n <= static_cast<double>(kMaxFoldedElements))) fail("would produce too many elements");
      for (int64_t k = 0; k < static_cast<int64_t>(n); ++k) out.f.push_back(static_cast<float>(st + static_cast<double>(k) * d));
    } else {
      no_batch(a), no_batch(b), no_batch(c);
      const long double st = a.i[0], lim = b.i[0], d = c.i[0];
      if (d == 0) fail("delta is 0");
      const long double n = std::max<long double>(std::ceil((lim - st) / d), 0.0L);
      if (!(n <= static_cast<long double>(kMaxFoldedElements))) fail("would produce too many elements");
      for (int64_t k = 0; k < static_cast<int64_t>(n); ++k) out.i.push_back(a.i[0] + k * c.i[0]);
    }
    out.shape = {static_cast<int64_t>(a.dtype == DType::f32 ? out.f.size() : out.i.size())};
    return out;
  }

  Tensor expand() const {
    const Tensor& x = input(0);
    const Shape s = bshape(x.shape, ints(input(1), "shape"));
    check_size(s);
    const std::vector<int64_t> off = offsets(x.shape, s);
    Tensor out;
    out.dtype = x.dtype;
    out.shape = s;
    by_dtype(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t o : off) data<T>(out).push_back(data<T>(x)[static_cast<size_t>(o)]);
    });
    return out;
  }

  Tensor where() const {
    const Tensor &c = input(0), &x = input(1), &y = input(2);
    const std::vector<int64_t> cond = ints(c, "condition");
    if (x.dtype != y.dtype) fail("X and Y must have one type");
    const Shape s = bshape(bshape(c.shape, x.shape), y.shape);
    check_size(s);
    const auto oc = offsets(c.shape, s), ox = offsets(x.shape, s), oy = offsets(y.shape, s);
    Tensor out;
    out.dtype = x.dtype;
    out.shape = s;
    by_dtype(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      for (size_t e = 0; e < oc.size(); ++e)
        data<T>(out).push_back(cond[static_cast<size_t>(oc[e])] ? data<T>(x)[static_cast<size_t>(ox[e])]
                                                                : data<T>(y)[static_cast<size_t>(oy[e])]);
    });
    return out;
  }

  // Elementwise on int64 (Add/Sub/Mul/Div/Equal) or float (Equal only here).
  Tensor arith(const std::string& op) const {
    const Tensor &a = input(0), &b = input(1);
    if (a.dtype != b.dtype) fail("inputs have different types");
    no_batch(a), no_batch(b);
    const Shape s = bshape(a.shape, b.shape);
    check_size(s);
    const auto oa = offsets(a.shape, s), ob = offsets(b.shape, s);
    Tensor out;
    out.dtype = DType::i64;
    out.shape = s;
    out.i.resize(oa.size());
    if (op == "Equal") {
      for (size_t e = 0; e < oa.size(); ++e)
        out.i[e] = a.dtype == DType::i64 ? a.i[static_cast<size_t>(oa[e])] == b.i[static_cast<size_t>(ob[e])]
                                         : a.f[static_cast<size_t>(oa[e])] == b.f[static_cast<size_t>(ob[e])];
      return out;
    }
    if (a.dtype != DType::i64) fail("expects int64 inputs here");
    for (size_t e = 0; e < oa.size(); ++e) {
      const int64_t x = a.i[static_cast<size_t>(oa[e])], y = b.i[static_cast<size_t>(ob[e])];
      int64_t r = 0;
      bool bad = false;
      if (op == "Add") bad = __builtin_add_overflow(x, y, &r);
      else if (op == "Sub") bad = __builtin_sub_overflow(x, y, &r);
      else if (op == "Mul") bad = __builtin_mul_overflow(x, y, &r);
      else {
        if (y == 0 || (x == std::numeric_limits<int64_t>::min() && y == -1)) fail("integer division by zero or overflow");
        r = x / y;
      }
      if (bad) fail("int64 overflow");
      out.i[e] = r;
    }
    return out;
  }

  Tensor unary_int(const std::string& op) const {
    Tensor x = input(0);
    if (x.dtype != DType::i64) fail("expects an int64 input here");
    no_batch(x);
    for (int64_t& v : x.i) {
      if (v == std::numeric_limits<int64_t>::min()) fail("int64 overflow");
      v = op == "Neg" ? -v : std::abs(v);
    }
    return x;
  }

  Tensor transpose() const {
    const Tensor& x = input(0);
    const size_t r = x.shape.size();
    std::vector<int64_t> perm = node.get_ints("perm");
    if (perm.empty())
      for (size_t k = 0; k < r; ++k) perm.push_back(static_cast<int64_t>(r - 1 - k));
    std::vector<bool> seen(r, false);
    if (perm.size() != r) fail("perm does not match the input rank");
    for (int64_t p : perm) {
      if (p < 0 || p >= static_cast<int64_t>(r) || seen[static_cast<size_t>(p)]) fail("perm is not a permutation");
      seen[static_cast<size_t>(p)] = true;
    }
    std::vector<int64_t> stride(r, 1);
    for (size_t k = r; k-- > 1;) stride[k - 1] = stride[k] * x.shape[k];
    Shape s(r);
    for (size_t k = 0; k < r; ++k) s[k] = x.shape[static_cast<size_t>(perm[k])];
    Tensor out;
    out.dtype = x.dtype;
    out.shape = s;
    const int64_t n = shape_numel(s);
    by_dtype(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t e = 0; e < n; ++e) {
        int64_t rem = e, off = 0;
        for (size_t q = r; q-- > 0;) {
          off += (rem % s[q]) * stride[static_cast<size_t>(perm[q])];
          rem /= s[q];
        }
        data<T>(out).push_back(data<T>(x)[static_cast<size_t>(off)]);
      }
    });
    return out;
  }
};

}  // namespace

Tensor shape_tensor(const Shape& shape, int64_t start, int64_t end) {
  const int64_t r = static_cast<int64_t>(shape.size());
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  Tensor t;
  t.dtype = DType::i64;
  if (end > start) t.i.assign(shape.begin() + start, shape.begin() + end);
  t.shape = {static_cast<int64_t>(t.i.size())};
  return t;
}

bool fold_constant_node(const OnnxNode& node, int64_t opset, const std::vector<const Tensor*>& in,
                        std::vector<Tensor>& out) {
  const Folder f{node, opset, in};
  const std::string& op = node.op_type();
  out.clear();
  if (op == "Identity" || op == "Dropout") out.push_back(f.input(0));
  else if (op == "Cast") out.push_back(f.cast());
  else if (op == "Reshape") out.push_back(f.reshape());
  else if (op == "Flatten") out.push_back(f.flatten());
  else if (op == "Squeeze") out.push_back(f.squeeze());
  else if (op == "Unsqueeze") out.push_back(f.unsqueeze());
  else if (op == "Gather") out.push_back(f.gather());
  else if (op == "Concat") out.push_back(f.concat());
  else if (op == "Slice") out.push_back(f.slice());
  else if (op == "ConstantOfShape") out.push_back(f.constant_of_shape());
  else if (op == "Range") out.push_back(f.range());
  else if (op == "Expand") out.push_back(f.expand());
  else if (op == "Where") out.push_back(f.where());
  else if (op == "Transpose") out.push_back(f.transpose());
  else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Equal") out.push_back(f.arith(op));
  else if (op == "Neg" || op == "Abs") out.push_back(f.unary_int(op));
  else return false;
  return true;
}

}  // namespace mgi
