// Append-only journal of finished rows, the single source of truth while a
// run is in progress. Rank 0 appends one record per finished block of rows
// (static window block or dynamic task); each record carries a CRC-32 of its
// header and payload, so a record torn by a kill is detected and dropped on
// resume. The HDF5 output is assembled from the journal only at the end, so
// no HDF5 file is ever open for writing when a job is killed mid-run.
//
// Layout: "MGIJRNL1" | u32 fingerprint length | fingerprint bytes | u32 crc
//         then records: u32 magic | u32 header crc | i64 begin | i64 end |
//                       u64 payload bytes | u32 payload crc | u32 zero | payload
// The payload is, for each output in order, (end - begin) rows of that
// output's row bytes (its elements in the model output's type, native byte
// order). The journal holds bytes only; the outputs' types come with the run.
// Float32 outputs give the same bytes as before outputs were typed.
//
// In-place journals (the output file holds the rows, see docs/DURABILITY.md)
// hold index records instead: magic "MGIK", payload bytes 0, and payload crc
// = the CRC-32 of the rows' bytes as written to the output file (each output
// in order, then the rows' flags). No payload follows.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace mgi {

struct RowRange {
  int64_t begin = 0, end = 0;
  int64_t rows() const { return end - begin; }
  bool operator==(const RowRange& o) const { return begin == o.begin && end == o.end; }
};

// Sorted, merged copy of `ranges`.
std::vector<RowRange> merge_ranges(std::vector<RowRange> ranges);
// Rows of [0, n) not covered by `done` (sorted, merged).
std::vector<RowRange> missing_ranges(const std::vector<RowRange>& done, int64_t n);

struct JournalScan {
  bool exists = false;
  bool header_ok = false;
  std::string fingerprint;
  std::vector<RowRange> done;  // merged
  struct Record {
    RowRange rows;
    int64_t payload_offset;    // byte offset of the payload in the file (-1: index record)
    uint32_t crc = 0;          // index record: CRC-32 of the rows' bytes in the output file
  };
  std::vector<Record> index;   // intact records, in file order
  int64_t records = 0;
  int64_t valid_bytes = 0;     // file prefix that holds only intact records
  int64_t dropped_bytes = 0;   // torn or corrupt tail, ignored
};

// CRC-32 (zlib) of n bytes, continuing from `seed`.
uint32_t journal_crc(const void* p, size_t n, uint32_t seed = 0);

// f(rows, per-output bytes): each pointer holds rows.rows() rows of that
// output, aligned for any element type.
using RecordFn = std::function<void(const RowRange&, const std::vector<const void*>&)>;

// Reads the journal at `path` (absent: exists = false). row_bytes: one per output.
JournalScan scan_journal(const std::string& path, const std::vector<int64_t>& row_bytes);

// Calls f(range, per-output data) for every intact record, in file order.
void replay_journal(const std::string& path, const std::vector<int64_t>& row_bytes, const RecordFn& f);

// Same data in row order, with adjacent records joined into blocks of up to
// `block_bytes`, so the final HDF5 file is written in few large writes.
// Rows recorded twice (a block journaled again after a resume) go out once.
void replay_journal_by_rows(const std::string& path, const std::vector<int64_t>& row_bytes, int64_t block_bytes,
                            const RecordFn& f);

class JournalWriter {
 public:
  // New journal (truncates) with `fingerprint`; or, with valid_bytes > 0, an
  // existing one cut back to its intact prefix and opened for appending.
  JournalWriter(const std::string& path, const std::string& fingerprint, const std::vector<int64_t>& row_bytes,
                int64_t valid_bytes = 0);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // outputs[d]: rows.rows() rows of row_bytes[d] bytes.
  void append(const RowRange& rows, const std::vector<const void*>& outputs);
  // In-place journals: rows are in the output file with CRC-32 `crc`.
  void append_index(const RowRange& rows, uint32_t crc);
  // Makes everything appended so far durable (fflush + fsync).
  void sync();
  const std::string& path() const { return path_; }
  // Renames the open journal file (messages then name the new path).
  void rename_to(const std::string& path);

 private:
  std::string path_;
  std::vector<int64_t> row_bytes_;
  std::FILE* f_ = nullptr;
};

}  // namespace mgi
