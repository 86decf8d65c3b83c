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
  // MAXLOC picks the highest severity and, on ties, the lowest rank. A real
  // error outranks an interrupt (exit 75): the requeued job would fail anyway.
  // A rank's own error outranks the PeerFailures it caused on others, so when
  // agreements nest (pipeline stages: the leaders agree, then every rank) the
  // rank that failed still rethrows its own error and prints it.
  const int code = static_cast<int>(exit_code_of(local));
  bool own = false;
  if (local) {
    try {
      std::rethrow_exception(local);
    } catch (const PeerFailure&) {
    } catch (...) {
      own = true;
    }
  }
  const int severity = code == 0 ? 0 : code == static_cast<int>(Exit::interrupted) ? 1 : 2 * (100 + code) + (own ? 1 : 0);
  struct {
    int value;
    int rank;
  } mine{severity, rank}, worst{0, 0};
  MGI_MPI(MPI_Allreduce(&mine, &worst, 1, MPI_2INT, MPI_MAXLOC, comm));
  if (worst.value == 0) return;
  const int agreed = worst.value == 1 ? static_cast<int>(Exit::interrupted) : worst.value / 2 - 100;
  agreed_failure = true;
  if (worst.rank == rank) std::rethrow_exception(local);
  throw PeerFailure(static_cast<Exit>(agreed));
}

}  // namespace mgi
