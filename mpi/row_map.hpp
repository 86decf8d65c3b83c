// The rows a run still has to compute, as sorted disjoint ranges (all rows on
// a fresh run; the complement of the journal on resume), seen through a
// "virtual" index 0..count() so the static split and the task schedule work
// unchanged on a resumed run with holes.
#pragma once
#include <cstdint>
#include <vector>

#include "journal.hpp"
#include "partition.hpp"

namespace mgi {

class RowMap {
 public:
  explicit RowMap(std::vector<RowRange> todo);  // sorted, disjoint, non-empty ranges
  static RowMap all(int64_t n) { return RowMap(n > 0 ? std::vector<RowRange>{{0, n}} : std::vector<RowRange>{}); }

  int64_t count() const { return starts_.empty() ? 0 : starts_.back(); }
  // Physical ranges covering virtual rows [vbegin, vend), in order.
  std::vector<RowRange> physical(int64_t vbegin, int64_t vend) const;
  // Cost of the first v virtual rows, from the physical prefix cost.
  PrefixCost virtual_prefix(const PrefixCost& physical_prefix) const;
  const std::vector<RowRange>& ranges() const { return todo_; }

 private:
  std::vector<RowRange> todo_;
  std::vector<int64_t> starts_;  // starts_[k] = virtual index of todo_[k].begin; last = count
};

}  // namespace mgi
