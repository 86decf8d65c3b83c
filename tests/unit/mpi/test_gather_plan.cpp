#include <gtest/gtest.h>

#include <climits>
#include <random>

#include "error.hpp"
#include "gather_plan.hpp"

namespace mgi {

namespace {
// Every row of every slice appears in exactly one window, in order, and the
// receive layout is consistent with the counts.
void check_covers(const std::vector<Slice>& slices, const GatherPlan& p) {
  std::vector<int64_t> next(slices.size());
  for (size_t r = 0; r < slices.size(); ++r) next[r] = slices[r].begin;
  for (int64_t w = 0; w < p.windows; ++w) {
    const WindowLayout l = window_layout(slices, p, w);
    int64_t at = 0;
    for (size_t r = 0; r < slices.size(); ++r) {
      ASSERT_GE(l.counts[r], 0);
      ASSERT_LE(l.counts[r], p.rows_per_window);
      ASSERT_EQ(l.displs[r], at);
      if (l.counts[r] > 0) {
        ASSERT_EQ(l.first_row[r], next[r]);
      }
      next[r] += l.counts[r];
      at += l.counts[r];
    }
    ASSERT_EQ(l.total_rows, at);
  }
  for (size_t r = 0; r < slices.size(); ++r) EXPECT_EQ(next[r], slices[r].end) << "rank " << r;
}
}  // namespace

TEST(GatherPlan, WindowBoundsRankZeroMemory) {
  const auto slices = split_rows(1000, 4);
  const GatherPlan p = plan_gather(slices, 40, 4000);  // 100 rows in all -> 25 per rank
  EXPECT_EQ(p.rows_per_window, 25);
  EXPECT_EQ(p.windows, 10);
  EXPECT_LE(p.window_bytes, 4000);
  check_covers(slices, p);
}

TEST(GatherPlan, RandomShapesCoverEveryRowOnce) {
  std::mt19937_64 rng(std::random_device{}());
  for (int t = 0; t < 300; ++t) {
    const int64_t n = static_cast<int64_t>(rng() % 5000);
    const int ranks = 1 + static_cast<int>(rng() % 9);
    const int64_t row_bytes = 4 * (1 + static_cast<int64_t>(rng() % 100));
    const int64_t budget = 1 + static_cast<int64_t>(rng() % 100000);
    SCOPED_TRACE(testing::Message() << "n=" << n << " ranks=" << ranks << " row=" << row_bytes
                                    << " budget=" << budget);
    const auto slices = split_rows(n, ranks);
    const GatherPlan p = plan_gather(slices, row_bytes, budget);
    ASSERT_GE(p.rows_per_window, 1);
    if (p.rows_per_window > 1) {
      ASSERT_LE(p.window_bytes, budget);
    }
    check_covers(slices, p);
  }
}

TEST(GatherPlan, WindowSmallerThanOneRowStillProgresses) {
  const auto slices = split_rows(10, 2);
  const GatherPlan p = plan_gather(slices, 1 << 20, 1024);
  EXPECT_EQ(p.rows_per_window, 1);
  EXPECT_EQ(p.windows, 5);
  check_covers(slices, p);
}

TEST(GatherPlan, ZeroRowsMeansNoWindows) {
  const GatherPlan p = plan_gather(split_rows(0, 3), 40, 1 << 20);
  EXPECT_EQ(p.windows, 0);
}

TEST(GatherPlan, BeyondTwoGigabytesCountsStayIntsAndOffsetsExact) {
  // 3 billion rows of 4 KiB over 8 ranks with a 64 GiB window: nothing is allocated.
  const int64_t n = 3'000'000'000LL, row_bytes = 4096, budget = int64_t{64} << 30;
  const auto slices = split_rows(n, 8);
  const GatherPlan p = plan_gather(slices, row_bytes, budget);
  EXPECT_EQ(p.rows_per_window, budget / 8 / row_bytes);
  EXPECT_GT(p.window_bytes, int64_t{INT_MAX});  // one window is > 2^31 bytes
  const WindowLayout l = window_layout(slices, p, p.windows - 1);
  for (int r = 0; r < 8; ++r) {
    EXPECT_GE(l.counts[r], 0);
    EXPECT_GE(l.displs[r], 0);
  }
  // Byte displacement of the last rank's block in a full window: > 2^31, exact.
  const WindowLayout first = window_layout(slices, p, 0);
  EXPECT_EQ(row_byte_offset(first.displs[7], row_bytes), int64_t{7} * p.rows_per_window * row_bytes);
  EXPECT_GT(row_byte_offset(first.displs[7], row_bytes), int64_t{INT_MAX});
  // Last row of the dataset is in the last window of the last rank.
  EXPECT_EQ(l.first_row[7] + l.counts[7], n);
}

TEST(GatherPlan, RowCountsPerWindowCappedForIntCounts) {
  // Tiny rows and a huge budget would exceed int counts: the plan caps them.
  const auto slices = split_rows(int64_t{1} << 36, 4);
  const GatherPlan p = plan_gather(slices, 4, int64_t{1} << 40);
  EXPECT_LE(p.rows_per_window * 4, int64_t{INT_MAX});
  const WindowLayout l = window_layout(slices, p, 0);
  EXPECT_LE(static_cast<int64_t>(l.displs[3]) + l.counts[3], int64_t{INT_MAX});
}

TEST(GatherPlan, ByteOffsetOverflowIsAnError) {
  EXPECT_THROW(row_byte_offset(int64_t{1} << 62, 1 << 10), Error);
}

}  // namespace mgi
