#include "row_map.hpp"

#include <algorithm>

#include "error.hpp"

namespace mgi {

RowMap::RowMap(std::vector<RowRange> todo) : todo_(std::move(todo)) {
  starts_.push_back(0);
  for (size_t k = 0; k < todo_.size(); ++k) {
    MGI_ASSERT(todo_[k].rows() > 0 && (k == 0 || todo_[k].begin >= todo_[k - 1].end),
               "row ranges must be sorted, disjoint and non-empty");
    starts_.push_back(starts_.back() + todo_[k].rows());
  }
}

std::vector<RowRange> RowMap::physical(int64_t vbegin, int64_t vend) const {
  std::vector<RowRange> out;
  if (vend <= vbegin) return out;
  // First range whose virtual span contains vbegin.
  size_t k = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), vbegin) - starts_.begin()) - 1;
  for (; k < todo_.size() && starts_[k] < vend; ++k) {
    const int64_t a = std::max(vbegin, starts_[k]), b = std::min(vend, starts_[k + 1]);
    out.push_back({todo_[k].begin + (a - starts_[k]), todo_[k].begin + (b - starts_[k])});
  }
  return out;
}

PrefixCost RowMap::virtual_prefix(const PrefixCost& phys) const {
  std::vector<double> base(todo_.size() + 1, 0.0);
  for (size_t k = 0; k < todo_.size(); ++k) base[k + 1] = base[k] + phys(todo_[k].end) - phys(todo_[k].begin);
  return [this, phys, base](int64_t v) {
    if (v <= 0) return 0.0;
    if (v >= count()) return base.back();
    const size_t k = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), v) - starts_.begin()) - 1;
    return base[k] + phys(todo_[k].begin + (v - starts_[k])) - phys(todo_[k].begin);
  };
}

}  // namespace mgi
