// libFuzzer target: ragged-row offsets validation (src/io/ragged.hpp).
//
// Input layout:
//   byte 0      flags: bit 0 also write the offsets to an HDF5 file and read them
//               back with read_ragged_index; bits 1-3 its dtype; bit 4 rank 2;
//               bits 5-6 the dataset name asked for (/offsets, /grp, /missing, offsets)
//   byte 1      chunk size (1..16) for the chunked checks
//   byte 2      value_rows: 0 = last offset, 1 = last + 1, 2 = last - 1, else 8 raw bytes follow
//   rest        offsets: each byte b is prev + b - 8 (so mostly increasing), or 0xFF
//               followed by 8 raw bytes of one int64
// Checks, besides "no crash, only mgi::Error with exit code 3 (data)":
//   - check_offsets on the whole vector and check_offsets_chunk over chunks agree;
//   - read_ragged_index on an int64 [N+1] dataset agrees with check_offsets, message
//     included, and returns the same offsets and max_length;
//   - length_order on accepted offsets is a permutation, longest first, ties in row order.
// A disagreement is a finding (__builtin_trap).
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "error.hpp"
#include "ragged.hpp"

namespace {

struct Reader {
  const uint8_t* p;
  size_t n;
  bool take(uint8_t& b) {
    if (!n) return false;
    b = *p++;
    --n;
    return true;
  }
  bool take64(int64_t& v) {
    if (n < 8) return false;
    uint64_t u;
    std::memcpy(&u, p, 8);
    p += 8;
    n -= 8;
    v = static_cast<int64_t>(u);
    return true;
  }
};

int64_t wrap_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

// "" when accepted, else the error's message. Bad offsets are data errors (exit 3).
template <class F>
std::string verdict(F&& f) {
  try {
    f();
    return "";
  } catch (const mgi::Error& e) {
    const std::string m = e.what();
    if (m.empty() || e.code() != mgi::Exit::data) __builtin_trap();
    return m;
  }
}

void check_length_order(const mgi::RaggedIndex& idx, uint64_t pick) {
  const int64_t rows = idx.rows();
  const int64_t begin = rows ? static_cast<int64_t>(pick % static_cast<uint64_t>(rows + 1)) : 0;
  const int64_t end = begin + static_cast<int64_t>((pick >> 32) % static_cast<uint64_t>(rows - begin + 1));
  const std::vector<int64_t> order = mgi::length_order(idx, begin, end);
  if (static_cast<int64_t>(order.size()) != end - begin) __builtin_trap();
  std::vector<char> seen(static_cast<size_t>(end - begin), 0);
  for (size_t k = 0; k < order.size(); ++k) {
    const int64_t r = order[k];
    if (r < begin || r >= end || seen[static_cast<size_t>(r - begin)]) __builtin_trap();
    seen[static_cast<size_t>(r - begin)] = 1;
    if (k > 0) {
      const int64_t a = idx.length(order[k - 1]), b = idx.length(r);
      if (a < b || (a == b && order[k - 1] > r)) __builtin_trap();  // longest first, stable
    }
  }
}

const hid_t* h5_type(unsigned k) {
  static const hid_t* types[] = {&H5T_NATIVE_INT64, &H5T_NATIVE_INT64, &H5T_NATIVE_INT32, &H5T_NATIVE_UINT64,
                                 &H5T_NATIVE_INT8,  &H5T_NATIVE_UINT8, &H5T_NATIVE_FLOAT, &H5T_NATIVE_DOUBLE};
  return types[k & 7];
}

// Writes `offsets` as dataset /offsets (and a group /grp) of `path`. Returns false
// when HDF5 refuses (nothing to check then).
bool write_h5(const std::string& path, const std::vector<int64_t>& offsets, unsigned type, bool rank2) {
  const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) return false;
  bool ok = false;
  const hid_t g = H5Gcreate2(f, "/grp", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dims[2] = {1, offsets.size()};
  const hid_t space = rank2 ? H5Screate_simple(2, dims, nullptr) : H5Screate_simple(1, dims + 1, nullptr);
  if (g >= 0 && space >= 0) {
    const hid_t d = H5Dcreate2(f, "/offsets", *h5_type(type), space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0) {
      // Narrower file types clip on conversion; that is fine, only int64 results are compared.
      ok = offsets.empty() || H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, offsets.data()) >= 0;
      H5Dclose(d);
    }
  }
  if (space >= 0) H5Sclose(space);
  if (g >= 0) H5Gclose(g);
  H5Fclose(f);
  return ok;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in{data, size};
  uint8_t flags = 0, chunk_byte = 0, rows_mode = 0;
  if (!in.take(flags) || !in.take(chunk_byte) || !in.take(rows_mode)) return 0;
  int64_t raw_rows = 0;
  const bool raw_value_rows = rows_mode > 2;
  if (raw_value_rows && !in.take64(raw_rows)) return 0;

  std::vector<int64_t> offsets;
  int64_t prev = 0;
  for (uint8_t b; in.take(b);) {
    int64_t v;
    if (b != 0xFF || !in.take64(v)) v = wrap_add(prev, int64_t{b} - 8);
    offsets.push_back(v);
    prev = v;
  }
  const int64_t last = offsets.empty() ? 0 : offsets.back();
  const int64_t value_rows = raw_value_rows ? raw_rows : wrap_add(last, rows_mode == 1 ? 1 : rows_mode == 2 ? -1 : 0);
  const int64_t chunk = 1 + chunk_byte % 16;

  static const std::string path = std::string(getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") +
                                  "/mgi-fuzz-offsets-" + std::to_string(getpid()) + ".h5";
  const std::string what = "input.offsets dataset '/offsets' in '" + path + "'";
  const std::string whole = verdict([&] { mgi::check_offsets(offsets, value_rows, what); });

  // The chunked check (what read_ragged_index streams) finds the same first bad entry.
  const int64_t n = static_cast<int64_t>(offsets.size());
  const std::string chunked = verdict([&] {
    for (int64_t at = 0; at < n; at += chunk)
      mgi::check_offsets_chunk(offsets.data() + at, at, std::min(chunk, n - at),
                               at ? offsets[static_cast<size_t>(at - 1)] : 0, what);
  });
  if (!chunked.empty() && chunked != whole) __builtin_trap();

  mgi::RaggedIndex idx;
  if (whole.empty()) {
    idx.offsets = offsets;
    for (int64_t i = 0; i + 1 < n; ++i) idx.max_length = std::max(idx.max_length, idx.length(i));
    check_length_order(idx, static_cast<uint64_t>(wrap_add(last, n * 7919)));
  }

  if (!(flags & 1)) return 0;
  const unsigned type = (flags >> 1) & 7;
  const bool rank2 = flags & 16;
  static const char* names[] = {"/offsets", "/grp", "/missing", "offsets"};
  const std::string name = names[(flags >> 5) & 3];
  if (!write_h5(path, offsets, type, rank2)) return 0;
  mgi::RaggedIndex read;
  const std::string from_file = verdict([&] { read = mgi::read_ragged_index(path, name, value_rows, chunk); });
  unlink(path.c_str());
  const bool same_data = type < 2 && !rank2 && name == "/offsets";  // int64 [N+1] at the expected path
  if (same_data) {
    if (from_file != whole) __builtin_trap();
    if (whole.empty() && (read.offsets != idx.offsets || read.max_length != idx.max_length)) __builtin_trap();
  }
  return 0;
}
