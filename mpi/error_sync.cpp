#include "error_sync.hpp"

#include "mpi_check.hpp"

namespace mgi {

namespace {
bool agreed_failure = false;
}  // namespace

bool failure_was_agreed() { return agreed_failure; }

Exit exit_code_of(const std::exception_ptr& e) {
  if (!e) return Exit::ok;
  try {
    std::rethrow_exception(e);
  } catch (const Error& err) {
    return err.code();
  } catch (...) {
    return Exit::runtime;
  }
}

void agree(MPI_Comm comm, const std::exception_ptr& local) {
  int rank = 0;
  MGI_MPI(MPI_Comm_rank(comm, &rank));
  // MAXLOC picks the highest code and, on ties, the lowest rank.
  struct {
    int code;
    int rank;
  } mine{static_cast<int>(exit_code_of(local)), rank}, worst{0, 0};
  MGI_MPI(MPI_Allreduce(&mine, &worst, 1, MPI_2INT, MPI_MAXLOC, comm));
  if (worst.code == 0) return;
  agreed_failure = true;
  if (worst.rank == rank) std::rethrow_exception(local);
  throw PeerFailure(static_cast<Exit>(worst.code));
}

}  // namespace mgi
