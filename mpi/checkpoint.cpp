#include "checkpoint.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "error.hpp"

namespace mgi {

std::string journal_path(const std::string& output) { return output + ".journal"; }

std::string RunFingerprint::text() const {
  nlohmann::json outs = nlohmann::json::array();
  for (const auto& o : outputs) {
    nlohmann::json out = {{"dataset", o.path}, {"row_shape", o.row_shape}};
    // The journal's row size depends on it. Float32, the only type before
    // outputs were typed, is left out so older journals still resume.
    if (o.dtype != DType::f32) out["dtype"] = dtype_name(o.dtype);
    outs.push_back(out);
  }
  nlohmann::json j = {{"model_sha256", model_sha256}, {"input_file", input_file},
                      {"input_dataset", input_dataset}, {"input_dtype", input_dtype},
                      {"input_shape", input_shape}, {"offsets", offsets}, {"rows", rows},
                      {"outputs", outs}};
  for (const auto& [key, value] : extra)
    if (!value.empty()) j[key] = value;
  return j.dump();
}

namespace {
// "model_sha256 (1f540a65b22f.. here, 77aa01b2c3d4.. in the journal)" for each differing key.
std::string differences(const std::string& mine, const std::string& theirs) {
  nlohmann::json a = nlohmann::json::parse(mine), b;
  try {
    b = nlohmann::json::parse(theirs);
  } catch (const std::exception&) {
    return "unreadable fingerprint";
  }
  std::string out;
  // A changed input is named first, by its dataset.
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (it.key().rfind(kInputDataKey, 0) != 0 || (b.contains(it.key()) && b[it.key()] == it.value())) continue;
    out += (out.empty() ? "" : ", ") + std::string("the values of input dataset '") +
           it.key().substr(kInputDataKey.size()) + "' changed since the journal was written" +
           (b.contains(it.key()) ? "" : " (the journal has no fingerprint of them)");
  }
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (it.key().rfind(kInputDataKey, 0) == 0) continue;
    if (b.contains(it.key()) && b[it.key()] == it.value()) continue;
    auto shorten = [](const nlohmann::json& v) {
      std::string s = v.is_string() ? v.get<std::string>() : v.dump();
      return "'" + (s.size() > 40 ? s.substr(0, 37) + "..." : s) + "'";
    };
    out += (out.empty() ? "" : ", ") + it.key() + " " + shorten(it.value()) + " here, " +
           (b.contains(it.key()) ? shorten(b[it.key()]) : std::string("absent")) + " in the journal";
  }
  return out.empty() ? "same content, different layout" : out;
}

// Index of the first NaN or infinite element of n elements of type t, or -1.
// Integer and bool outputs have none.
int64_t first_nonfinite(DType t, const void* p, int64_t n) {
  if (t == DType::f32) {  // the common case, without a per-element switch
    const auto* f = static_cast<const float*>(p);
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(f[i])) return i;
    return -1;
  }
  if (!is_float(t)) return -1;
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(element_as_double(t, p, i))) return i;
  return -1;
}

// flags[r] = 1 for each of `rows` rows (of `elems` elements) holding a non-finite value.
void flag_nonfinite(DType t, const void* p, int64_t rows, int64_t elems, std::vector<uint8_t>& flags) {
  if (!is_float(t)) return;
  const auto* row = static_cast<const char*>(p);
  const int64_t row_bytes = elems * static_cast<int64_t>(dtype_size(t));
  for (int64_t r = 0; r < rows; ++r, row += row_bytes)
    if (first_nonfinite(t, row, elems) >= 0) flags[static_cast<size_t>(r)] = 1;
}
}  // namespace

Checkpoint::Checkpoint(const std::string& output, const RunFingerprint& fp, const CheckpointOptions& opt)
    : path_(journal_path(output)), lock_path_(output + ".lock"), fingerprint_(fp.text()), outputs_(fp.outputs),
      opt_(opt), rows_(fp.rows), output_(output) {
  for (const auto& o : outputs_) row_bytes_.push_back(o.row_bytes());
  if (opt.fresh) return;  // the old journal is replaced by open()
  const JournalScan scan = scan_journal(path_, row_bytes_);
  if (!scan.exists) return;
  if (!scan.header_ok)
    throw DataError("journal '" + path_ + "' is not an mgi-mpi journal or is damaged; pass --fresh to discard it");
  if (scan.fingerprint != fingerprint_)
    throw DataError("journal '" + path_ + "' belongs to another run (" + differences(fingerprint_, scan.fingerprint) +
                    "); pass --fresh to discard it or choose another output.file");
  for (const auto& r : scan.done)
    if (r.end > fp.rows)
      throw DataError("journal '" + path_ + "' holds rows up to " + std::to_string(r.end) + " but the input has " +
                      std::to_string(fp.rows) + "; pass --fresh to discard it");
  done_ = scan.done;
  valid_bytes_ = scan.valid_bytes;
  dropped_bytes_ = scan.dropped_bytes;
  if (opt_.in_place) verify_in_place(scan);
}

