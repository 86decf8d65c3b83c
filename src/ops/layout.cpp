// Layout ops: Identity, Dropout (inference), Flatten, Reshape, Transpose,
// Squeeze, Unsqueeze, Expand, Concat, Slice. Every type: kernels move element
// bytes. Reshape-like ops (OpDef::alias) copy only when the backend did not
// alias output 0 to input 0.
#include "layout.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "error.hpp"
#include "onnx_attrs.hpp"

namespace mgi {

// ---------------------------------------------------------------- helpers

void check_inputs(const InferArgs& a) {
  const OpDef* d = a.node.def;
  if (!d) return;
  const size_t n = a.count(), lo = static_cast<size_t>(d->min_inputs), hi = static_cast<size_t>(d->max_inputs);
  if (n < lo || n > hi)
    a.fail("expects " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)) +
           " inputs, has " + std::to_string(n));
  for (size_t k = 0; k < lo; ++k)
    if (!a.has(k)) a.fail("required input " + std::to_string(k) + " is missing");
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  int64_t stride = 1;
  for (size_t k = 0; k < in.size() && k < out.size(); ++k) {
    const size_t i = in.size() - 1 - k, o = out.size() - 1 - k;
    st[o] = in[i] == 1 ? 0 : stride;
    stride *= in[i];
  }
  return st;
}

namespace {

template <class T>
void transpose_typed(const std::vector<int64_t>& perm_in, const Shape& in_shape, const T* x, T* y, int threads) {
  const size_t rank = in_shape.size();
  std::vector<int64_t> perm = perm_in;
  if (perm.empty())
    for (size_t k = 0; k < rank; ++k) perm.push_back(static_cast<int64_t>(rank - 1 - k));
  std::vector<int64_t> in_stride(rank, 1);
  for (size_t k = rank; k-- > 1;) in_stride[k - 1] = in_stride[k] * in_shape[k];
  Shape out_shape(rank);
  std::vector<int64_t> src_stride(rank);  // input stride of each output dim
  for (size_t k = 0; k < rank; ++k) {
    out_shape[k] = in_shape[static_cast<size_t>(perm[k])];
    src_stride[k] = in_stride[static_cast<size_t>(perm[k])];
  }
  const int64_t total = shape_numel(out_shape);
  if (total == 0) return;
  if (rank == 0) {
    y[0] = x[0];
    return;
  }
  // Only dims of size 1 move (e.g. [B, 1, S] -> [B, S, 1]): the same element
  // order, so a copy.
  int64_t last = -1;
  bool same_order = true;
  for (size_t k = 0; k < rank && same_order; ++k) {
    const int64_t p = perm[k];
    if (in_shape[static_cast<size_t>(p)] == 1) continue;
    same_order = p > last;
    last = p;
  }
  if (same_order) {
    std::memcpy(y, x, static_cast<size_t>(total) * sizeof(T));
    return;
  }
  const int64_t inner = out_shape[rank - 1], rows = total / inner, s_inner = src_stride[rank - 1];
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && total > 16384)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, off = 0;
    for (size_t q = rank - 1; q-- > 0;) {
      off += (rem % out_shape[q]) * src_stride[q];
      rem /= out_shape[q];
    }
    T* py = y + r * inner;
    for (int64_t j = 0; j < inner; ++j) py[j] = x[off + j * s_inner];
  }
}

// Calls f(T{}) with an unsigned integer type of the element size (1, 2, 4 or 8 bytes).
template <class F>
void by_size(size_t size, F&& f) {
  switch (size) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    case 8: return f(uint64_t{});
    default: MGI_ASSERT(false, "element size " + std::to_string(size));
  }
}

// Output 0 = input 0's bytes (nothing to do when the backend aliased them).
void cpu_copy(const KernelArgs& k) {
  const In& x = k.in[0];
  const Out& y = k.out[0];
  const size_t bytes = static_cast<size_t>(y.numel()) * dtype_size(y.dtype);
  if (bytes > 0 && y.data != x.data) std::memcpy(y.data, x.data, bytes);
}

