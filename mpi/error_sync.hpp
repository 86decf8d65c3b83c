// Turns per-rank failures into one collective decision, so an error on any
// rank is printed once and every rank leaves together instead of hanging in
// the next collective. Call agree() at the points where all ranks meet.
#pragma once
#include <mpi.h>

#include <exception>

#include "error.hpp"

namespace mgi {

// Thrown on ranks that did not fail themselves: the job stops with `code`, and
// the failing rank has printed the message.
struct PeerFailure : Error {
  explicit PeerFailure(Exit code) : Error(code, "") {}
};

// Exit code an exception maps to (mgi::Error's own, else runtime).
Exit exit_code_of(const std::exception_ptr& e);

// Collective over `comm`. If no rank has a failure, returns. Otherwise the
// rank with the highest exit code (lowest rank on ties) rethrows its own
// exception and the others throw PeerFailure with that code.
void agree(MPI_Comm comm, const std::exception_ptr& local);

// True once agree() has decided a failure: every rank knows, so leaving
// without MPI_Abort is safe. False for an error that escaped outside agree().
bool failure_was_agreed();

// Runs f(), capturing any exception, then agree()s.
template <class F>
void collectively(MPI_Comm comm, F&& f) {
  std::exception_ptr local;
  try {
    f();
  } catch (...) {
    local = std::current_exception();
  }
  agree(comm, local);
}

}  // namespace mgi
