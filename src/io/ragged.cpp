#include "ragged.hpp"

#include <algorithm>
#include <cstring>

#include "error.hpp"
#include "h5.hpp"

namespace mgi {

void check_offsets_chunk(const int64_t* values, int64_t first, int64_t count, int64_t prev,
                         const std::string& what) {
  for (int64_t j = 0; j < count; ++j) {
    const int64_t i = first + j, v = values[j];
    const std::string at = what + ": offsets[" + std::to_string(i) + "] = " + std::to_string(v);
    if (i == 0 && v != 0) throw DataError(at + "; the first offset must be 0");
    if (v < 0) throw DataError(at + " is negative");
    if (i > 0 && v < prev)
      throw DataError(at + " is less than offsets[" + std::to_string(i - 1) + "] = " + std::to_string(prev) +
                      "; offsets must be non-decreasing");
    prev = v;
  }
}

namespace {
void check_end(int64_t n, int64_t last, int64_t value_rows, const std::string& what) {
  if (n < 1) throw DataError(what + ": has no entries; expected [N+1] offsets starting with 0");
  if (last != value_rows)
    throw DataError(what + ": offsets[" + std::to_string(n - 1) + "] = " + std::to_string(last) +
                    " but the values dataset has " + std::to_string(value_rows) +
                    " rows; the last offset must equal it");
}
}  // namespace

void check_offsets(const std::vector<int64_t>& offsets, int64_t value_rows, const std::string& what) {
  const int64_t n = static_cast<int64_t>(offsets.size());
  check_offsets_chunk(offsets.data(), 0, n, 0, what);
  check_end(n, n ? offsets.back() : 0, value_rows, what);
}

RaggedIndex read_ragged_index(const std::string& file, const std::string& dataset, int64_t value_rows,
                              int64_t chunk) {
  const std::string what = "input.offsets dataset '" + dataset + "' in '" + file + "'";
  h5_quiet();
  std::lock_guard<std::recursive_mutex> lock(h5_mutex());
  H5Handle fid(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!fid) throw DataError("input file '" + file + "': cannot open as HDF5: " + h5_error_message());
  const htri_t exists =
      dataset.size() > 1 && dataset[0] == '/' ? H5Lexists(fid.get(), dataset.c_str(), H5P_DEFAULT) : 0;
  if (exists <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw DataError(what + ": not found");
  }
  H5Handle did(H5Dopen2(fid.get(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (!did) throw DataError(what + ": not a dataset: " + h5_error_message());
  H5Handle type = MGI_H5_OWN(H5Dget_type(did.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_INTEGER)
    throw DataError(what + ": has a non-integer dtype; offsets must be integers (int64)");
  H5Handle space = MGI_H5_OWN(H5Dget_space(did.get()), H5Sclose);
  const int rank = MGI_HDF5(H5Sget_simple_extent_ndims(space.get()));
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
  if (rank > 0) MGI_HDF5(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr));
  if (rank != 1) {
    std::string s = "[";
    for (size_t k = 0; k < dims.size(); ++k) s += (k ? ", " : "") + std::to_string(dims[k]);
    throw DataError(what + ": has shape " + s + "]; expected 1-D [N+1]");
  }
  const int64_t n = static_cast<int64_t>(dims[0]);
  RaggedIndex index;
  try {
    index.offsets.resize(static_cast<size_t>(n));
  } catch (const std::exception&) {
    throw DataError(what + ": " + std::to_string(n) + " offsets do not fit in memory");
  }
  chunk = std::max<int64_t>(1, chunk);
  for (int64_t at = 0; at < n; at += chunk) {  // streaming check: the first bad entry stops the read
    const int64_t count = std::min(chunk, n - at);
    hsize_t start = static_cast<hsize_t>(at), cnt = static_cast<hsize_t>(count);
    H5Handle fs = MGI_H5_OWN(H5Scopy(space.get()), H5Sclose);
    MGI_HDF5(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, &start, nullptr, &cnt, nullptr));
    H5Handle ms = MGI_H5_OWN(H5Screate_simple(1, &cnt, nullptr), H5Sclose);
    int64_t* dst = index.offsets.data() + at;
    MGI_HDF5(H5Dread(did.get(), H5T_NATIVE_INT64, ms.get(), fs.get(), H5P_DEFAULT, dst));
    check_offsets_chunk(dst, at, count, at ? index.offsets[static_cast<size_t>(at - 1)] : 0, what);
  }
  check_end(n, n ? index.offsets.back() : 0, value_rows, what);
  for (int64_t i = 0; i + 1 < n; ++i) index.max_length = std::max(index.max_length, index.length(i));
  return index;
}

std::vector<int64_t> length_order(const RaggedIndex& index, int64_t begin, int64_t end) {
  std::vector<int64_t> order;
  order.reserve(static_cast<size_t>(std::max<int64_t>(0, end - begin)));
  for (int64_t i = begin; i < end; ++i) order.push_back(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return index.length(a) > index.length(b); });
  return order;
}

int64_t pad_ragged_batch(const RaggedIndex& index, const void* values, int64_t v0,
                         const std::vector<int64_t>& order, size_t first, int64_t n, int64_t tok_bytes, void* input,
                         DType mask_type, void* mask, const void* pad, size_t elem_size) {
  const int64_t seq = std::max<int64_t>(1, index.length(order[first]));
  const auto* src = static_cast<const char*>(values);
  auto* dst = static_cast<char*>(input);
  const size_t all = static_cast<size_t>(n * seq * tok_bytes);
  if (pad && elem_size > 0) {
    for (size_t at = 0; at + elem_size <= all; at += elem_size) std::memcpy(dst + at, pad, elem_size);
  } else {
    std::memset(dst, 0, all);
  }
  const size_t mask_size = dtype_size(mask_type);
  char one[8];
  const float one_f = 1.0f;
  convert_elements(DType::f32, &one_f, mask_type, one, 1);
  if (mask) std::memset(mask, 0, static_cast<size_t>(n * seq) * mask_size);
  for (int64_t j = 0; j < n; ++j) {
    const int64_t row = order[first + static_cast<size_t>(j)], len = index.length(row);
    if (len > 0)
      std::memcpy(dst + j * seq * tok_bytes, src + (index.offsets[row] - v0) * tok_bytes,
                  static_cast<size_t>(len * tok_bytes));
    if (!mask) continue;
    auto* m = static_cast<char*>(mask) + static_cast<size_t>(j * seq) * mask_size;
    for (int64_t t = 0; t < len; ++t) std::memcpy(m + static_cast<size_t>(t) * mask_size, one, mask_size);
  }
  return seq;
}

}  // namespace mgi

namespace mgi {

int64_t ragged_batch_rows(const RaggedIndex& index, const std::vector<int64_t>& order, size_t first, int64_t batch,
                          bool equal_length) {
  const int64_t left = static_cast<int64_t>(order.size()) - static_cast<int64_t>(first);
  const int64_t n = std::min(batch, left);
  if (!equal_length || n <= 1) return std::max<int64_t>(0, n);
  const int64_t len = index.length(order[first]);
  int64_t k = 1;
  while (k < n && index.length(order[first + static_cast<size_t>(k)]) == len) ++k;
  return k;
}

}  // namespace mgi