namespace {
void pread_all(int fd, void* p, size_t n, int64_t at, const std::string& path) {
  auto* b = static_cast<char*>(p);
  while (n > 0) {
    const ssize_t k = pread(fd, b, n, at);
    if (k <= 0) throw DataError("cannot read '" + path + "': " + (k < 0 ? std::strerror(errno) : "short file"));
    b += k, n -= static_cast<size_t>(k), at += k;
  }
}
void pwrite_all(int fd, const void* p, size_t n, int64_t at, const std::string& path) {
  const auto* b = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t k = pwrite(fd, b, n, at);
    if (k < 0) throw DataError("cannot write '" + path + "': " + std::strerror(errno));
    b += k, n -= static_cast<size_t>(k), at += k;
  }
}
}  // namespace

// A resume keeps only the journaled rows whose bytes in the .partial file
// still have the journaled CRC; the rest are computed again. A .partial whose
// structure is not the one this run creates is started over (every row again).
void Checkpoint::verify_in_place(const JournalScan& scan) {
  const std::string partial = partial_path(output_);
  std::string why;
  if (!read_in_place_layout(partial, outputs_, opt_.status_dataset, rows_, layout_, why)) {
    restart_why_ = why;
    done_.clear();
    valid_bytes_ = dropped_bytes_ = 0;  // open() writes a new journal and a new file
    return;
  }
  const int fd = ::open(partial.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw DataError("cannot open '" + partial + "': " + std::strerror(errno));
  std::vector<RowRange> verified;
  std::vector<char> buf;
  try {
    for (const auto& rec : scan.index) {
      if (rec.payload_offset >= 0) continue;  // a record with its rows (not written by an in-place run)
      const RowRange& r = rec.rows;
      uint32_t c = 0;
      for (size_t d = 0; d < outputs_.size(); ++d) {
        buf.resize(static_cast<size_t>(r.rows() * row_bytes_[d]));
        pread_all(fd, buf.data(), buf.size(), layout_.offsets[d] + r.begin * row_bytes_[d], partial);
        c = journal_crc(buf.data(), buf.size(), c);
      }
      buf.resize(static_cast<size_t>(r.rows()));
      pread_all(fd, buf.data(), buf.size(), layout_.flags_offset + r.begin, partial);
      c = journal_crc(buf.data(), buf.size(), c);
      if (c == rec.crc)
        verified.push_back(r);
      else
        unverified_records_ += 1;
    }
    done_ = merge_ranges(verified);
    for (const auto& r : done_) {  // flagged rows among those already done
      buf.resize(static_cast<size_t>(r.rows()));
      pread_all(fd, buf.data(), buf.size(), layout_.flags_offset + r.begin, partial);
      for (char f : buf) flagged_ += f != 0;
    }
  } catch (...) {
    close(fd);
    throw;
  }
  close(fd);
}

int64_t Checkpoint::finish_in_place() {
  std::vector<RowRange> all = done_;
  all.insert(all.end(), seen_.begin(), seen_.end());
  const auto missing = missing_ranges(all, rows_);
  if (!missing.empty())
    throw RuntimeError("output '" + partial_path(output_) + "' lacks rows [" + std::to_string(missing[0].begin) +
                       ", " + std::to_string(missing[0].end) + ") at the end of the run");
  if (data_fd_ >= 0) {
    if (fdatasync(data_fd_) != 0)
      throw DataError("cannot flush '" + partial_path(output_) + "': " + std::strerror(errno));
    close(data_fd_);
    data_fd_ = -1;
  }
  sync();
  return flagged_;
}

int64_t Checkpoint::done_rows() const {
  int64_t n = 0;
  for (const auto& r : done_) n += r.rows();
  return n;
}

std::string Checkpoint::describe() const {
  const std::string how =
      !opt_.in_place         ? "; rows journaled, output file built from the journal at the end"
      : opt_.parallel_writer ? "; rows written in place into " + partial_path(output_) +
                                   " by every rank (output.writer: parallel, MPI-IO)"
                             : "; rows written in place into " + partial_path(output_);
  if (valid_bytes_ == 0) {
    std::string s = opt_.fresh ? "fresh (--fresh: any old journal discarded)" : "fresh";
    if (!restart_why_.empty()) s += " (" + restart_why_ + ": the output file is started over)";
    return s + how;
  }
  std::string s = "resuming: " + std::to_string(done_rows()) + " of " + std::to_string(rows_) +
                  " rows already in " + (opt_.in_place ? partial_path(output_) + " (" + path_ + ")" : path_);
  if (dropped_bytes_ > 0) s += " (a torn last record of " + std::to_string(dropped_bytes_) + " bytes dropped)";
  if (unverified_records_ > 0)
    s += " (" + std::to_string(unverified_records_) + " journaled block(s) not matching the file: computed again)";
  return s + how;
}

Checkpoint::~Checkpoint() {
  if (data_fd_ >= 0) close(data_fd_);
  if (lock_fd_ >= 0) close(lock_fd_);
}

void Checkpoint::open() {
  lock_fd_ = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw DataError("cannot create lock file '" + lock_path_ + "': " + std::strerror(errno));
  if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
    throw DataError("the output is being written by another running mgi-mpi job (" + lock_path_ +
                    " is locked); wait for it or choose another output.file");
  if (opt_.in_place) {
    const std::string partial = partial_path(output_);
    if (valid_bytes_ == 0) {
      // A new file: every dataset allocated and all metadata written and
      // flushed now, before any row; the HDF5 file is then closed and rows
      // are plain writes into the allocated extents.
      OutputOptions oo;
      oo.contiguous = true;
      int64_t bytes = rows_;  // the status flags
      for (int64_t b : row_bytes_) bytes += rows_ * b;
      {  // the space first, without HDF5 (a full disk seen here leaves no half-made HDF5 state)
        const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) throw DataError("output.file '" + output_ + "': cannot create " + partial + ": " + std::strerror(errno));
        const int err = posix_fallocate(fd, 0, bytes + (int64_t{64} << 10));  // + room for the metadata
        close(fd);
        if (err != 0 && err != EOPNOTSUPP && err != EINVAL) {
          std::remove(partial.c_str());
          throw DataError("output.file '" + output_ + "': cannot allocate " + std::to_string(bytes) + " bytes for " +
                          partial + ": " + std::strerror(err) + "; free space or raise the quota and run again");
        }
      }
      try {
        OutputWriter w(output_, outputs_, rows_, oo);
        w.add_row_flags(opt_.status_dataset);
        layout_ = w.flush_layout();
      } catch (const Error& e) {
        // Space for every row is taken now: a full disk or a quota stops the
        // run before any work, and leaves no half-made file.
        std::remove(partial.c_str());
        std::string why = e.what();
        const auto at = why.find("error message = '");
        if (at != std::string::npos) why = why.substr(at + 17, why.find('\'', at + 17) - at - 17);
        throw DataError("output.file '" + output_ + "': cannot allocate " + std::to_string(bytes) + " bytes for " +
                        partial + ": " + why);
      }
    }
    data_fd_ = ::open(partial.c_str(), O_RDWR | O_CLOEXEC);
    if (data_fd_ < 0) throw DataError("cannot open '" + partial + "' for writing: " + std::strerror(errno));
  }
  if (valid_bytes_ > 0) {
    writer_ = std::make_unique<JournalWriter>(path_, fingerprint_, row_bytes_, valid_bytes_);
  } else {
    // Header written under a temporary name and renamed: a journal either has
    // a whole header or does not exist.
    writer_ = std::make_unique<JournalWriter>(path_ + ".tmp", fingerprint_, row_bytes_);
    writer_->rename_to(path_);
  }
  last_sync_ = std::chrono::steady_clock::now();
}

