// The CPU GEMM kernel's contract (gemm_kernel.hpp): every element is the
// FMA chain over k in order, scaled by alpha at the end; so every kernel
// (AVX-512, AVX2, portable), every split of rows or columns between threads,
// and every sub-range of rows gives the same bits.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

#include "gemm_kernel.hpp"

namespace mgi::cpu {
namespace {

struct Case {
  int64_t m, k, n;
};
const Case kCases[] = {{1, 1, 1},   {7, 513, 10},  {50, 1030, 33}, {97, 64, 70},
                       {200, 17, 16}, {33, 600, 48}, {25, 3, 17},    {9, 1, 65}};

std::vector<float> uniform(std::mt19937& g, int64_t n) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(g);
  return v;
}

// The definition: one fma chain per element from 0, then * alpha (when != 1).
std::vector<float> chain(const std::vector<float>& a, const std::vector<float>& bt, int64_t m, int64_t k, int64_t n,
                         float alpha) {
  std::vector<float> c(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float acc = 0.0f;
      for (int64_t q = 0; q < k; ++q) acc = std::fma(a[static_cast<size_t>(i * k + q)], bt[static_cast<size_t>(j * k + q)], acc);
      c[static_cast<size_t>(i * n + j)] = alpha != 1.0f ? acc * alpha : acc;
    }
  return c;
}

std::vector<float> run(const std::vector<float>& a, const PackedB& b, int64_t m, int64_t k, int64_t n, float alpha,
                       int threads) {
  std::vector<float> c(static_cast<size_t>(m * n), NAN);
  gemm_packed(m, n, k, alpha, a.data(), k, b, c.data(), n, GemmEpilogue{}, threads);
  return c;
}

void expect_bits(const std::vector<float>& want, const std::vector<float>& got, const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (size_t e = 0; e < want.size(); ++e)
    ASSERT_EQ(std::memcmp(&want[e], &got[e], sizeof(float)), 0) << what << " element " << e << ": " << got[e]
                                                                << " vs " << want[e];
}

class KernelRestore : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = gemm_kernel_name(); }
  void TearDown() override { set_gemm_kernel(saved_); }
  std::string saved_;
};

using CpuGemmKernel = KernelRestore;

TEST_F(CpuGemmKernel, EveryKernelComputesTheSameChain) {
  const uint32_t seed = static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  SCOPED_TRACE("random seed " + std::to_string(seed));
  std::mt19937 g(seed);
  int ran = 0;
  for (const Case& c : kCases)
    for (float alpha : {1.0f, 0.7f}) {
      const auto a = uniform(g, c.m * c.k), bt = uniform(g, c.n * c.k);  // B given transposed: [n, k]
      PackedB b;
      pack_b(bt.data(), true, c.k, c.n, b);
      const auto want = chain(a, bt, c.m, c.k, c.n, alpha);
      for (const char* kernel : {"portable", "avx2", "avx512"}) {
        if (!set_gemm_kernel(kernel)) continue;
        ++ran;
        for (int threads : {1, 2})
          expect_bits(want, run(a, b, c.m, c.k, c.n, alpha, threads),
                      std::string(kernel) + " m=" + std::to_string(c.m) + " k=" + std::to_string(c.k) +
                          " n=" + std::to_string(c.n) + " threads=" + std::to_string(threads));
      }
    }
  EXPECT_GE(ran, 16) << "the portable kernel runs everywhere";
}

TEST_F(CpuGemmKernel, RowsAndPackingsAgree) {
  std::mt19937 g(7);
  const int64_t m = 300, k = 700, n = 90;
  const auto a = uniform(g, m * k), w = uniform(g, k * n);  // B as [k, n]
  PackedB b;
  pack_b(w.data(), false, k, n, b);
  const auto full = run(a, b, m, k, n, 1.0f, 2);
  for (int64_t start : {0, 1, 23, 150, 299})
    for (int64_t rows : {1, 2, 9, 24, 100}) {
      if (start + rows > m) continue;
      const std::vector<float> part_a(a.begin() + start * k, a.begin() + (start + rows) * k);
      const auto part = run(part_a, b, rows, k, n, 1.0f, 1 + static_cast<int>(rows % 2));
      expect_bits(std::vector<float>(full.begin() + start * n, full.begin() + (start + rows) * n), part,
                  "rows [" + std::to_string(start) + ", " + std::to_string(start + rows) + ")");
    }
}

TEST_F(CpuGemmKernel, EmptySumAndEpilogue) {
  PackedB b;
  pack_b(nullptr, false, 0, 5, b);
  const std::vector<float> bias = {1, -2, 3, -4, 5};
  const std::vector<UnaryStep> relu = {UnaryStep{UnaryFn::relu, 0.01f, false}};
  GemmEpilogue ep;
  ep.bias = bias.data();
  ep.sn = 1;
  ep.steps = &relu;
  std::vector<float> c(10, NAN);
  gemm_packed(2, 5, 0, 1.0f, nullptr, 0, b, c.data(), 5, ep, 2);
  EXPECT_EQ(c, (std::vector<float>{1, 0, 3, 0, 5, 1, 0, 3, 0, 5}));
}

}  // namespace
}  // namespace mgi::cpu
