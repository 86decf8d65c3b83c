// Test hooks, documented in README "Testing". MGI_DEBUG_FAIL_RANK=r makes rank
// r fail at its second unit of work (static window or dynamic task), to prove
// that a failure mid-run stops every rank without a hang.
#pragma once
#include <mpi.h>

#include <cstdint>
#include <cstdlib>

namespace mgi {

// `rank` is the world rank (with pipeline stages, a stage rank fails at its
// second micro-batch).
inline bool injected_failure(int rank, int64_t unit) {
  const char* v = std::getenv("MGI_DEBUG_FAIL_RANK");
  return v && *v && std::atoi(v) == rank && unit == 1;
}

inline int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

}  // namespace mgi
