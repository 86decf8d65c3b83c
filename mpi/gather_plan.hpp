// Windowed gather arithmetic for static mode. Window w takes, from every rank,
// the w-th block of `rows_per_window` rows of its slice, so all ranks advance
// together and rank 0 holds at most ranks * rows_per_window rows per output.
// Counts and displacements are in rows (MPI sends one derived "row" datatype),
// so they stay small ints while byte offsets (int64) pass 2^31 freely.
#pragma once
#include <cstdint>
#include <vector>

#include "partition.hpp"

namespace mgi {

struct GatherPlan {
  int64_t rows_per_window = 1;  // per rank, per window
  int64_t windows = 0;          // ceil(largest slice / rows_per_window)
  int64_t window_bytes = 0;     // bytes rank 0 holds per window (all outputs)
};

// row_bytes: bytes of one row over all outputs; budget: configured window bytes.
// At least one row per rank per window, whatever the budget.
GatherPlan plan_gather(const std::vector<Slice>& slices, int64_t row_bytes, int64_t budget);

// Rows of `slice` that belong to window w (may be empty).
Slice window_rows(const Slice& slice, const GatherPlan& plan, int64_t w);

struct WindowLayout {
  std::vector<int> counts;         // rows from each rank (MPI_Gatherv recvcounts)
  std::vector<int> displs;         // row offsets in the receive buffer (MPI_Gatherv displs)
  std::vector<int64_t> first_row;  // global row of each rank's first row in this window
  int64_t total_rows = 0;
};

WindowLayout window_layout(const std::vector<Slice>& slices, const GatherPlan& plan, int64_t w);

// Byte offset of row `row` in a buffer of rows of `row_bytes` (overflow-checked).
int64_t row_byte_offset(int64_t row, int64_t row_bytes);

}  // namespace mgi
