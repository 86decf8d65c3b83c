#include <gtest/gtest.h>

#include <random>

#include "partition.hpp"

namespace mgi {

TEST(Partition, BalancedToOneRowAndContiguous) {
  std::mt19937_64 rng(std::random_device{}());
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t n = static_cast<int64_t>(rng() % 100000);
    const int ranks = 1 + static_cast<int>(rng() % 64);
    SCOPED_TRACE("n=" + std::to_string(n) + " ranks=" + std::to_string(ranks));
    const auto s = split_rows(n, ranks);
    ASSERT_EQ(static_cast<int>(s.size()), ranks);
    int64_t lo = INT64_MAX, hi = 0;
    for (int r = 0; r < ranks; ++r) {
      EXPECT_EQ(s[r].begin, r == 0 ? 0 : s[r - 1].end);
      lo = std::min(lo, s[r].rows());
      hi = std::max(hi, s[r].rows());
    }
    EXPECT_EQ(s.back().end, n);
    EXPECT_LE(hi - lo, 1);
  }
}

TEST(Partition, FewerRowsThanRanks) {
  const auto s = split_rows(3, 5);
  EXPECT_EQ(s[0].rows(), 1);
  EXPECT_EQ(s[2].rows(), 1);
  EXPECT_EQ(s[3].rows(), 0);
  EXPECT_EQ(s[4].begin, 3);
  EXPECT_EQ(s[4].end, 3);
}

TEST(Partition, ZeroRows) {
  for (const auto& sl : split_rows(0, 4)) EXPECT_EQ(sl.rows(), 0);
}

TEST(Partition, HugeRowCounts) {
  const int64_t n = (int64_t{1} << 40) + 7;
  const auto s = split_rows(n, 3);
  EXPECT_EQ(s[0].rows(), (n / 3) + 1);
  EXPECT_EQ(s[2].end, n);
}

}  // namespace mgi

namespace mgi {

TEST(Partition, ByCostBalancesCostNotRows) {
  // Row i costs i+1: the first ranks must take more rows than the last.
  const int64_t n = 1000;
  std::vector<double> prefix(n + 1, 0);
  for (int64_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + static_cast<double>(i + 1);
  const auto s = split_by_cost(n, 4, [&](int64_t i) { return prefix[i]; });
  EXPECT_EQ(s.front().begin, 0);
  EXPECT_EQ(s.back().end, n);
  for (int r = 1; r < 4; ++r) EXPECT_EQ(s[r].begin, s[r - 1].end);
  EXPECT_GT(s[0].rows(), s[3].rows());
  const double total = prefix[n];
  for (const auto& sl : s) {
    const double c = prefix[sl.end] - prefix[sl.begin];
    EXPECT_NEAR(c, total / 4, static_cast<double>(n) + 1);  // within one row's cost
  }
}

TEST(Partition, ByCostUniformMatchesByRows) {
  const auto a = split_by_cost(10, 3, [](int64_t i) { return static_cast<double>(i); });
  int64_t total = 0;
  for (const auto& sl : a) {
    EXPECT_GE(sl.rows(), 3);
    EXPECT_LE(sl.rows(), 4);
    total += sl.rows();
  }
  EXPECT_EQ(total, 10);
}

}  // namespace mgi