// A 1-D integer shape/axes input known on the host, as int64.
std::vector<int64_t> int_list(const InferArgs& a, size_t k, const char* what, bool int32_ok) {
  const Tensor& t = a.value(k, what);
  if (t.dtype != DType::i64 && !(int32_ok && t.dtype == DType::i32))
    a.fail(std::string("input '") + what + "' has type " + dtype_name(t.dtype) + "; expected " +
           (int32_ok ? "int32 or int64" : "int64"));
  if (t.shape.size() > 1)
    a.fail(std::string("input '") + what + "' has shape " + shape_str(t.shape) + "; expected a 1-D tensor");
  return t.ints();
}

// The same, read by a kernel from its input (validated by inference).
std::vector<int64_t> int_list(const In& in) {
  std::vector<int64_t> v(static_cast<size_t>(in.numel()));
  for (size_t j = 0; j < v.size(); ++j) v[j] = element_as_int(in.dtype, in.data, static_cast<int64_t>(j));
  return v;
}

// ---------------------------------------------------------------- Identity, Dropout

void infer_same(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  out[0] = {a.type(0), a.shape(0)};
}

void infer_dropout(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  if (a.has(2) && a.values.size() > 2 && a.values[2]) {
    const Tensor& t = *a.values[2];
    if (t.numel() == 1 && t.int_at(0) != 0)
      a.fail("training_mode is true; only inference (training_mode false) is supported");
  }
  out[0] = {a.type(0), a.shape(0)};
  if (out.size() > 1) out[1] = {DType::b8, a.shape(0)};  // the mask (refused if used)
}

DType type_dropout(const Node&, const std::vector<DType>& in, size_t k) { return k == 0 ? in.at(0) : DType::b8; }

void cpu_dropout(const KernelArgs& k) {
  cpu_copy(k);
  if (k.out.size() > 1 && k.out[1].data)
    std::memset(k.out[1].data, 1, static_cast<size_t>(k.out[1].numel()));  // inference: every element kept
}

// ---------------------------------------------------------------- Flatten

void parse_flatten(const OnnxNode& on, Node& n) { n.axis = on.get_int("axis", 1); }

void infer_flatten(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const Shape& x = a.shape(0);
  const size_t ax = static_cast<size_t>(a.axis(a.node.axis, x.size(), 1));
  const int64_t p = shape_numel(Shape(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(ax)));
  const int64_t q = shape_numel(Shape(x.begin() + static_cast<std::ptrdiff_t>(ax), x.end()));
  out[0] = {a.type(0), {p, q}};
}

// ---------------------------------------------------------------- Reshape

void parse_reshape(const OnnxNode& on, Node& n) { n.allowzero = on.get_int("allowzero", 0) != 0; }

void infer_reshape(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const Shape& in = a.shape(0);
  const Shape target = int_list(a, 1, "shape", false);
  const bool allowzero = a.node.allowzero && a.node.opset >= 14;
  const int64_t total = shape_numel(in);
  Shape s = target;
  int infer = -1;
  int64_t known = 1;
  for (size_t k = 0; k < s.size(); ++k) {
    int64_t& d = s[k];
    if (d == 0 && !allowzero) {
      if (k >= in.size())
        a.fail("target shape " + shape_str(target) + " copies dim " + std::to_string(k) + " (0) but the input " +
               shape_str(in) + " has rank " + std::to_string(in.size()));
      d = in[k];
    } else if (d == -1) {
      if (infer >= 0) a.fail("target shape " + shape_str(target) + " has more than one -1");
      infer = static_cast<int>(k);
      continue;
    } else if (d < 0) {
      a.fail("target shape has invalid dimension " + std::to_string(d));
    }
    if (d != 0 && known > std::numeric_limits<int64_t>::max() / d) a.fail("target shape overflows");
    known *= d;
  }
  if (infer >= 0) {
    if (known == 0 || total % known != 0)
      a.fail("cannot reshape input " + shape_str(in) + " (" + std::to_string(total) + " elements) to " +
             shape_str(s) + " with -1");
    s[static_cast<size_t>(infer)] = total / known;
  } else if (known != total) {
    a.fail("cannot reshape input " + shape_str(in) + " (" + std::to_string(total) + " elements) to " + shape_str(s) +
           " (" + std::to_string(known) + " elements)");
  }
  out[0] = {a.type(0), s};
}

// ---------------------------------------------------------------- Transpose

void parse_transpose(const OnnxNode& on, Node& n) { n.perm = on.get_ints("perm"); }

