// MPI return-code idiom. MPI_COMM_WORLD is switched to MPI_ERRORS_RETURN at
// start-up so failures come back here instead of aborting without a message.
#pragma once
#include <mpi.h>

namespace mgi {
[[noreturn]] void mpi_fail(int rc, const char* call, const char* file, int line);
}  // namespace mgi

#define MGI_MPI(call)                                                        \
  do {                                                                       \
    int mgi_mpi_rc_ = (call);                                                \
    if (mgi_mpi_rc_ != MPI_SUCCESS) ::mgi::mpi_fail(mgi_mpi_rc_, #call, __FILE__, __LINE__); \
  } while (0)
