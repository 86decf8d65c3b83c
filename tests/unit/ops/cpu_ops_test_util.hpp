// Helpers shared by the CPU kernel and CPU backend tests: a clock-seeded Rng,
// numpy broadcasting index helpers, expect_close, and exec() of one node.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu_ops.hpp"
#include "graph.hpp"
#include "test_rng.hpp"

namespace mgi {
namespace {

using cpu::ExecOptions;

using test::Rng;

// Offset into a tensor of shape `in` for output multi-index `idx` under numpy broadcasting.
inline int64_t bcast_offset(const Shape& in, const Shape& out, const std::vector<int64_t>& idx) {
  int64_t off = 0, stride = 1;
  for (size_t k = 0; k < in.size(); ++k) {
    const size_t i = in.size() - 1 - k, o = out.size() - 1 - k;
    const int64_t j = in[i] == 1 ? 0 : idx[o];
    off += j * stride;
    stride *= in[i];
  }
  return off;
}
inline std::vector<int64_t> unravel(int64_t e, const Shape& s) {
  std::vector<int64_t> idx(s.size());
  for (size_t k = s.size(); k-- > 0;) {
    idx[k] = e % s[k];
    e /= s[k];
  }
  return idx;
}
inline Shape bshape(const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape o(r);
  for (size_t k = 0; k < r; ++k) {
    const int64_t da = k < r - a.size() ? 1 : a[k - (r - a.size())];
    const int64_t db = k < r - b.size() ? 1 : b[k - (r - b.size())];
    o[k] = da == 1 ? db : da;
  }
  return o;
}

inline void expect_close(const std::vector<float>& got, const std::vector<double>& want, double rel = 1e-5,
                         double abs = 1e-6, const std::vector<double>& scale = {}) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < got.size(); ++k) {
    const double s = scale.empty() ? std::fabs(want[k]) : scale[k];
    ASSERT_NEAR(got[k], want[k], rel * s + abs) << "element " << k;
  }
}

inline Node make_node(OpKind op) {
  Node n;
  n.op = op;
  n.name = std::string("t_") + op_name(op);
  n.op_type = op_name(op);
  return n;
}

inline std::vector<float> exec(const Node& n, const std::vector<Shape>& shapes, const std::vector<const float*>& in,
                               ExecOptions opt = {}) {
  const Shape out = infer_node_shape(n, shapes, "t.onnx", -1);
  std::vector<float> y(static_cast<size_t>(shape_numel(out)), std::nanf(""));
  cpu::exec_node(n, shapes, in, out, y.data(), opt);
  return y;
}

}  // namespace
}  // namespace mgi
