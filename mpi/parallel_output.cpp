#include "parallel_output.hpp"

#include <algorithm>
#include <climits>

#include "error.hpp"
#include "mpi_check.hpp"

namespace mgi {

namespace {
// The largest piece one MPI call or one hindexed block takes (counts are ints).
constexpr int64_t kMaxPieceBytes = int64_t{1} << 30;
}  // namespace

ParallelOutput::ParallelOutput(MPI_Comm comm, const std::string& partial, InPlaceLayout layout,
                               std::vector<OutputDatasetSpec> outputs, bool fail_on_nonfinite)
    : path_(partial), file_(comm, partial, MPI_MODE_WRONLY), layout_(std::move(layout)),
      outputs_(std::move(outputs)), fail_on_nonfinite_(fail_on_nonfinite) {}

WrittenBlock ParallelOutput::add(const RowRange& rows, const std::vector<const void*>& data) {
  if (rows.rows() <= 0) return {rows.begin, rows.end, 0, 0};
  if (fail_on_nonfinite_) check_finite(outputs_, rows, data);
  BlockDigest b = digest_block(outputs_, rows.rows(), data);
  for (size_t d = 0; d < outputs_.size(); ++d) {
    const int64_t rb = outputs_[d].row_bytes();
    pieces_.push_back({layout_.offsets[d] + rows.begin * rb, static_cast<const char*>(data[d]), rows.rows() * rb});
  }
  flags_.push_back(std::move(b.flags));  // moving keeps the bytes where they are
  pieces_.push_back({layout_.flags_offset + rows.begin, reinterpret_cast<const char*>(flags_.back().data()),
                     rows.rows()});
  return {rows.begin, rows.end, static_cast<int64_t>(b.crc), b.flagged};
}

void ParallelOutput::check_written(MPI_Status& st, int64_t bytes) const {
  MPI_Count n = 0;
  MGI_MPI(MPI_Get_elements_x(&st, MPI_BYTE, &n));
  if (static_cast<int64_t>(n) != bytes)
    throw DataError("short write to '" + path_ + "' with MPI-IO: " + std::to_string(n) + " of " +
                    std::to_string(bytes) + " bytes");
}

void ParallelOutput::write_all() {
  // A file view must run forward: the pieces in file order (memory follows).
  std::sort(pieces_.begin(), pieces_.end(), [](const Piece& a, const Piece& b) { return a.at < b.at; });
  std::vector<int> lens;
  std::vector<MPI_Aint> at, mem;
  int64_t total = 0;
  for (const Piece& p : pieces_)
    for (int64_t k = 0; k < p.bytes; k += kMaxPieceBytes) {
      lens.push_back(static_cast<int>(std::min(kMaxPieceBytes, p.bytes - k)));
      at.push_back(static_cast<MPI_Aint>(p.at + k));
      MPI_Aint a = 0;
      MGI_MPI(MPI_Get_address(p.data + k, &a));
      mem.push_back(a);
      total += lens.back();
    }
  MGI_ASSERT(lens.size() <= static_cast<size_t>(INT_MAX), "too many pieces for one collective write");
  const int n = static_cast<int>(lens.size());
  MPI_Datatype ft = MPI_DATATYPE_NULL, mt = MPI_DATATYPE_NULL;
  MGI_MPI(MPI_Type_create_hindexed(n, lens.data(), at.data(), MPI_BYTE, &ft));
  TypeHandle file_type(ft);
  MGI_MPI(MPI_Type_create_hindexed(n, lens.data(), mem.data(), MPI_BYTE, &mt));
  TypeHandle mem_type(mt);
  MGI_MPI(MPI_File_set_view(file_.get(), 0, MPI_BYTE, file_type.get(), "native", MPI_INFO_NULL));
  MPI_Status st;
  MGI_MPI(MPI_File_write_at_all(file_.get(), 0, MPI_BOTTOM, n > 0 ? 1 : 0, mem_type.get(), &st));
  check_written(st, total);
  pieces_.clear();
  flags_.clear();
}

void ParallelOutput::write() {
  for (const Piece& p : pieces_)
    for (int64_t k = 0; k < p.bytes; k += kMaxPieceBytes) {
      const int len = static_cast<int>(std::min(kMaxPieceBytes, p.bytes - k));
      MPI_Status st;
      MGI_MPI(MPI_File_write_at(file_.get(), static_cast<MPI_Offset>(p.at + k), p.data + k, len, MPI_BYTE, &st));
      check_written(st, len);
    }
  pieces_.clear();
  flags_.clear();
}

void ParallelOutput::sync() { MGI_MPI(MPI_File_sync(file_.get())); }

void ParallelOutput::close() {
  sync();
  file_.close();
}

InPlaceLayout bcast_layout(const InPlaceLayout& rank0, size_t outputs, MPI_Comm comm) {
  std::vector<int64_t> v(rank0.offsets);
  v.resize(outputs);
  v.push_back(rank0.flags_offset);
  MGI_MPI(MPI_Bcast(v.data(), static_cast<int>(v.size()), MPI_INT64_T, 0, comm));
  InPlaceLayout l;
  l.flags_offset = v.back();
  v.pop_back();
  l.offsets = std::move(v);
  return l;
}

std::vector<WrittenBlock> gather_blocks(const std::vector<WrittenBlock>& mine, MPI_Comm comm) {
  int rank = 0, size = 1;
  MGI_MPI(MPI_Comm_rank(comm, &rank));
  MGI_MPI(MPI_Comm_size(comm, &size));
  constexpr int kWords = sizeof(WrittenBlock) / sizeof(int64_t);
  static_assert(sizeof(WrittenBlock) == kWords * sizeof(int64_t), "WrittenBlock is sent as int64 words");
  const int count = static_cast<int>(mine.size()) * kWords;
  std::vector<int> counts(rank == 0 ? size : 0), displs(rank == 0 ? size : 0);
  MGI_MPI(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm));
  std::vector<WrittenBlock> all;
  if (rank == 0) {
    int at = 0;
    for (int r = 0; r < size; ++r) displs[r] = at, at += counts[r];
    all.resize(static_cast<size_t>(at / kWords));
  }
  MGI_MPI(MPI_Gatherv(mine.data(), count, MPI_INT64_T, all.data(), counts.data(), displs.data(), MPI_INT64_T, 0,
                      comm));
  return all;
}

}  // namespace mgi
