// Folding the ops that compute values: ConstantOfShape, Range, int64
// Add/Sub/Mul/Div, Equal, Neg, Abs (overflow-checked; the batch size, known
// only at run time, cannot enter arithmetic).
#include <cmath>
#include <cstdlib>
#include <limits>

#include "constant_fold_internal.hpp"

namespace mgi::const_fold {

Tensor Folder::constant_of_shape() const {
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

Tensor Folder::range() const {
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

// Elementwise on int64 (Add/Sub/Mul/Div/Equal) or float (Equal only here).
Tensor Folder::arith(const std::string& op) const {
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

Tensor Folder::unary_int(const std::string& op) const {
  Tensor x = input(0);
  if (x.dtype != DType::i64) fail("expects an int64 input here");
  no_batch(x);
  for (int64_t& v : x.i) {
    if (v == std::numeric_limits<int64_t>::min()) fail("int64 overflow");
    v = op == "Neg" ? -v : std::abs(v);
  }
  return x;
}

}  // namespace mgi::const_fold
