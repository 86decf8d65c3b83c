#include "broadcast.hpp"

#include <algorithm>
#include <limits>

#include "error.hpp"

namespace mgi {

namespace {
// Row-major strides of `s` aligned to the right of an `rank`-dim result; 0 on size-1 dims.
std::vector<int64_t> aligned_strides(const Shape& s, size_t rank) {
  std::vector<int64_t> st(rank, 0);
  int64_t stride = 1;
  for (size_t k = 0; k < s.size(); ++k) {
    size_t src = s.size() - 1 - k;
    size_t dst = rank - 1 - k;
    st[dst] = s[src] == 1 ? 0 : stride;
    if (k + 1 == s.size()) break;  // the leading dim's stride is never needed
    // Shapes come from untrusted models: an element count past int64 is an error.
    if (s[src] > 0 && stride > std::numeric_limits<int64_t>::max() / s[src])
      throw ModelError("shape " + shape_str(s) + " has more elements than int64 can count");
    stride *= s[src];
  }
  return st;
}
}  // namespace

Broadcast broadcast_shapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Broadcast r;
  r.out.assign(rank, 1);
  for (size_t k = 0; k < rank; ++k) {
    int64_t da = k < rank - a.size() ? 1 : a[k - (rank - a.size())];
    int64_t db = k < rank - b.size() ? 1 : b[k - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ModelError("cannot broadcast " + shape_str(a) + " with " + shape_str(b));
    r.out[k] = da == 1 ? db : da;
  }
  r.a_strides = aligned_strides(a, rank);
  r.b_strides = aligned_strides(b, rank);
  return r;
}

}  // namespace mgi
