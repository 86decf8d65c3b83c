// output.writer: parallel. Every rank writes the rows it computed into
// <output>.partial itself, with MPI-IO, at the in-place layout's offsets
// (docs/DURABILITY.md: row r of output d at offsets[d] + r * row_bytes, its
// status flag at flags_offset + r), and sends rank 0 only what an index
// record holds (WrittenBlock). Rank 0 still creates the file with HDF5 and
// owns the journal; HDF5 never has the file open while rows are written, so
// no HDF5 metadata can be half-written by a kill. Static mode writes each
// window with one collective MPI_File_write_at_all (a rank's pieces as one
// hindexed file view; a rank with no rows takes part with none); dynamic mode
// writes each task with independent MPI_File_write_at calls.
#pragma once
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint.hpp"
#include "mpi_handles.hpp"
#include "output_writer.hpp"

namespace mgi {

// What a writer rank tells rank 0 about a block it wrote: its rows and the
// digest of the index record (checkpoint.hpp: BlockDigest). Sent as 4 int64.
struct WrittenBlock {
  int64_t begin = 0, end = 0, crc = 0, flagged = 0;
};

class ParallelOutput {
 public:
  // Collective over comm: every rank opens `partial` (made by rank 0's
  // Checkpoint::open()) for writing. `layout` is rank 0's (see
  // bcast_layout). fail_on_nonfinite: output.on_nonfinite: fail.
  ParallelOutput(MPI_Comm comm, const std::string& partial, InPlaceLayout layout,
                 std::vector<OutputDatasetSpec> outputs, bool fail_on_nonfinite);

  // Adds rows [rows) to what this rank writes next; data[d]: the rows of
  // output d in its type, contiguous, unchanged until the write. Returns what
  // rank 0 journals for them. Throws DataError on a non-finite value when
  // output.on_nonfinite is fail (before anything is written).
  WrittenBlock add(const RowRange& rows, const std::vector<const void*>& data);
  // Collective: writes every rank's added rows (possibly none) with one
  // MPI_File_write_at_all.
  void write_all();
  // Independent: writes this rank's added rows (dynamic mode).
  void write();
  // Collective: MPI_File_sync (the rows every rank wrote reach the storage).
  void sync();
  // Collective: sync, then close.
  void close();

 private:
  struct Piece {
    int64_t at;  // file offset
    const char* data;
    int64_t bytes;
  };
  void check_written(MPI_Status& st, int64_t bytes) const;

  std::string path_;
  MpiFile file_;
  InPlaceLayout layout_;
  std::vector<OutputDatasetSpec> outputs_;
  bool fail_on_nonfinite_;
  std::vector<Piece> pieces_;
  std::vector<std::vector<uint8_t>> flags_;  // the added blocks' status flags, until written
};

// Rank 0's in-place layout on every rank (collective).
InPlaceLayout bcast_layout(const InPlaceLayout& rank0, size_t outputs, MPI_Comm comm);

// Collective: every rank's blocks, on rank 0 in rank order (empty elsewhere).
std::vector<WrittenBlock> gather_blocks(const std::vector<WrittenBlock>& mine, MPI_Comm comm);

}  // namespace mgi
