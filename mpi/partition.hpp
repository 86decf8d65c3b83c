// Static split of rows into contiguous slices, one per rank, balanced to +-1
// row. Pure arithmetic (no MPI) so it is unit-tested directly.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace mgi {

struct Slice {
  int64_t begin = 0;
  int64_t end = 0;  // exclusive
  int64_t rows() const { return end - begin; }
};

// The first (n % ranks) ranks get one extra row. ranks >= 1, n >= 0.
std::vector<Slice> split_rows(int64_t n, int ranks);

// Cost of rows [0, i) for i in 0..n (non-decreasing); prefix(n) = total cost.
using PrefixCost = std::function<double(int64_t)>;

// Contiguous slices of about equal cost: rank r starts at the first row where
// the cost before it reaches r/ranks of the total.
std::vector<Slice> split_by_cost(int64_t n, int ranks, const PrefixCost& prefix);

}  // namespace mgi
