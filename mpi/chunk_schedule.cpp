#include "chunk_schedule.hpp"

#include <algorithm>
#include <cmath>

#include "error.hpp"

namespace mgi {

namespace {
// Smallest end > begin with prefix(end) - prefix(begin) >= target, clamped to
// [begin + lo, begin + hi] and n. Binary search: prefix is non-decreasing.
int64_t end_for_cost(int64_t begin, int64_t n, double target, int64_t lo, int64_t hi,
                     const PrefixCost& prefix) {
  const double base = prefix(begin);
  int64_t a = std::min(n, begin + lo), b = std::min(n, begin + hi);
  if (prefix(a) - base >= target) return a;
  while (b - a > 1) {
    const int64_t mid = a + (b - a) / 2;
    if (prefix(mid) - base >= target)
      b = mid;
    else
      a = mid;
  }
  return b;
}
}  // namespace

std::vector<Task> cut_tasks(int64_t n, const PrefixCost& prefix, const ScheduleOptions& opt) {
  MGI_ASSERT(n >= 0 && opt.workers >= 1, "cut_tasks: bad arguments");
  const int64_t lo = std::max<int64_t>(1, opt.chunk_rows > 0 ? opt.chunk_rows : opt.min_chunk_rows);
  int64_t hi = opt.max_chunk_rows > 0 ? std::max(lo, opt.max_chunk_rows) : n;
  if (opt.chunk_rows > 0) hi = lo;
  std::vector<Task> tasks;
  int64_t at = 0;
  const double total = prefix(n);
  while (at < n) {
    // One factoring round: half the remaining cost in `workers` chunks.
    const double remaining = total - prefix(at);
    const double target = remaining / (2.0 * opt.workers);
    for (int k = 0; k < opt.workers && at < n; ++k) {
      const int64_t end = end_for_cost(at, n, target, lo, hi, prefix);
      tasks.push_back({0, at, end, prefix(end) - prefix(at)});
      at = end;
    }
  }
  std::stable_sort(tasks.begin(), tasks.end(), [](const Task& a, const Task& b) { return a.cost > b.cost; });
  for (size_t k = 0; k < tasks.size(); ++k) tasks[k].id = static_cast<int64_t>(k);
  return tasks;
}

PrefixCost prefix_from_costs(const std::vector<double>* prefix_sums) {
  if (!prefix_sums) return [](int64_t i) { return static_cast<double>(i); };
  return [prefix_sums](int64_t i) { return (*prefix_sums)[static_cast<size_t>(i)]; };
}

}  // namespace mgi