BlockDigest digest_block(const std::vector<OutputDatasetSpec>& outputs, int64_t rows,
                         const std::vector<const void*>& data) {
  BlockDigest b;
  b.flags.assign(static_cast<size_t>(rows), 0);
  for (size_t d = 0; d < outputs.size(); ++d) {
    b.crc = journal_crc(data[d], static_cast<size_t>(rows * outputs[d].row_bytes()), b.crc);
    flag_nonfinite(outputs[d].dtype, data[d], rows, shape_numel(outputs[d].row_shape), b.flags);
  }
  b.crc = journal_crc(b.flags.data(), b.flags.size(), b.crc);
  for (uint8_t f : b.flags) b.flagged += f;
  return b;
}

void check_finite(const std::vector<OutputDatasetSpec>& outputs, const RowRange& rows,
                  const std::vector<const void*>& data) {
  for (size_t d = 0; d < data.size(); ++d) {
    const DType t = outputs[d].dtype;
    const int64_t elems = shape_numel(outputs[d].row_shape);
    const int64_t i = first_nonfinite(t, data[d], rows.rows() * elems);
    if (i >= 0)
      throw DataError("row " + std::to_string(rows.begin + i / elems) + ": non-finite value (" +
                      std::to_string(element_as_double(t, data[d], i)) + ") in output dataset '" + outputs[d].path +
                      "' (output.on_nonfinite: fail; 'flag' marks such rows in the status dataset instead)");
  }
}

