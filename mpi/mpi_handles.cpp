#include "mpi_handles.hpp"

#include <algorithm>
#include <climits>
#include <exception>

#include "error.hpp"
#include "error_sync.hpp"

namespace mgi {

void mpi_fail(int rc, const char* call, const char* file, int line) {
  char msg[MPI_MAX_ERROR_STRING] = {0};
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw_call_failure(Exit::runtime, "MPI", call, file, line, std::string(msg, len));
}

MpiSession::MpiSession(int wanted, int required) {
  MGI_MPI(MPI_Init_thread(nullptr, nullptr, wanted, &provided_));
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (provided_ < required) {
    MPI_Finalize();
    throw RuntimeError("the MPI library grants thread level " + std::to_string(provided_) +
                       " but mgi-mpi needs " + std::to_string(required));
  }
}

MpiSession::~MpiSession() { MPI_Finalize(); }

RowType::RowType(int64_t bytes) {
  if (bytes <= 0) throw RuntimeError("row datatype needs a positive byte count");
  if (bytes <= INT_MAX) {
    MGI_MPI(MPI_Type_contiguous(static_cast<int>(bytes), MPI_BYTE, &t_));
  } else {
    // Rows over 2^31 bytes: blocks of 2^30 bytes plus a remainder, as one struct.
    const int64_t block = int64_t{1} << 30;
    MPI_Datatype blocks = MPI_DATATYPE_NULL, rest = MPI_DATATYPE_NULL;
    MGI_MPI(MPI_Type_vector(static_cast<int>(bytes / block), static_cast<int>(block), static_cast<int>(block),
                            MPI_BYTE, &blocks));
    const int remainder = static_cast<int>(bytes % block);
    int lens[2] = {1, remainder};
    MPI_Aint displs[2] = {0, static_cast<MPI_Aint>((bytes / block) * block)};
    MPI_Datatype types[2] = {blocks, MPI_BYTE};
    MGI_MPI(MPI_Type_create_struct(remainder ? 2 : 1, lens, displs, types, &rest));
    MPI_Type_free(&blocks);
    t_ = rest;
  }
  MGI_MPI(MPI_Type_commit(&t_));
}

MpiFile::MpiFile(MPI_Comm comm, const std::string& path, int amode) {
  const int rc = MPI_File_open(comm, path.c_str(), amode, MPI_INFO_NULL, &f_);
  if (rc != MPI_SUCCESS) {
    char msg[MPI_MAX_ERROR_STRING] = {0};
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    f_ = MPI_FILE_NULL;
    throw DataError("cannot open '" + path + "' with MPI-IO: " + std::string(msg, len));
  }
}

void MpiFile::close() {
  if (f_ == MPI_FILE_NULL) return;
  MGI_MPI(MPI_File_close(&f_));
  f_ = MPI_FILE_NULL;
}

MpiFile::~MpiFile() {
  if (f_ != MPI_FILE_NULL && (std::uncaught_exceptions() == 0 || failure_was_agreed())) MPI_File_close(&f_);
}

void bcast_string(std::string& s, int root, MPI_Comm comm) {
  unsigned long long n = s.size();
  MGI_MPI(MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, root, comm));
  s.resize(n);
  const unsigned long long chunk = 1ull << 30;
  for (unsigned long long at = 0; at < n; at += chunk) {
    const int len = static_cast<int>(std::min(chunk, n - at));
    MGI_MPI(MPI_Bcast(s.data() + at, len, MPI_BYTE, root, comm));
  }
}

}  // namespace mgi
