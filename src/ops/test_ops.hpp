// mgi.test ops, for benchmarks and tests only (test_ops.cpp).
#pragma once
#include <cstdint>

namespace mgi {

// mgi.test.Work: y = x, then one sleep per call (per batch, like one kernel
// launch) of sum over rows of max(0, x[row, 0]) * ns_per_unit nanoseconds.
// Simulates device work whose cost grows with row length without using the
// CPU. The attribute ns_per_unit must be in [0, kMaxTestWorkNsPerUnit].
constexpr int64_t kMaxTestWorkNsPerUnit = 1000000000;  // 1 s per unit

}  // namespace mgi
