// Folding the ops that move or reshape data: Cast, Reshape, Flatten, Squeeze,
// Unsqueeze, Transpose (float or int64; a kBatchDim value may pass through).
#include <cmath>

#include "constant_fold_internal.hpp"

namespace mgi::const_fold {

Tensor Folder::cast() const {
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

Tensor Folder::reshape() const {
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

Tensor Folder::flatten() const {
  const Tensor& x = input(0);
  const int64_t r = static_cast<int64_t>(x.shape.size());
  int64_t a = node.get_int("axis", 1);
  if (a < -r || a > r) fail("axis " + std::to_string(a) + " is out of range for rank " + std::to_string(r));
  if (a < 0) a += r;
  int64_t p = 1, q = 1;
  for (int64_t k = 0; k < r; ++k) (k < a ? p : q) *= x.shape[static_cast<size_t>(k)];
  return reshaped(x, {p, q});
}

std::vector<int64_t> Folder::axes_param(size_t input_index, bool required) const {
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

Tensor Folder::squeeze() const {
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

Tensor Folder::unsqueeze() const {
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

Tensor Folder::transpose() const {
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

}  // namespace mgi::const_fold
