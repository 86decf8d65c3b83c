#include "partition.hpp"

#include "error.hpp"

namespace mgi {

std::vector<Slice> split_rows(int64_t n, int ranks) {
  MGI_ASSERT(ranks >= 1 && n >= 0, "split_rows needs ranks >= 1 and n >= 0");
  std::vector<Slice> s(ranks);
  const int64_t base = n / ranks, extra = n % ranks;
  int64_t at = 0;
  for (int r = 0; r < ranks; ++r) {
    const int64_t len = base + (r < extra ? 1 : 0);
    s[r] = {at, at + len};
    at += len;
  }
  return s;
}

std::vector<Slice> split_by_cost(int64_t n, int ranks, const PrefixCost& prefix) {
  MGI_ASSERT(ranks >= 1 && n >= 0, "split_by_cost needs ranks >= 1 and n >= 0");
  const double total = prefix(n);
  std::vector<Slice> s(ranks);
  int64_t at = 0;
  for (int r = 0; r < ranks; ++r) {
    int64_t end = n;
    if (r + 1 < ranks) {
      // First row index whose prefix cost reaches the target (binary search).
      const double target = total * (r + 1) / ranks;
      int64_t lo = at, hi = n;
      while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (prefix(mid) >= target)
          hi = mid;
        else
          lo = mid + 1;
      }
      end = lo;
    }
    s[r] = {at, end};
    at = end;
  }
  return s;
}

}  // namespace mgi
