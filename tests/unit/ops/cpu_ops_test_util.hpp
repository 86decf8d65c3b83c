// Helpers shared by the CPU kernel and CPU backend tests: a clock-seeded Rng,
// numpy broadcasting index helpers, expect_close, and exec() of one node
// through its registry definition (inference, then the CPU kernel).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "graph.hpp"
#include "index_test_util.hpp"
#include "op_registry.hpp"
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
using test::unravel;
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

// A node of op `op` with every ONNX default, its inputs numbered 0..arity-1.
inline Node op_node(const std::string& op, int arity = 1, int64_t opset = 17, const std::string& domain = "") {
  std::vector<int> inputs;
  for (int k = 0; k < arity; ++k) inputs.push_back(k);
  Node n = make_node(op, inputs, {arity}, opset, domain);
  n.name = "t_" + op;
  return n;
}

// Runs n on float32 inputs (in[k] has shape shapes[k]) with `opt`; the output's
// shape comes from the op's inference (which also checks the shapes).
inline std::vector<float> exec(const Node& n, const std::vector<Shape>& shapes, const std::vector<const float*>& in,
                               ExecOptions opt = {}) {
  const std::string source = "t.onnx";
  // Every input is known to the inference, as constants are (BatchNormalization wants its parameters constant).
  std::vector<Tensor> values;
  for (size_t k = 0; k < shapes.size(); ++k) {
    values.emplace_back(DType::f32, shapes[k]);
    std::copy(in[k], in[k] + shape_numel(shapes[k]), values.back().data<float>());
  }
  InferArgs ia{n, source, {}, {}, {}};
  for (size_t k = 0; k < shapes.size(); ++k) {
    ia.types.push_back(DType::f32);
    ia.shapes.push_back(&shapes[k]);
    ia.values.push_back(&values[k]);
  }
  std::vector<OutInfo> info(1);
  n.def->infer(ia, info);
  const Shape out = info[0].shape;
  std::vector<float> y(static_cast<size_t>(shape_numel(out)), std::nanf(""));
  KernelArgs args{n, {}, {}, opt};
  for (size_t k = 0; k < shapes.size(); ++k) args.in.push_back(In{DType::f32, &shapes[k], in[k]});
  args.out.push_back(Out{DType::f32, &out, y.data()});
  n.def->cpu(args);
  return y;
}

}  // namespace
}  // namespace mgi
