// Dispatch of fold_constant_node() to the Folder's ops, and the checks and
// index helpers they share. The ops: constant_fold_layout.cpp,
// constant_fold_index.cpp, constant_fold_arith.cpp.
#include "constant_fold.hpp"

#include <algorithm>

#include "broadcast.hpp"
#include "constant_fold_internal.hpp"
#include "error.hpp"

namespace mgi {

namespace const_fold {

void Folder::no_batch(const Tensor& t) const {
  if (has_batch(t))
    fail("computes with the batch size, which is only known at run time (only moving it into a "
         "Reshape target is supported)");
}

// int64 parameters (indices, axes, shapes): no batch placeholder allowed.
std::vector<int64_t> Folder::ints(const Tensor& t, const char* what) const {
  if (t.dtype != DType::i64) fail(std::string(what) + " must be an integer tensor");
  no_batch(t);
  return t.i;
}

void Folder::check_size(const Shape& s) const {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) fail("would produce a tensor of negative dimension " + shape_str(s));
    if (d != 0 && n > kMaxFoldedElements / d)
      fail("would produce a constant of shape " + shape_str(s) + " (more than 2^28 elements)");
    n *= d;
  }
}

int64_t Folder::axis(int64_t a, int64_t rank, const char* what) const {
  if (a < -rank || a >= rank)
    fail(std::string(what) + " " + std::to_string(a) + " is out of range for rank " + std::to_string(rank));
  return a < 0 ? a + rank : a;
}

Tensor Folder::reshaped(const Tensor& t, Shape s) const {
  Tensor r = t;
  r.shape = std::move(s);
  return r;
}

// For each element of `out`, the offset of the element of a tensor of shape
// `in` that broadcasts to it.
std::vector<int64_t> Folder::offsets(const Shape& in_shape, const Shape& out) const {
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

Shape Folder::bshape(const Shape& a, const Shape& b) const {
  try {
    return broadcast_shapes(a, b).out;
  } catch (const ModelError&) {
    fail("inputs have shapes " + shape_str(a) + " and " + shape_str(b) + ", which do not broadcast");
  }
}

}  // namespace const_fold

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
  const const_fold::Folder f{node, opset, in};
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
