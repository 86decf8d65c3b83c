// Folding the ops that select or broadcast elements: Gather, Concat, Slice,
// Expand, Where.
#include <algorithm>

#include "constant_fold_internal.hpp"

namespace mgi::const_fold {

Tensor Folder::gather() const {
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

Tensor Folder::concat() const {
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

Tensor Folder::slice() const {
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

Tensor Folder::expand() const {
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

Tensor Folder::where() const {
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

}  // namespace mgi::const_fold
