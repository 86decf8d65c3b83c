#include "input_fingerprint.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "error.hpp"
#include "h5.hpp"
#include "sha256.hpp"

namespace mgi {

namespace {
constexpr int kMaxSamples = 16;

// Appends the contents of `rows` variable-length elements read into `buf`.
void append_vlen(hid_t mem_type, const std::vector<char>& buf, int64_t elems, std::string& out) {
  if (H5Tis_variable_str(mem_type) > 0) {
    const auto* s = reinterpret_cast<char* const*>(buf.data());
    for (int64_t i = 0; i < elems; ++i) {
      const std::string v = s[i] ? s[i] : "";
      const uint64_t n = v.size();
      out.append(reinterpret_cast<const char*>(&n), sizeof n);
      out += v;
    }
    return;
  }
  H5Handle base(H5Tget_super(mem_type), H5Tclose);
  const size_t bsize = base ? H5Tget_size(base.get()) : 1;
  const auto* v = reinterpret_cast<const hvl_t*>(buf.data());
  for (int64_t i = 0; i < elems; ++i) {
    const uint64_t n = v[i].len;
    out.append(reinterpret_cast<const char*>(&n), sizeof n);
    if (v[i].p) out.append(static_cast<const char*>(v[i].p), v[i].len * bsize);
  }
}
}  // namespace

std::string input_sample_digest(const std::string& file, const std::string& dataset) {
  std::lock_guard<std::recursive_mutex> lock(h5_mutex());
  h5_quiet();
  H5Handle fid(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!fid) throw DataError("cannot open input file '" + file + "' to fingerprint it: " + h5_error_message());
  H5Handle did(H5Dopen2(fid.get(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (!did) throw DataError("cannot open dataset '" + dataset + "' in '" + file + "': " + h5_error_message());
  H5Handle ftype = MGI_H5_OWN(H5Dget_type(did.get()), H5Tclose);
  H5Handle mtype = MGI_H5_OWN(H5Tget_native_type(ftype.get(), H5T_DIR_ASCEND), H5Tclose);
  const bool variable = H5Tget_class(ftype.get()) == H5T_VLEN || H5Tis_variable_str(ftype.get()) > 0;
  H5Handle space = MGI_H5_OWN(H5Dget_space(did.get()), H5Sclose);
  const int rank = MGI_HDF5(H5Sget_simple_extent_ndims(space.get()));
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
  if (rank > 0) MGI_HDF5(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr));
  const size_t esize = H5Tget_size(mtype.get());
  int64_t row_elems = 1;
  for (int i = 1; i < rank; ++i) row_elems *= static_cast<int64_t>(dims[static_cast<size_t>(i)]);
  const int64_t n = rank > 0 ? static_cast<int64_t>(dims[0]) : 1;
  // A variable-length element counts as 64 bytes for the budget.
  const int64_t row_bytes = std::max<int64_t>(1, row_elems * (variable ? 64 : static_cast<int64_t>(esize)));
  const int64_t budget = kInputSampleBytes / kMaxSamples;
  const int64_t per_sample = std::clamp<int64_t>(budget / row_bytes, 1, std::max<int64_t>(n, 1));
  int samples = 0;
  if (n > 0) samples = static_cast<int>(std::min<int64_t>(kMaxSamples, (n + per_sample - 1) / per_sample));
  if (per_sample == 1 && row_bytes > budget)
    samples = static_cast<int>(std::clamp<int64_t>(kInputSampleBytes / row_bytes, 2, kMaxSamples));
  samples = static_cast<int>(std::min<int64_t>(samples, n));
  std::string bytes;
  std::vector<char> buf;
  for (int k = 0; k < samples; ++k) {
    const int64_t span = std::max<int64_t>(0, n - per_sample);
    const int64_t start = samples > 1 ? span * k / (samples - 1) : 0;
    const int64_t count = std::min(per_sample, n - start);
    const int64_t elems = count * row_elems;
    buf.assign(static_cast<size_t>(elems) * esize, 0);
    H5Handle fs = MGI_H5_OWN(H5Scopy(space.get()), H5Sclose);
    H5Handle ms;
    if (rank > 0) {
      std::vector<hsize_t> off(dims.size(), 0), cnt = dims;
      off[0] = static_cast<hsize_t>(start);
      cnt[0] = static_cast<hsize_t>(count);
      MGI_HDF5(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, off.data(), nullptr, cnt.data(), nullptr));
      ms = MGI_H5_OWN(H5Screate_simple(rank, cnt.data(), nullptr), H5Sclose);
    } else {
      ms = MGI_H5_OWN(H5Screate(H5S_SCALAR), H5Sclose);
    }
    if (H5Dread(did.get(), mtype.get(), ms.get(), fs.get(), H5P_DEFAULT, buf.data()) < 0)
      throw DataError("cannot read dataset '" + dataset + "' in '" + file + "' to fingerprint it: " +
                      h5_error_message());
    const int64_t at = start;
    bytes.append(reinterpret_cast<const char*>(&at), sizeof at);
    if (variable) {
      append_vlen(mtype.get(), buf, elems, bytes);
      H5Dvlen_reclaim(mtype.get(), ms.get(), H5P_DEFAULT, buf.data());
    } else {
      bytes.append(buf.data(), buf.size());
    }
  }
  const hsize_t storage = H5Dget_storage_size(did.get());
  return "sha256 " + sha256_hex(bytes).substr(0, 32) + " of " + std::to_string(bytes.size()) + " bytes in " +
         std::to_string(samples) + " samples; storage " + std::to_string(storage) + " bytes";
}

}  // namespace mgi