void infer_transpose(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const Shape& in = a.shape(0);
  std::vector<int64_t> perm = a.node.perm;
  if (perm.empty())
    for (size_t k = 0; k < in.size(); ++k) perm.push_back(static_cast<int64_t>(in.size() - 1 - k));
  if (perm.size() != in.size())
    a.fail("perm has " + std::to_string(perm.size()) + " entries but the input " + shape_str(in) + " has rank " +
           std::to_string(in.size()));
  std::vector<bool> seen(in.size(), false);
  Shape s(in.size());
  for (size_t k = 0; k < perm.size(); ++k) {
    const int64_t p = perm[k];
    if (p < 0 || p >= static_cast<int64_t>(in.size()) || seen[static_cast<size_t>(p)])
      a.fail("perm " + shape_str(perm) + " is not a permutation of the input's " + std::to_string(in.size()) +
             " axes");
    seen[static_cast<size_t>(p)] = true;
    s[k] = in[static_cast<size_t>(p)];
  }
  out[0] = {a.type(0), s};
}

void cpu_transpose(const KernelArgs& k) {
  transpose_bytes(k.node.perm, *k.in[0].shape, dtype_size(k.in[0].dtype), k.in[0].data, k.out[0].data,
                  k.opt.threads);
}

// ---------------------------------------------------------------- Squeeze, Unsqueeze

void parse_axes_attr(const OnnxNode& on, Node& n) { n.ints = on.get_ints("axes"); }
void parse_axes_attr_required(const OnnxNode& on, Node& n) {
  if (!on.has("axes")) on.fail("missing required attribute 'axes'");
  n.ints = on.get_ints("axes");
}

// Squeeze/Unsqueeze axes: the attribute before opset 13, input 1 from opset 13.
std::vector<int64_t> axes_of(const InferArgs& a) {
  if (a.node.opset < 13) return a.node.ints;
  return a.has(1) ? int_list(a, 1, "axes", false) : std::vector<int64_t>{};
}

void infer_squeeze(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const Shape& x = a.shape(0);
  const std::vector<int64_t> axes = axes_of(a);
  std::vector<bool> drop(x.size(), false);
  if (axes.empty())
    for (size_t k = 0; k < x.size(); ++k) drop[k] = x[k] == 1;
  for (int64_t ax : axes) {
    const size_t k = static_cast<size_t>(a.axis(ax, x.size()));
    if (x[k] != 1) a.fail("cannot squeeze axis " + std::to_string(ax) + " of shape " + shape_str(x));
    drop[k] = true;
  }
  Shape s;
  for (size_t k = 0; k < x.size(); ++k)
    if (!drop[k]) s.push_back(x[k]);
  out[0] = {a.type(0), s};
}

void infer_unsqueeze(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const Shape& x = a.shape(0);
  const std::vector<int64_t> axes = axes_of(a);
  const size_t r = x.size() + axes.size();
  std::vector<bool> ins(r, false);
  for (int64_t ax : axes) {
    const size_t k = static_cast<size_t>(a.axis(ax, r));
    if (ins[k]) a.fail("axis " + std::to_string(ax) + " appears twice");
    ins[k] = true;
  }
  Shape s;
  size_t src = 0;
  for (size_t k = 0; k < r; ++k) s.push_back(ins[k] ? 1 : x[src++]);
  out[0] = {a.type(0), s};
}

// ---------------------------------------------------------------- Expand

void infer_expand(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const Shape target = int_list(a, 1, "shape", false);
  for (int64_t d : target)
    if (d < 0) a.fail("shape " + shape_str(target) + " has invalid dimension " + std::to_string(d));
  out[0] = {a.type(0), a.broadcast(a.shape(0), target)};
}

void cpu_expand(const KernelArgs& k) {
  const Shape& s = *k.out[0].shape;
  const std::array<std::vector<int64_t>, 1> st{broadcast_strides(*k.in[0].shape, s)};
  by_size(dtype_size(k.in[0].dtype), [&](auto tag) {
    using T = decltype(tag);
    const T* x = k.in[0].as<T>();
    T* y = k.out[0].as<T>();
    for_each_broadcast(s, st, [&](int64_t e, const std::array<int64_t, 1>& o) { y[e] = x[o[0]]; });
  });
}

// ---------------------------------------------------------------- Concat

void parse_concat(const OnnxNode& on, Node& n) {
  n.axis = n.opset < 4 ? on.get_int("axis", 1) : on.need_int("axis");
}

