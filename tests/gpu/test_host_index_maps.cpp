// Host checks of the index maps the CUDA kernels use (strided.hpp) and of the
// MatMul call plan (gemm_plan.hpp): executed on the CPU with the same index
// math as the kernels and compared with the CPU backend's kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numeric>
#include <random>

#include "gemm_plan.hpp"
#include "op_registry.hpp"
#include "strided.hpp"

namespace mgi::cuda {
namespace {

// The CPU kernel of registry op `op` (ai.onnx, opset 17) on float32 tensors; `set` changes attributes.
std::vector<float> cpu_op(const std::string& op, const std::vector<std::pair<Shape, const std::vector<float>*>>& in,
                          const std::function<void(Node&)>& set = {}) {
  std::vector<Tensor> t;
  std::vector<int> ids;
  for (const auto& [shape, v] : in) {
    t.push_back(Tensor::f32(shape, *v));
    ids.push_back(static_cast<int>(ids.size()));
  }
  Node n = make_node(op, ids, {static_cast<int>(ids.size())});
  if (set) set(n);
  std::vector<const Tensor*> ptr;
  for (const Tensor& x : t) ptr.push_back(&x);
  const Tensor y = run_cpu_node(n, ptr, "test").at(0);
  return std::vector<float>(y.data<float>(), y.data<float>() + y.numel());
}

std::vector<float> iota_values(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.5f + 1.0f;  // distinct, exact
  return v;
}

// What binary_strided<F, R> computes, on the host.
template <int R>
std::vector<float> gather2(const Strided& st, const std::vector<float>& a, const std::vector<float>& b, bool add) {
  std::vector<float> y(static_cast<size_t>(st.numel()));
  for (int64_t i = 0; i < st.numel(); ++i) {
    int64_t oa, ob;
    strided_offsets<R>(st, i, oa, ob);
    y[static_cast<size_t>(i)] = add ? a[static_cast<size_t>(oa)] + b[static_cast<size_t>(ob)] : a[static_cast<size_t>(oa)];
  }
  return y;
}

std::vector<float> gather_any_rank(const Strided& st, const std::vector<float>& a, const std::vector<float>& b, bool add) {
  std::vector<float> y = gather2<0>(st, a, b, add);
  if (st.rank == 1) {
    EXPECT_EQ(y, gather2<1>(st, a, b, add));
  } else if (st.rank == 2) {
    EXPECT_EQ(y, gather2<2>(st, a, b, add));
  } else if (st.rank == 3) {
    EXPECT_EQ(y, gather2<3>(st, a, b, add));
  }
  return y;
}

// Random pair of shapes that broadcast: dims of the output, each operand
// keeping a suffix of them with some dims set to 1.
std::pair<Shape, Shape> random_broadcast_pair(std::mt19937& g) {
  const size_t rank = 1 + g() % 6;
  Shape out(rank);
  for (auto& d : out) d = 1 + static_cast<int64_t>(g() % 4);
  auto operand = [&] {
    const size_t r = g() % (rank + 1);
    Shape s(out.end() - static_cast<std::ptrdiff_t>(r), out.end());
    for (auto& d : s)
      if (g() % 3 == 0) d = 1;
    return s;
  };
  return {operand(), operand()};
}

TEST(IndexMaps, BinaryBroadcastMatchesCpu) {
  std::mt19937 g(7);
  for (int t = 0; t < 500; ++t) {
    const auto [as, bs] = random_broadcast_pair(g);
    const Shape os = broadcast_shapes(as, bs).out;
    const auto a = iota_values(shape_numel(as)), b = iota_values(shape_numel(bs));
    const std::vector<float> want = cpu_op("Add", {{as, &a}, {bs, &b}});
    const Strided st = binary_strides(as, bs);
    EXPECT_EQ(st.numel(), shape_numel(os));
    EXPECT_EQ(gather_any_rank(st, a, b, true), want) << shape_str(as) << " + " << shape_str(bs);
  }
}

TEST(IndexMaps, CoalescesCommonCases) {
  EXPECT_EQ(binary_strides({8, 3, 5}, {8, 3, 5}).rank, 1);  // same shape: flat
  EXPECT_EQ(binary_strides({8, 3, 5}, {}).rank, 1);         // scalar
  const Strided bias = binary_strides({64, 10}, {10});      // row bias: rank 2, b stride 0 over rows
  EXPECT_EQ(bias.rank, 2);
  EXPECT_EQ(bias.sb[0], 0);
  EXPECT_EQ(bias.sb[1], 1);
  EXPECT_EQ(binary_strides({64, 4, 10}, {4, 10}).rank, 2);  // bias over merged trailing dims
}

TEST(IndexMaps, ExpandMatchesBroadcast) {
  std::mt19937 g(11);
  for (int t = 0; t < 300; ++t) {
    auto [xs, unused] = random_broadcast_pair(g);
    (void)unused;
    Shape ys = xs;
    for (auto& d : ys)
      if (d == 1) d = 1 + static_cast<int64_t>(g() % 3);
    if (g() % 2) ys.insert(ys.begin(), 2);
    const auto x = iota_values(shape_numel(xs));
    const std::vector<float> zeros(static_cast<size_t>(shape_numel(ys)), 0.0f);
    const std::vector<float> want = cpu_op("Add", {{xs, &x}, {ys, &zeros}});
    EXPECT_EQ(gather_any_rank(expand_strides(xs, ys), x, x, false), want) << shape_str(xs) << " -> " << shape_str(ys);
  }
  EXPECT_THROW(expand_strides({3}, {4}), Error);
}

TEST(IndexMaps, TransposeMatchesCpu) {
  std::mt19937 g(13);
  for (int t = 0; t < 300; ++t) {
    const size_t rank = 1 + g() % 7;
    Shape xs(rank);
    for (auto& d : xs) d = 1 + static_cast<int64_t>(g() % 4);
    std::vector<int64_t> perm(rank);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), g);
    const auto x = iota_values(shape_numel(xs));
    const std::vector<float> want = cpu_op("Transpose", {{xs, &x}}, [&](Node& n) { n.perm = perm; });
    EXPECT_EQ(gather_any_rank(transpose_strides(xs, perm), x, x, false), want)
        << shape_str(xs) << " perm " << shape_str(perm);
  }
  EXPECT_THROW(transpose_strides({2, 3}, {0, 2}), Error);
}

