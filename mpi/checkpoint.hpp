// Rank 0's side of "nothing lost": decides between a fresh run and a resume
// from <output>.journal, records every finished block of rows in the journal
// (flushed per record, fsync'ed at a bounded interval), and at the end builds
// the HDF5 output from the journal and renames it into place.
#pragma once
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "journal.hpp"
#include "output_writer.hpp"
#include "progress.hpp"

namespace mgi {

struct CheckpointOptions {
  bool fresh = false;          // --fresh: discard a journal
  double flush_seconds = 10;   // fsync interval
  bool fail_on_nonfinite = false;  // output.on_nonfinite: fail
  // Rows go straight into "<output>.partial" at their final place (in-place
  // layout, docs/DURABILITY.md) and the journal holds only which rows are
  // there, with CRCs. Off: the journal holds the rows and the file is built
  // from it at the end (compressed or chunked outputs, converted types).
  bool in_place = false;
  // output.writer: parallel (in place only): every rank writes its own rows
  // into the file (parallel_output.hpp) and rank 0 journals what they report
  // (record_written). Only the plan's wording and the sync cadence differ:
  // the records are the same, so either writer resumes the other's journal.
  bool parallel_writer = false;
  std::string status_dataset = "/status";  // the row-flags dataset
};

// Canonical description of what a journal's rows are the output of.
struct RunFingerprint {
  std::string model_sha256, input_file, input_dataset, input_dtype, offsets;
  Shape input_shape;
  int64_t rows = 0;
  std::vector<OutputDatasetSpec> outputs;
  // Further keys, each left out when empty so journals of runs without them
  // still resume: "inputs" (several input datasets), "feeds" (input.fill,
  // input.pad_value), "model_external_data" (weight files: size and mtime),
  // "input_data:<dataset>" (a hash of a fixed sample of that dataset's rows).
  std::map<std::string, std::string> extra;
  std::string text() const;  // JSON
};

// A block of rows as an in-place index record describes it: the CRC-32 of
// each output's bytes in turn, then of the rows' flags (1 = some value is NaN
// or infinite; only float outputs can hold one), and the flagged row count.
// Both writers compute it this one way.
struct BlockDigest {
  uint32_t crc = 0;
  int64_t flagged = 0;
  std::vector<uint8_t> flags;  // one per row
};
BlockDigest digest_block(const std::vector<OutputDatasetSpec>& outputs, int64_t rows,
                         const std::vector<const void*>& data);
// output.on_nonfinite: fail: throws DataError naming the block's first
// non-finite value (its row, value and dataset).
void check_finite(const std::vector<OutputDatasetSpec>& outputs, const RowRange& rows,
                  const std::vector<const void*>& data);

// Fingerprint key prefix of an input dataset's sampled values ("input_data:/x").
inline const std::string kInputDataKey = "input_data:";

std::string journal_path(const std::string& output);

class Checkpoint {
 public:
  // Reads the journal (if any). Throws DataError when it belongs to another
  // run, naming what differs. Creates nothing. The journaled rows are
  // fp.outputs' rows, each output in its dtype.
  Checkpoint(const std::string& output, const RunFingerprint& fp, const CheckpointOptions& opt);

  const std::vector<RowRange>& done() const { return done_; }
  int64_t done_rows() const;
  // One line for the plan: "fresh" or "resuming: ... rows already in <journal>".
  std::string describe() const;

  // Opens the journal for appending (creates it on a fresh run). First takes
  // an exclusive lock (<output>.lock, flock: released even on SIGKILL), so a
  // second job on the same output (a requeue racing the old one) stops with
  // an error instead of interleaving records.
  void open();
  ~Checkpoint();
  // outputs[d]: rows.rows() rows of output d, in its dtype.
  void record(const RowRange& rows, const std::vector<const void*>& outputs);
  // Parallel writer: rows [rows) that their rank has written into the file,
  // with their digest (crc, flagged); appends the index record. Never syncs
  // by itself: the caller makes the other ranks' writes durable first
  // (MPI_File_sync) and then calls sync() when sync_due().
  void record_written(const RowRange& rows, uint32_t crc, int64_t flagged);
  bool sync_due() const;
  const InPlaceLayout& layout() const { return layout_; }
  // Told about every recorded block (rank 0's progress line).
  void set_progress(Progress* p) { progress_ = p; }
  void sync();
  // Writes every journaled row into `writer` (a fresh .partial file) and, per
  // row, a flag (1 = some output value is NaN or infinite; only float outputs
  // can hold one) into its row-flags dataset. Returns the number of flagged rows.
  int64_t assemble(OutputWriter& writer) const;
  bool in_place() const { return opt_.in_place; }
  // In place: checks that every row is in the file, makes it durable and
  // closes it; returns the number of flagged rows (as assemble()).
  int64_t finish_in_place();
  // After the output is in place.
  void remove_journal();

 private:
  std::string path_, lock_path_, fingerprint_;
  std::vector<OutputDatasetSpec> outputs_;
  std::vector<int64_t> row_bytes_;  // per output
  CheckpointOptions opt_;
  std::vector<RowRange> done_;
  int64_t valid_bytes_ = 0, dropped_bytes_ = 0, rows_ = 0;
  std::unique_ptr<JournalWriter> writer_;
  std::chrono::steady_clock::time_point last_sync_;
  Progress* progress_ = nullptr;
  int lock_fd_ = -1;
  // In place:
  std::string output_, restart_why_;  // why an existing .partial was started over
  InPlaceLayout layout_;
  int data_fd_ = -1;
  int64_t flagged_ = 0, unverified_records_ = 0;
  std::vector<RowRange> seen_;  // recorded by this run
  void verify_in_place(const JournalScan& scan);
};

}  // namespace mgi
