#include "gather_plan.hpp"

#include <algorithm>
#include <climits>
#include <limits>

#include "error.hpp"

namespace mgi {

GatherPlan plan_gather(const std::vector<Slice>& slices, int64_t row_bytes, int64_t budget) {
  MGI_ASSERT(!slices.empty() && row_bytes > 0 && budget > 0, "bad gather plan arguments");
  const int64_t ranks = static_cast<int64_t>(slices.size());
  int64_t largest = 0;
  for (const auto& s : slices) largest = std::max(largest, s.rows());
  GatherPlan p;
  p.rows_per_window = std::max<int64_t>(1, budget / ranks / row_bytes);
  // Receive counts and displacements are ints in rows: total rows per window < 2^31.
  p.rows_per_window = std::min<int64_t>(p.rows_per_window, INT_MAX / ranks);
  p.rows_per_window = std::max<int64_t>(1, std::min(p.rows_per_window, largest));
  p.windows = largest == 0 ? 0 : (largest + p.rows_per_window - 1) / p.rows_per_window;
  p.window_bytes = row_byte_offset(p.rows_per_window * ranks, row_bytes);
  return p;
}

Slice window_rows(const Slice& slice, const GatherPlan& plan, int64_t w) {
  const int64_t begin = std::min(slice.end, slice.begin + w * plan.rows_per_window);
  const int64_t end = std::min(slice.end, begin + plan.rows_per_window);
  return {begin, end};
}

WindowLayout window_layout(const std::vector<Slice>& slices, const GatherPlan& plan, int64_t w) {
  WindowLayout l;
  const size_t n = slices.size();
  l.counts.resize(n);
  l.displs.resize(n);
  l.first_row.resize(n);
  int64_t at = 0;
  for (size_t r = 0; r < n; ++r) {
    const Slice part = window_rows(slices[r], plan, w);
    l.counts[r] = static_cast<int>(part.rows());
    l.displs[r] = static_cast<int>(at);
    l.first_row[r] = part.begin;
    at += part.rows();
  }
  l.total_rows = at;
  return l;
}

int64_t row_byte_offset(int64_t row, int64_t row_bytes) {
  if (row < 0 || row_bytes < 0 || (row_bytes != 0 && row > std::numeric_limits<int64_t>::max() / row_bytes))
    throw RuntimeError("byte offset of row " + std::to_string(row) + " overflows int64");
  return row * row_bytes;
}

}  // namespace mgi