void infer_concat(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const Shape& x0 = a.shape(0);
  if (x0.empty()) a.fail("cannot concatenate scalars");
  const size_t ax = static_cast<size_t>(a.axis(a.node.axis, x0.size()));
  Shape s = x0;
  s[ax] = 0;
  for (size_t k = 0; k < a.count(); ++k) {
    const Shape& x = a.shape(k);
    bool ok = a.type(k) == a.type(0) && x.size() == x0.size();
    for (size_t d = 0; ok && d < s.size(); ++d) ok = d == ax || x[d] == x0[d];
    if (!ok)
      a.fail("input " + std::to_string(k) + " (" + dtype_name(a.type(k)) + " " + shape_str(x) +
             ") does not match input 0 (" + dtype_name(a.type(0)) + " " + shape_str(x0) + ") off axis " +
             std::to_string(ax));
    if (x[ax] > std::numeric_limits<int64_t>::max() - s[ax]) a.fail("output shape overflows");
    s[ax] += x[ax];
  }
  out[0] = {a.type(0), s};
}

void cpu_concat(const KernelArgs& k) {
  const Shape& s = *k.out[0].shape;
  const size_t ax = static_cast<size_t>(k.node.axis < 0 ? k.node.axis + static_cast<int64_t>(s.size()) : k.node.axis);
  const size_t es = dtype_size(k.out[0].dtype);
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < ax; ++d) outer *= s[d];
  for (size_t d = ax + 1; d < s.size(); ++d) inner *= s[d];
  char* y = static_cast<char*>(k.out[0].data);
  for (int64_t o = 0; o < outer; ++o)
    for (const In& x : k.in) {
      const size_t len = static_cast<size_t>((*x.shape)[ax] * inner) * es;
      if (len == 0) continue;
      std::memcpy(y, static_cast<const char*>(x.data) + static_cast<size_t>(o) * len, len);
      y += len;
    }
}

// ---------------------------------------------------------------- Slice

struct SliceGeo {
  std::vector<int64_t> first, step;  // per input dim
  Shape out;
};

