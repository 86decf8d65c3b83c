// Ops that cut and combine tensors: Expand, Concat, Slice. Every type: kernels
// move element bytes; shapes, starts, ends, axes and steps are host-known values.
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "error.hpp"
#include "layout.hpp"
#include "onnx_attrs.hpp"

namespace mgi {

namespace {

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

void register_slice_concat_ops(OpRegistry& r) {
  const char* all = "T: all";
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
