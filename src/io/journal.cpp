#include "journal.hpp"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "error.hpp"

namespace mgi {

namespace {
constexpr char kMagic[8] = {'M', 'G', 'I', 'J', 'R', 'N', 'L', '1'};
constexpr uint32_t kRecordMagic = 0x4A49474D;  // "MGIJ"
constexpr uint32_t kIndexMagic = 0x4B49474D;   // "MGIK": rows in the output file, no payload
constexpr uint32_t kMaxFingerprint = 1u << 20;

struct RecordHeader {
  uint32_t magic;
  uint32_t header_crc;  // over the fields below
  int64_t begin, end;
  uint64_t payload_bytes;
  uint32_t payload_crc;
  uint32_t zero;
};
static_assert(sizeof(RecordHeader) == 40, "journal record header layout");

uint32_t crc(const void* p, size_t n, uint32_t seed = 0) {
  uint32_t c = seed;
  const auto* b = static_cast<const Bytef*>(p);
  while (n > 0) {  // zlib's crc32 takes uInt lengths
    const uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    c = static_cast<uint32_t>(crc32(c, b, chunk));
    b += chunk;
    n -= chunk;
  }
  return c;
}

uint32_t header_crc(const RecordHeader& h) {
  return crc(&h.begin, sizeof(RecordHeader) - offsetof(RecordHeader, begin));
}

int64_t sum(const std::vector<int64_t>& row_bytes) {
  int64_t s = 0;
  for (int64_t b : row_bytes) s += b;
  return s;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

[[noreturn]] void io_fail(const std::string& what, const std::string& path) {
  throw DataError("journal '" + path + "': " + what + ": " + std::strerror(errno));
}

// Reads the header; returns false (with scan.header_ok false) if it is not a journal.
bool read_header(std::FILE* f, JournalScan& scan) {
  char magic[8];
  uint32_t len = 0, c = 0;
  if (std::fread(magic, 1, 8, f) != 8 || std::memcmp(magic, kMagic, 8) != 0) return false;
  if (std::fread(&len, 4, 1, f) != 1 || len > kMaxFingerprint) return false;
  scan.fingerprint.resize(len);
  if (len && std::fread(scan.fingerprint.data(), 1, len, f) != len) return false;
  if (std::fread(&c, 4, 1, f) != 1 || c != crc(scan.fingerprint.data(), len)) return false;
  scan.header_ok = true;
  scan.valid_bytes = 8 + 4 + len + 4;
  return true;
}

// Reads a record's payload, one buffer per output (so each starts aligned
// whatever the outputs before it hold), with the CRC of all of it.
bool read_payload(std::FILE* file, int64_t rows, const std::vector<int64_t>& row_bytes,
                  std::vector<std::vector<char>>& parts, uint32_t& c) {
  c = 0;
  parts.resize(row_bytes.size());
  for (size_t d = 0; d < row_bytes.size(); ++d) {
    const size_t n = static_cast<size_t>(rows * row_bytes[d]);
    parts[d].resize(n);
    if (std::fread(parts[d].data(), 1, n, file) != n) return false;
    c = crc(parts[d].data(), n, c);
  }
  return true;
}

// Walks intact records; calls f for each with its payload when f is set.
void walk(const std::string& path, const std::vector<int64_t>& row_bytes, JournalScan& scan, const RecordFn* f) {
  File file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    if (errno == ENOENT) return;
    io_fail("cannot open", path);
  }
  scan.exists = true;
  if (!read_header(file.get(), scan)) return;
  std::fseek(file.get(), 0, SEEK_END);
  const int64_t size = std::ftell(file.get());
  std::fseek(file.get(), scan.valid_bytes, SEEK_SET);
  const int64_t per_row = sum(row_bytes);
  std::vector<std::vector<char>> parts;
  std::vector<RowRange> done;
  for (;;) {
    RecordHeader h{};
    if (std::fread(&h, sizeof h, 1, file.get()) != 1) break;
    if (h.magic == kIndexMagic && h.header_crc == header_crc(h) && h.zero == 0 && h.payload_bytes == 0 &&
        h.begin >= 0 && h.end > h.begin) {
      scan.valid_bytes += static_cast<int64_t>(sizeof h);
      scan.records += 1;
      done.push_back({h.begin, h.end});
      scan.index.push_back({{h.begin, h.end}, -1, h.payload_crc});
      continue;
    }
    if (h.magic != kRecordMagic || h.header_crc != header_crc(h) || h.zero != 0) break;
    // Sizes come from the file: check them before allocating anything.
    if (h.begin < 0 || h.end <= h.begin || per_row <= 0 || h.end - h.begin > INT64_MAX / per_row) break;
    if (static_cast<int64_t>(h.payload_bytes) != (h.end - h.begin) * per_row) break;
    if (scan.valid_bytes + static_cast<int64_t>(sizeof h) + static_cast<int64_t>(h.payload_bytes) > size) break;
    uint32_t c = 0;
    if (!read_payload(file.get(), h.end - h.begin, row_bytes, parts, c) || c != h.payload_crc) break;
    scan.valid_bytes += static_cast<int64_t>(sizeof h + h.payload_bytes);
    scan.records += 1;
    done.push_back({h.begin, h.end});
    scan.index.push_back({{h.begin, h.end}, scan.valid_bytes - static_cast<int64_t>(h.payload_bytes), 0});
    if (f) {
      std::vector<const void*> ptrs;
      for (const auto& p : parts) ptrs.push_back(p.data());
      (*f)({h.begin, h.end}, ptrs);
    }
  }
  scan.dropped_bytes = size - scan.valid_bytes;
  scan.done = merge_ranges(std::move(done));
}
}  // namespace

std::vector<RowRange> merge_ranges(std::vector<RowRange> r) {
  std::sort(r.begin(), r.end(), [](const RowRange& a, const RowRange& b) { return a.begin < b.begin; });
  std::vector<RowRange> out;
  for (const auto& x : r) {
    if (x.rows() <= 0) continue;
    if (!out.empty() && x.begin <= out.back().end)
      out.back().end = std::max(out.back().end, x.end);
    else
      out.push_back(x);
  }
  return out;
}

std::vector<RowRange> missing_ranges(const std::vector<RowRange>& done, int64_t n) {
  std::vector<RowRange> out;
  int64_t at = 0;
  for (const auto& d : merge_ranges(done)) {
    if (d.begin >= n) break;
    if (d.begin > at) out.push_back({at, d.begin});
    at = std::max(at, d.end);
  }
  if (at < n) out.push_back({at, n});
  return out;
}

JournalScan scan_journal(const std::string& path, const std::vector<int64_t>& row_bytes) {
  JournalScan scan;
  walk(path, row_bytes, scan, nullptr);
  return scan;
}

void replay_journal(const std::string& path, const std::vector<int64_t>& row_bytes, const RecordFn& f) {
  JournalScan scan;
  walk(path, row_bytes, scan, &f);
}

void replay_journal_by_rows(const std::string& path, const std::vector<int64_t>& row_bytes, int64_t block_bytes,
                            const RecordFn& f) {
  JournalScan scan;
  walk(path, row_bytes, scan, nullptr);
  std::vector<JournalScan::Record> recs = scan.index;
  std::sort(recs.begin(), recs.end(), [](const auto& a, const auto& b) { return a.rows.begin < b.rows.begin; });
  File file(std::fopen(path.c_str(), "rb"));
  if (!file) io_fail("cannot open", path);
  const int64_t per_row = sum(row_bytes);
  const int64_t block_rows = std::max<int64_t>(1, block_bytes / std::max<int64_t>(1, per_row));
  std::vector<std::vector<char>> block(row_bytes.size());  // operator new: aligned for any element type
  std::vector<char> payload;
  RowRange cur{0, 0};
  auto flush = [&] {
    if (cur.rows() <= 0) return;
    std::vector<const void*> ptrs;
    for (const auto& b : block) ptrs.push_back(b.data());
    f(cur, ptrs);
    for (auto& b : block) b.clear();
    cur = {0, 0};
  };
  int64_t covered = 0;  // rows below this are out already
  for (const auto& r : recs) {
    if (r.payload_offset < 0) continue;  // index record: the rows are in the output file
    const int64_t begin = std::max(r.rows.begin, covered);
    if (begin >= r.rows.end) continue;
    if (cur.rows() > 0 && (begin != cur.end || cur.rows() >= block_rows)) flush();
    if (cur.rows() == 0) cur = {begin, begin};
    const int64_t n = r.rows.rows();
    payload.resize(static_cast<size_t>(n * per_row));
    if (std::fseek(file.get(), r.payload_offset, SEEK_SET) != 0 ||
        std::fread(payload.data(), 1, payload.size(), file.get()) != payload.size())
      io_fail("cannot read a record back", path);
    const char* at = payload.data();
    for (size_t d = 0; d < row_bytes.size(); ++d) {
      const char* src = at + (begin - r.rows.begin) * row_bytes[d];
      block[d].insert(block[d].end(), src, at + n * row_bytes[d]);
      at += n * row_bytes[d];
    }
    cur.end = r.rows.end;
    covered = r.rows.end;
  }
  flush();
}

JournalWriter::JournalWriter(const std::string& path, const std::string& fingerprint,
                             const std::vector<int64_t>& row_bytes, int64_t valid_bytes)
    : path_(path), row_bytes_(row_bytes) {
  if (valid_bytes > 0) {
    if (truncate(path.c_str(), valid_bytes) != 0) io_fail("cannot cut back the torn tail", path);
    f_ = std::fopen(path.c_str(), "ab");
    if (!f_) io_fail("cannot open for appending", path);
    return;
  }
  if (fingerprint.size() > kMaxFingerprint) throw RuntimeError("journal fingerprint too large");
  f_ = std::fopen(path.c_str(), "wb");
  if (!f_) io_fail("cannot create", path);
  const uint32_t len = static_cast<uint32_t>(fingerprint.size());
  const uint32_t c = crc(fingerprint.data(), len);
  if (std::fwrite(kMagic, 1, 8, f_) != 8 || std::fwrite(&len, 4, 1, f_) != 1 ||
      (len && std::fwrite(fingerprint.data(), 1, len, f_) != len) || std::fwrite(&c, 4, 1, f_) != 1)
    io_fail("cannot write the header", path);
  sync();
}

JournalWriter::~JournalWriter() {
  if (f_) std::fclose(f_);
}

void JournalWriter::append(const RowRange& rows, const std::vector<const void*>& outputs) {
  MGI_ASSERT(outputs.size() == row_bytes_.size() && rows.rows() > 0, "journal record does not fit the outputs");
  RecordHeader h{};
  h.magic = kRecordMagic;
  h.begin = rows.begin;
  h.end = rows.end;
  h.payload_bytes = static_cast<uint64_t>(rows.rows() * sum(row_bytes_));
  uint32_t pc = 0;
  for (size_t d = 0; d < outputs.size(); ++d)
    pc = crc(outputs[d], static_cast<size_t>(rows.rows() * row_bytes_[d]), pc);
  h.payload_crc = pc;
  h.header_crc = header_crc(h);
  if (std::fwrite(&h, sizeof h, 1, f_) != 1) io_fail("cannot append", path_);
  for (size_t d = 0; d < outputs.size(); ++d) {
    const size_t n = static_cast<size_t>(rows.rows() * row_bytes_[d]);
    if (std::fwrite(outputs[d], 1, n, f_) != n) io_fail("cannot append", path_);
  }
  // Handed to the OS per record: a killed process loses nothing appended;
  // sync() bounds what a node crash can lose.
  if (std::fflush(f_) != 0) io_fail("cannot append", path_);
}

void JournalWriter::append_index(const RowRange& rows, uint32_t c) {
  MGI_ASSERT(rows.rows() > 0, "journal index record without rows");
  RecordHeader h{};
  h.magic = kIndexMagic;
  h.begin = rows.begin;
  h.end = rows.end;
  h.payload_bytes = 0;
  h.payload_crc = c;
  h.header_crc = header_crc(h);
  if (std::fwrite(&h, sizeof h, 1, f_) != 1 || std::fflush(f_) != 0) io_fail("cannot append", path_);
}

uint32_t journal_crc(const void* p, size_t n, uint32_t seed) { return crc(p, n, seed); }

void JournalWriter::rename_to(const std::string& path) {
  if (std::rename(path_.c_str(), path.c_str()) != 0) io_fail("cannot rename to '" + path + "'", path_);
  path_ = path;
}

void JournalWriter::sync() {
  if (std::fflush(f_) != 0 || fsync(fileno(f_)) != 0) io_fail("cannot flush", path_);
}

}  // namespace mgi
