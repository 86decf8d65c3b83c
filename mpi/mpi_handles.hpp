// RAII owners for MPI objects: the MPI session, communicators, datatypes, files.
#pragma once
#include <mpi.h>

#include <string>
#include <utility>

#include "mpi_check.hpp"

namespace mgi {

// MPI_Init_thread / MPI_Finalize. Asks for `wanted`; throws if the granted
// level is below `required`. Callers check thread_level() for features that
// need more (dynamic mode needs MPI_THREAD_MULTIPLE).
class MpiSession {
 public:
  MpiSession(int wanted, int required);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  int thread_level() const { return provided_; }

 private:
  int provided_ = MPI_THREAD_SINGLE;
};

class Comm {
 public:
  Comm() = default;
  explicit Comm(MPI_Comm c) : c_(c) {}
  Comm(Comm&& o) noexcept : c_(std::exchange(o.c_, MPI_COMM_NULL)) {}
  Comm& operator=(Comm&& o) noexcept {
    if (this != &o) { reset(); c_ = std::exchange(o.c_, MPI_COMM_NULL); }
    return *this;
  }
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;
  ~Comm() { reset(); }
  MPI_Comm get() const { return c_; }
  void reset() {
    if (c_ != MPI_COMM_NULL) MPI_Comm_free(&c_);
    c_ = MPI_COMM_NULL;
  }

 private:
  MPI_Comm c_ = MPI_COMM_NULL;
};

// A committed derived datatype of `bytes` MPI_BYTEs: one output row, whatever
// its element type. Counts and displacements stay in rows, so they stay small
// while the bytes they stand for pass 2^31.
class RowType {
 public:
  explicit RowType(int64_t bytes);
  RowType(const RowType&) = delete;
  RowType& operator=(const RowType&) = delete;
  RowType(RowType&& o) noexcept : t_(std::exchange(o.t_, MPI_DATATYPE_NULL)) {}
  ~RowType() {
    if (t_ != MPI_DATATYPE_NULL) MPI_Type_free(&t_);
  }
  MPI_Datatype get() const { return t_; }

 private:
  MPI_Datatype t_ = MPI_DATATYPE_NULL;
};

// An MPI-IO file opened collectively over a communicator (MPI_File_open,
// MPI_File_close: collective). close() is called on every rank; the
// destructor closes a file still open only where that cannot hang: when no
// exception is in flight, or after a failure every rank agreed on
// (error_sync.hpp), so every rank unwinds to it the same way. After an
// error only one rank saw, the job ends in MPI_Abort and the file is left to it.
class MpiFile {
 public:
  // Throws DataError naming `path` when it does not open.
  MpiFile(MPI_Comm comm, const std::string& path, int amode);
  MpiFile(const MpiFile&) = delete;
  MpiFile& operator=(const MpiFile&) = delete;
  ~MpiFile();
  MPI_File get() const { return f_; }
  void close();

 private:
  MPI_File f_ = MPI_FILE_NULL;
};

// A committed derived datatype, freed when it goes out of scope.
class TypeHandle {
 public:
  explicit TypeHandle(MPI_Datatype t) : t_(t) { MGI_MPI(MPI_Type_commit(&t_)); }
  TypeHandle(const TypeHandle&) = delete;
  TypeHandle& operator=(const TypeHandle&) = delete;
  ~TypeHandle() {
    if (t_ != MPI_DATATYPE_NULL) MPI_Type_free(&t_);
  }
  MPI_Datatype get() const { return t_; }

 private:
  MPI_Datatype t_ = MPI_DATATYPE_NULL;
};

// Broadcasts a byte string of any size from root (chunked under 2^31 bytes).
void bcast_string(std::string& s, int root, MPI_Comm comm);

}  // namespace mgi
