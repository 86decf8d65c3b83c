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
      opt_(opt), rows_(fp.rows) {
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
}

int64_t Checkpoint::done_rows() const {
  int64_t n = 0;
  for (const auto& r : done_) n += r.rows();
  return n;
}

std::string Checkpoint::describe() const {
  if (valid_bytes_ == 0) return opt_.fresh ? "fresh (--fresh: any old journal discarded)" : "fresh";
  std::string s = "resuming: " + std::to_string(done_rows()) + " of " + std::to_string(rows_) +
                  " rows already in " + path_;
  if (dropped_bytes_ > 0) s += " (a torn last record of " + std::to_string(dropped_bytes_) + " bytes dropped)";
  return s;
}

Checkpoint::~Checkpoint() {
  if (lock_fd_ >= 0) close(lock_fd_);
}

void Checkpoint::open() {
  lock_fd_ = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw DataError("cannot create lock file '" + lock_path_ + "': " + std::strerror(errno));
  if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
    throw DataError("the output is being written by another running mgi-mpi job (" + lock_path_ +
                    " is locked); wait for it or choose another output.file");
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

void Checkpoint::record(const RowRange& rows, const std::vector<const void*>& outputs) {
  if (rows.rows() <= 0) return;
  if (opt_.fail_on_nonfinite)  // before journaling: the bad rows must not count as done
    for (size_t d = 0; d < outputs.size(); ++d) {
      const DType t = outputs_[d].dtype;
      const int64_t elems = shape_numel(outputs_[d].row_shape);
      const int64_t i = first_nonfinite(t, outputs[d], rows.rows() * elems);
      if (i >= 0)
        throw DataError("row " + std::to_string(rows.begin + i / elems) + ": non-finite value (" +
                        std::to_string(element_as_double(t, outputs[d], i)) + ") in output dataset '" +
                        outputs_[d].path +
                        "' (output.on_nonfinite: fail; 'flag' marks such rows in the status dataset instead)");
    }
  writer_->append(rows, outputs);
  if (progress_) progress_->add(rows.rows());
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_sync_).count() >= opt_.flush_seconds) {
    writer_->sync();
    last_sync_ = now;
  }
}

void Checkpoint::sync() {
  if (writer_) writer_->sync();
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