// A plan executed with plain loops must equal the CPU backend's MatMul and
// write every output element exactly once.
TEST(MatmulPlanTest, MatchesCpuMatMul) {
  std::mt19937 g(17);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const std::vector<std::pair<Shape, Shape>> fixed = {
      {{5, 4}, {4, 3}},       {{2, 5, 4}, {4, 3}},    {{2, 5, 4}, {2, 4, 3}}, {{5, 4}, {2, 4, 3}},
      {{4}, {4, 3}},          {{5, 4}, {4}},          {{4}, {2, 4, 3}},       {{2, 3, 5, 4}, {3, 4, 2}},
      {{2, 1, 5, 4}, {3, 4, 2}}, {{3, 1, 2, 4}, {1, 2, 4, 6}}, {{4}, {4}}, {{2, 0, 4}, {4, 3}}};
  for (const auto& [as, bs] : fixed) {
    std::vector<float> a(static_cast<size_t>(shape_numel(as))), b(static_cast<size_t>(shape_numel(bs)));
    for (auto& v : a) v = u(g);
    for (auto& v : b) v = u(g);
    const MatmulPlan p = plan_matmul(as, bs);
    std::vector<float> got(static_cast<size_t>(p.y_numel), NAN);
    if (p.zero_fill) std::fill(got.begin(), got.end(), 0.0f);
    for (const GemmCall& c : p.calls)
      for (int64_t q = 0; q < c.count; ++q)
        for (int64_t i = 0; i < p.m; ++i)
          for (int64_t j = 0; j < p.n; ++j) {
            double s = 0;
            for (int64_t k = 0; k < p.k; ++k)
              s += double(a[static_cast<size_t>(c.a_offset + q * c.stride_a + i * p.k + k)]) *
                   double(b[static_cast<size_t>(c.b_offset + q * c.stride_b + k * p.n + j)]);
            float& y = got[static_cast<size_t>(c.y_offset + q * c.stride_y + i * p.n + j)];
            EXPECT_TRUE(std::isnan(y)) << "element written twice";
            y = static_cast<float>(s);
          }
    const std::vector<float> want = cpu_op("MatMul", {{as, &a}, {bs, &b}});
    ASSERT_EQ(static_cast<int64_t>(want.size()), p.y_numel) << shape_str(as) << " x " << shape_str(bs);
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 1e-5) << shape_str(as) << " x " << shape_str(bs) << " element " << i;
  }
  EXPECT_THROW(plan_matmul({3, 4}, {5, 2}), Error);
  EXPECT_THROW(plan_matmul({}, {5, 2}), Error);
}

}  // namespace
}  // namespace mgi::cuda
