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

}  // namespace mgi