// ONNX Slice semantics: negative starts/ends count from the end, then are
// clamped to [0, dim] (step > 0) or [0, dim - 1] / [-1, dim - 1] (step < 0).
// Returns an error text, or "" when the parameters are valid.
std::string slice_geometry(const Shape& in, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                           std::vector<int64_t> axes, std::vector<int64_t> steps, SliceGeo& g) {
  const int64_t r = static_cast<int64_t>(in.size());
  if (axes.empty())
    for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    return "starts, ends, axes and steps must have the same length (have " + std::to_string(starts.size()) + ", " +
           std::to_string(ends.size()) + ", " + std::to_string(axes.size()) + ", " + std::to_string(steps.size()) +
           ")";
  g.first.assign(in.size(), 0);
  g.step.assign(in.size(), 1);
  g.out = in;
  std::vector<bool> seen(in.size(), false);
  for (size_t k = 0; k < starts.size(); ++k) {
    if (axes[k] < -r || axes[k] >= r)
      return "axis " + std::to_string(axes[k]) + " is out of range for an input of rank " + std::to_string(r);
    const size_t a = static_cast<size_t>(axes[k] < 0 ? axes[k] + r : axes[k]);
    if (seen[a]) return "axis " + std::to_string(axes[k]) + " appears twice";
    seen[a] = true;
    const int64_t dim = in[a];
    int64_t st = steps[k];
    if (st == 0) return "step 0 is not allowed";
    st = std::max(std::min(st, dim + 1), -dim - 1);  // same result, no overflow below
    int64_t b = starts[k], e = ends[k];
    if (b < 0) b += dim;
    if (e < 0) e += dim;
    int64_t len;
    if (dim == 0) {
      b = 0;
      len = 0;
    } else if (st > 0) {
      b = std::clamp<int64_t>(b, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      len = e > b ? (e - b + st - 1) / st : 0;
    } else {
      b = std::clamp<int64_t>(b, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      len = b > e ? (b - e + (-st) - 1) / (-st) : 0;
    }
    g.first[a] = b;
    g.step[a] = st;
    g.out[a] = len;
  }
  return "";
}

void parse_slice_attrs(const OnnxNode& on, Node& n) {  // opset 1-9: starts, ends, axes attributes
  if (!on.has("starts") || !on.has("ends")) on.fail("missing required attribute 'starts' or 'ends'");
  const std::vector<int64_t> starts = on.get_ints("starts"), ends = on.get_ints("ends");
  std::vector<int64_t> axes = on.get_ints("axes");
  if (axes.empty())
    for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
  if (ends.size() != starts.size() || axes.size() != starts.size())
    on.fail("starts, ends and axes must have the same length");
  n.ints = starts;  // starts ++ ends ++ axes
  n.ints.insert(n.ints.end(), ends.begin(), ends.end());
  n.ints.insert(n.ints.end(), axes.begin(), axes.end());
}

void slice_attr_params(const Node& n, std::vector<int64_t>& starts, std::vector<int64_t>& ends,
                       std::vector<int64_t>& axes) {
  const auto m = static_cast<std::ptrdiff_t>(n.ints.size() / 3);
  starts.assign(n.ints.begin(), n.ints.begin() + m);
  ends.assign(n.ints.begin() + m, n.ints.begin() + 2 * m);
  axes.assign(n.ints.begin() + 2 * m, n.ints.end());
}

void infer_slice(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  std::vector<int64_t> starts, ends, axes, steps;
  if (a.node.opset < 10) {
    slice_attr_params(a.node, starts, ends, axes);
  } else {
    for (size_t k = 2; k < a.count(); ++k)
      if (a.has(k) && a.type(k) != a.type(1))
        a.fail("inputs 'starts', 'ends', 'axes' and 'steps' must have one type (int32 or int64)");
    starts = int_list(a, 1, "starts", true);
    ends = int_list(a, 2, "ends", true);
    if (a.has(3)) axes = int_list(a, 3, "axes", true);
    if (a.has(4)) steps = int_list(a, 4, "steps", true);
  }
  SliceGeo g;
  const std::string err = slice_geometry(a.shape(0), starts, ends, axes, steps, g);
  if (!err.empty()) a.fail(err);
  out[0] = {a.type(0), g.out};
}

void cpu_slice(const KernelArgs& k) {
  std::vector<int64_t> starts, ends, axes, steps;
  if (k.node.opset < 10) {
    slice_attr_params(k.node, starts, ends, axes);
  } else {
    starts = int_list(k.in[1]);
    ends = int_list(k.in[2]);
    if (k.in.size() > 3 && k.in[3].present()) axes = int_list(k.in[3]);
    if (k.in.size() > 4 && k.in[4].present()) steps = int_list(k.in[4]);
  }
  const Shape& in = *k.in[0].shape;
  SliceGeo g;
  const std::string err = slice_geometry(in, starts, ends, axes, steps, g);
  MGI_ASSERT(err.empty(), err);
  const int64_t total = shape_numel(g.out);
  if (total == 0) return;
  const size_t rank = in.size(), es = dtype_size(k.in[0].dtype);
  const char* x = static_cast<const char*>(k.in[0].data);
  char* y = static_cast<char*>(k.out[0].data);
  if (rank == 0) {
    std::memcpy(y, x, es);
    return;
  }
  std::vector<int64_t> stride(rank, 1);
  for (size_t q = rank; q-- > 1;) stride[q - 1] = stride[q] * in[q];
  const int64_t inner = g.out[rank - 1], s_inner = g.step[rank - 1];
  std::vector<int64_t> idx(rank, 0);
  by_size(es, [&](auto tag) {
    using T = decltype(tag);
    const T* px = reinterpret_cast<const T*>(x);
    T* py = reinterpret_cast<T*>(y);
    for (int64_t e = 0; e < total; e += inner) {
      int64_t off = g.first[rank - 1];
      for (size_t q = 0; q + 1 < rank; ++q) off += (g.first[q] + idx[q] * g.step[q]) * stride[q];
      if (s_inner == 1) {
        std::memcpy(py + e, px + off, static_cast<size_t>(inner) * sizeof(T));
      } else {
        for (int64_t j = 0; j < inner; ++j) py[e + j] = px[off + j * s_inner];
      }
      for (size_t q = rank - 1; q-- > 0;) {
        if (++idx[q] < g.out[q]) break;
        idx[q] = 0;
      }
    }
  });
}

}  // namespace

void transpose_bytes(const std::vector<int64_t>& perm, const Shape& in_shape, size_t elem_size, const void* x,
                     void* y, int threads) {
  by_size(elem_size, [&](auto tag) {
    using T = decltype(tag);
    transpose_typed(perm, in_shape, static_cast<const T*>(x), static_cast<T*>(y), threads);
  });
}

void register_layout_ops(OpRegistry& r) {
  const char* all = "T: all";
  {
    OpDef d;
    d.name = "Identity";
    d.infer = infer_same;
    d.cpu = cpu_copy;
    d.alias = true;
    d.types = all;
    d.notes = "Tensors only (no sequence or optional inputs).";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "Dropout";
    d.max_inputs = 3;  // opset 12: data, ratio, training_mode
    d.max_outputs = 1;
    d.infer = infer_dropout;
    d.cpu = cpu_dropout;
    d.type = type_dropout;
    d.alias = true;
    d.types = "T: all; T1 (ratio): any float; T2 (training_mode): bool";
    d.notes = "Inference only: output = input. The mask output must be unused; a constant training_mode of true "
              "is refused.";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "Flatten";
    d.parse = parse_flatten;
    d.infer = infer_flatten;
    d.cpu = cpu_copy;
    d.alias = true;
    d.types = all;
    r.add(d);
  }
  {
    OpDef d;
    d.name = "Reshape";
    d.since = 5;
    d.min_inputs = d.max_inputs = 2;
    d.parse = parse_reshape;
    d.infer = infer_reshape;
    d.cpu = cpu_copy;
    d.alias = true;
    d.types = "T: all; shape: int64";
    d.notes = "`shape` must be known on the host (a constant, or computed from shapes). 0 copies the input's dim "
              "unless allowzero = 1 (opset 14); one -1 is inferred. Opset 1-4 (shape attribute) is not supported.";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "Transpose";
    d.parse = parse_transpose;
    d.infer = infer_transpose;
    d.cpu = cpu_transpose;
    d.types = all;
    d.notes = "No perm: reversed axes.";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "Squeeze";
    d.until = 12;
    d.parse = parse_axes_attr;
    d.infer = infer_squeeze;
    d.cpu = cpu_copy;
    d.alias = true;
    d.types = all;
    d.notes = "Axes from the `axes` attribute; none: every dim of size 1 is removed.";
    r.add(d);
    d.since = 13;
    d.until = 0;
    d.max_inputs = 2;
    d.parse = nullptr;
    d.types = "T: all; axes: int64";
    d.notes = "`axes` (input 1) must be known on the host; absent or empty: every dim of size 1 is removed.";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "Unsqueeze";
    d.until = 12;
    d.parse = parse_axes_attr_required;
    d.infer = infer_unsqueeze;
    d.cpu = cpu_copy;
    d.alias = true;
    d.types = all;
    d.notes = "Axes from the `axes` attribute, counted in the output's rank.";
    r.add(d);
    d.since = 13;
    d.until = 0;
    d.min_inputs = d.max_inputs = 2;
    d.parse = nullptr;
    d.types = "T: all; axes: int64";
    d.notes = "`axes` (input 1) must be known on the host; counted in the output's rank.";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "Expand";
    d.since = 8;
    d.min_inputs = d.max_inputs = 2;
    d.infer = infer_expand;
    d.cpu = cpu_expand;
    d.types = "T: all; shape: int64";
    d.notes = "`shape` must be known on the host; numpy (two-way) broadcast of the input and `shape`.";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "Concat";
    d.max_inputs = 1 << 30;
    d.parse = parse_concat;
    d.infer = infer_concat;
    d.cpu = cpu_concat;
    d.types = all;
    d.notes = "Any number of inputs of one type and rank.";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "Slice";
    d.until = 9;
    d.parse = parse_slice_attrs;
    d.infer = infer_slice;
    d.cpu = cpu_slice;
    d.types = all;
    d.notes = "starts, ends, axes from attributes (opset 1-9).";
    r.add(d);
    d.since = 10;
    d.until = 0;
    d.min_inputs = 3;
    d.max_inputs = 5;
    d.parse = nullptr;
    d.types = "T: all; Tind: int32, int64";
    d.notes = "starts, ends, axes, steps must be known on the host. Negative steps; starts/ends clamped as the "
              "ONNX spec says.";
    r.add(d);
  }
}

}  // namespace mgi
