#include <gtest/gtest.h>

#include <random>

#include "row_map.hpp"

namespace mgi {

TEST(RowMap, AllRowsIsIdentity) {
  const RowMap m = RowMap::all(10);
  EXPECT_EQ(m.count(), 10);
  auto p = m.physical(3, 7);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0], (RowRange{3, 7}));
  EXPECT_EQ(RowMap::all(0).count(), 0);
}

TEST(RowMap, HolesMapAcrossRanges) {
  const RowMap m({{2, 5}, {8, 9}, {20, 30}});
  EXPECT_EQ(m.count(), 14);
  auto p = m.physical(1, 6);  // virtual 1..5 -> 3,4 | 8 | 20,21
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0], (RowRange{3, 5}));
  EXPECT_EQ(p[1], (RowRange{8, 9}));
  EXPECT_EQ(p[2], (RowRange{20, 22}));
}

TEST(RowMap, RandomHolesCoverEveryTodoRowOnce) {
  std::mt19937_64 rng(std::random_device{}());
  for (int t = 0; t < 100; ++t) {
    std::vector<RowRange> done;
    const int64_t n = 1 + static_cast<int64_t>(rng() % 500);
    for (int k = 0; k < 5; ++k) {
      const int64_t a = static_cast<int64_t>(rng() % n);
      done.push_back({a, std::min(n, a + static_cast<int64_t>(rng() % 40))});
    }
    const auto todo = missing_ranges(done, n);
    const RowMap m(todo);
    std::vector<int> hits(static_cast<size_t>(n), 0);
    const int ranks = 1 + static_cast<int>(rng() % 5);
    for (const auto& s : split_rows(m.count(), ranks))
      for (const auto& r : m.physical(s.begin, s.end))
        for (int64_t i = r.begin; i < r.end; ++i) hits[static_cast<size_t>(i)]++;
    const auto merged = merge_ranges(done);
    for (int64_t i = 0; i < n; ++i) {
      bool is_done = false;
      for (const auto& d : merged) is_done |= i >= d.begin && i < d.end;
      ASSERT_EQ(hits[static_cast<size_t>(i)], is_done ? 0 : 1) << "row " << i;
    }
  }
}

TEST(RowMap, VirtualPrefixCostSkipsDoneRows) {
  const RowMap m({{1, 3}, {5, 6}});
  const auto phys = [](int64_t i) { return static_cast<double>(i * (i - 1) / 2); };  // row i costs i
  const auto v = m.virtual_prefix(phys);
  EXPECT_DOUBLE_EQ(v(0), 0);
  EXPECT_DOUBLE_EQ(v(1), 1);      // row 1
  EXPECT_DOUBLE_EQ(v(2), 3);      // rows 1, 2
  EXPECT_DOUBLE_EQ(v(3), 8);      // + row 5
}

}  // namespace mgi
