// Layout ops: Identity, Dropout (inference), Flatten, Reshape, Transpose,
// Squeeze, Unsqueeze (Expand, Concat, Slice: slice_concat.cpp). Every type:
// kernels move element bytes. Reshape-like ops (OpDef::alias) copy only when the backend did not
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

// Output 0 = input 0's bytes (nothing to do when the backend aliased them).
void cpu_copy(const KernelArgs& k) {
  const In& x = k.in[0];
  const Out& y = k.out[0];
  const size_t bytes = static_cast<size_t>(y.numel()) * dtype_size(y.dtype);
  if (bytes > 0 && y.data != x.data) std::memcpy(y.data, x.data, bytes);
}

// ---------------------------------------------------------------- Identity, Dropout

void infer_same(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  out[0] = {a.type(0), a.shape(0)};
}

void infer_dropout(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  // A training_mode fed at run time could be true (random dropout): it must be known now.
  if (a.has(2)) {
    const Tensor& t = a.value(2, "training_mode");
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
    d.notes = "Inference only: output = input. The mask output must be unused; training_mode must be a constant "
              "(or computed from shapes) and false.";
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

}

}  // namespace mgi
