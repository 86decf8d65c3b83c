// Static split of rows into contiguous slices, one per rank, balanced to +-1
// row. Pure arithmetic (no MPI) so it is unit-tested directly.
#pragma once
#include <cstdint>
#include <vector>

namespace mgi {

struct Slice {
  int64_t begin = 0;
  int64_t end = 0;  // exclusive
  int64_t rows() const { return end - begin; }
};

// The first (n % ranks) ranks get one extra row. ranks >= 1, n >= 0.
std::vector<Slice> split_rows(int64_t n, int ranks);

}  // namespace mgi