void Checkpoint::record(const RowRange& rows, const std::vector<const void*>& outputs) {
  if (rows.rows() <= 0) return;
  // Before journaling: the bad rows must not count as done.
  if (opt_.fail_on_nonfinite) check_finite(outputs_, rows, outputs);
  if (opt_.in_place) {
    // The rows into the file first, then their index record: a kill between
    // the two leaves rows the journal does not claim (computed again).
    const std::string partial = partial_path(output_);
    const BlockDigest b = digest_block(outputs_, rows.rows(), outputs);
    for (size_t d = 0; d < outputs.size(); ++d)
      pwrite_all(data_fd_, outputs[d], static_cast<size_t>(rows.rows() * row_bytes_[d]),
                 layout_.offsets[d] + rows.begin * row_bytes_[d], partial);
    pwrite_all(data_fd_, b.flags.data(), b.flags.size(), layout_.flags_offset + rows.begin, partial);
    flagged_ += b.flagged;
    writer_->append_index(rows, b.crc);
    seen_.push_back(rows);
  } else {
    writer_->append(rows, outputs);
  }
  if (progress_) progress_->add(rows.rows());
  if (sync_due()) sync();
}

void Checkpoint::record_written(const RowRange& rows, uint32_t crc, int64_t flagged) {
  MGI_ASSERT(opt_.in_place && opt_.parallel_writer, "record_written() without the parallel writer");
  if (rows.rows() <= 0) return;
  flagged_ += flagged;
  writer_->append_index(rows, crc);
  seen_.push_back(rows);
  if (progress_) progress_->add(rows.rows());
}

bool Checkpoint::sync_due() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - last_sync_).count() >= opt_.flush_seconds;
}

void Checkpoint::sync() {
  // The file's rows are durable before the records that claim them.
  if (data_fd_ >= 0 && fdatasync(data_fd_) != 0)
    throw DataError("cannot flush '" + partial_path(output_) + "': " + std::strerror(errno));
  if (writer_) writer_->sync();
  last_sync_ = std::chrono::steady_clock::now();
}

int64_t Checkpoint::assemble(OutputWriter& out) const {
  std::vector<RowRange> seen;
  std::vector<uint8_t> flags;
  int64_t flagged = 0;
  replay_journal_by_rows(path_, row_bytes_, int64_t{64} << 20, [&](const RowRange& r, const std::vector<const void*>& data) {
    flags.assign(static_cast<size_t>(r.rows()), 0);
    for (size_t d = 0; d < data.size(); ++d) {
      out.write_rows(d, r.begin, r.rows(), data[d]);
      flag_nonfinite(outputs_[d].dtype, data[d], r.rows(), shape_numel(outputs_[d].row_shape), flags);
    }
    for (uint8_t f : flags) flagged += f;
    out.write_row_flags(r.begin, r.rows(), flags.data());
    seen.push_back(r);
  });
  const auto missing = missing_ranges(seen, rows_);
  if (!missing.empty())
    throw RuntimeError("journal '" + path_ + "' lacks rows [" + std::to_string(missing[0].begin) + ", " +
                       std::to_string(missing[0].end) + ") at the end of the run");
  return flagged;
}

void Checkpoint::remove_journal() {
  writer_.reset();
  std::remove(path_.c_str());
  if (lock_fd_ >= 0) {
    std::remove(lock_path_.c_str());
    close(lock_fd_);
    lock_fd_ = -1;
  }
}

}  // namespace mgi
