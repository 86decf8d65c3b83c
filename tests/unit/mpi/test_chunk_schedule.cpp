#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "chunk_schedule.hpp"

namespace mgi {

namespace {
void check_cover(const std::vector<Task>& tasks, int64_t n) {
  std::vector<Task> by_row = tasks;
  std::sort(by_row.begin(), by_row.end(), [](const Task& a, const Task& b) { return a.begin < b.begin; });
  int64_t at = 0;
  for (const auto& t : by_row) {
    ASSERT_EQ(t.begin, at);
    ASSERT_GT(t.end, t.begin);
    at = t.end;
  }
  ASSERT_EQ(at, n);
  for (size_t k = 0; k < tasks.size(); ++k) ASSERT_EQ(tasks[k].id, static_cast<int64_t>(k));
  for (size_t k = 1; k < tasks.size(); ++k) ASSERT_GE(tasks[k - 1].cost, tasks[k].cost);
}
}  // namespace

TEST(ChunkSchedule, UniformCostShrinksGeometrically) {
  ScheduleOptions o;
  o.workers = 4;
  const auto tasks = cut_tasks(100000, prefix_from_costs(nullptr), o);
  check_cover(tasks, 100000);
  EXPECT_EQ(tasks.front().rows(), 12500);  // 100000 / (2 * 4)
  EXPECT_LE(tasks.back().rows(), 2);
  EXPECT_LT(tasks.size(), 200u);
}

TEST(ChunkSchedule, FixedChunkRows) {
  ScheduleOptions o;
  o.workers = 3;
  o.chunk_rows = 7;
  const auto tasks = cut_tasks(100, prefix_from_costs(nullptr), o);
  check_cover(tasks, 100);
  for (const auto& t : tasks) EXPECT_LE(t.rows(), 7);
  EXPECT_EQ(tasks.size(), 15u);
}

TEST(ChunkSchedule, MinAndMaxChunkRows) {
  ScheduleOptions o;
  o.workers = 2;
  o.min_chunk_rows = 50;
  o.max_chunk_rows = 300;
  const auto tasks = cut_tasks(10000, prefix_from_costs(nullptr), o);
  check_cover(tasks, 10000);
  for (const auto& t : tasks) {
    EXPECT_LE(t.rows(), 300);
    if (t.end != 10000) {
      EXPECT_GE(t.rows(), 50);
    }
  }
}

TEST(ChunkSchedule, HeavyTailedCostsBalanceByCost) {
  std::mt19937_64 rng(std::random_device{}());
  std::lognormal_distribution<double> len(3.0, 1.5);
  const int64_t n = 20000;
  std::vector<double> prefix(n + 1, 0);
  for (int64_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + std::max(1.0, len(rng));
  ScheduleOptions o;
  o.workers = 8;
  const auto tasks = cut_tasks(n, prefix_from_costs(&prefix), o);
  check_cover(tasks, n);
  // First round: each task carries about 1/16 of the total cost (one row of slack).
  const double total = prefix[n];
  EXPECT_GE(tasks.front().cost, total / 16);
  // The last tasks are small: no long tail for the final worker.
  EXPECT_LT(tasks.back().cost, total / 200);
}

TEST(ChunkSchedule, EdgeSizes) {
  ScheduleOptions o;
  o.workers = 4;
  EXPECT_TRUE(cut_tasks(0, prefix_from_costs(nullptr), o).empty());
  check_cover(cut_tasks(3, prefix_from_costs(nullptr), o), 3);
  check_cover(cut_tasks(1, prefix_from_costs(nullptr), o), 1);
}

}  // namespace mgi
