// Row-major index arithmetic for the op tests' reference loops.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor.hpp"

namespace mgi::test {

// Multi-index of element e of a tensor of shape s.
inline std::vector<int64_t> unravel(int64_t e, const Shape& s) {
  std::vector<int64_t> idx(s.size());
  for (size_t k = s.size(); k-- > 0;) {
    idx[k] = e % s[k];
    e /= s[k];
  }
  return idx;
}
// Element offset of a multi-index in a tensor of shape s.
inline int64_t ravel(const std::vector<int64_t>& idx, const Shape& s) {
  int64_t off = 0;
  for (size_t k = 0; k < s.size(); ++k) off = off * s[k] + idx[k];
  return off;
}

}  // namespace mgi::test
