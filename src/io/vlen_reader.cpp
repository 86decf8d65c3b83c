#include "vlen_reader.hpp"

#include <cstring>
#include <vector>

#include "dataset_reader.hpp"
#include "error.hpp"

namespace mgi {

namespace {

// Frees what H5Dread allocated for the vlen elements, however the read ends.
class VlenBuffers {
 public:
  VlenBuffers(hid_t mem_type, hid_t mem_space, size_t n) : type_(mem_type), space_(mem_space), buf_(n) {}
  ~VlenBuffers() {
    if (read_) H5Dvlen_reclaim(type_, space_, H5P_DEFAULT, buf_.data());
  }
  hvl_t* data() { return buf_.data(); }
  void mark_read() { read_ = true; }

 private:
  hid_t type_, space_;
  std::vector<hvl_t> buf_;
  bool read_ = false;
};

hid_t native_of(DType t) {
  switch (t) {
    case DType::f32: return H5T_NATIVE_FLOAT;
    case DType::i64: return H5T_NATIVE_INT64;
    case DType::i32: return H5T_NATIVE_INT32;
    case DType::i8: return H5T_NATIVE_INT8;
    case DType::u8: return H5T_NATIVE_UINT8;
    default: return -1;  // staged through float32
  }
}

}  // namespace

bool is_vlen_dataset(const std::string& file, const std::string& dataset) {
  h5_quiet();
  std::lock_guard<std::recursive_mutex> lock(h5_mutex());
  if (dataset.size() < 2 || dataset[0] != '/' || H5Fis_hdf5(file.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  H5Handle fid(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!fid) return false;
  // Walk the path so a missing group is "false", not an HDF5 error.
  for (size_t at = dataset.find('/', 1);; at = dataset.find('/', at + 1)) {
    const std::string part = at == std::string::npos ? dataset : dataset.substr(0, at);
    if (H5Lexists(fid.get(), part.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (at == std::string::npos) break;
  }
  H5O_info_t info{};
  if (H5Oget_info_by_name2(fid.get(), dataset.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
      info.type != H5O_TYPE_DATASET) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  H5Handle did(H5Dopen2(fid.get(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (!did) return false;
  H5Handle type(H5Dget_type(did.get()), H5Tclose);
  const bool vlen = type && H5Tget_class(type.get()) == H5T_VLEN;
  H5Eclear2(H5E_DEFAULT);
  return vlen;
}

VlenReader::VlenReader(const std::string& file, const std::string& dataset, const std::string& what)
    : file_(file), dataset_(dataset) {
  h5_quiet();
  std::lock_guard<std::recursive_mutex> lock(h5_mutex());
  const std::string name = what + " '" + dataset + "' in '" + file + "'";
  fid_ = H5Handle(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!fid_) throw DataError("input file '" + file + "': cannot open as HDF5: " + h5_error_message());
  did_ = H5Handle(H5Dopen2(fid_.get(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (!did_) throw DataError(name + ": cannot be opened as a dataset: " + h5_error_message());
  H5Handle type = MGI_H5_OWN(H5Dget_type(did_.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_VLEN) throw DataError(name + ": not a variable-length dataset");
  base_type_ = MGI_H5_OWN(H5Tget_super(type.get()), H5Tclose);
  base_ = h5_numeric_type_name(base_type_.get());
  if (base_.empty())
    throw DataError(name + ": variable-length rows of a non-numeric type; expected integers (token ids) or floats");
  dtype_ = "vlen " + base_;
  space_ = MGI_H5_OWN(H5Dget_space(did_.get()), H5Sclose);
  const int rank = MGI_HDF5(H5Sget_simple_extent_ndims(space_.get()));
  std::vector<hsize_t> dims(static_cast<size_t>(rank > 0 ? rank : 0));
  if (rank > 0) MGI_HDF5(H5Sget_simple_extent_dims(space_.get(), dims.data(), nullptr));
  if (rank != 1) {
    std::string s = "[";
    for (size_t k = 0; k < dims.size(); ++k) s += (k ? ", " : "") + std::to_string(dims[k]);
    throw DataError(name + ": variable-length dataset of shape " + s + "]; expected 1-D [N] (one sequence per row)");
  }
  rows_ = static_cast<int64_t>(dims[0]);
}

RaggedIndex VlenReader::index(int64_t chunk) const {
  std::lock_guard<std::recursive_mutex> lock(h5_mutex());
  RaggedIndex ix;
  ix.offsets.reserve(static_cast<size_t>(rows_) + 1);
  ix.offsets.push_back(0);
  chunk = std::max<int64_t>(1, chunk);
  // Read in the file's own base type: no conversion, only the lengths are kept.
  H5Handle native = MGI_H5_OWN(H5Tget_native_type(base_type_.get(), H5T_DIR_DEFAULT), H5Tclose);
  H5Handle mem_type = MGI_H5_OWN(H5Tvlen_create(native.get()), H5Tclose);
  for (int64_t at = 0; at < rows_; at += chunk) {
    const hsize_t start = static_cast<hsize_t>(at), cnt = static_cast<hsize_t>(std::min(chunk, rows_ - at));
    H5Handle fs = MGI_H5_OWN(H5Scopy(space_.get()), H5Sclose);
    MGI_HDF5(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, &start, nullptr, &cnt, nullptr));
    H5Handle ms = MGI_H5_OWN(H5Screate_simple(1, &cnt, nullptr), H5Sclose);
    VlenBuffers buf(mem_type.get(), ms.get(), static_cast<size_t>(cnt));
    MGI_HDF5(H5Dread(did_.get(), mem_type.get(), ms.get(), fs.get(), H5P_DEFAULT, buf.data()));
    buf.mark_read();
    for (hsize_t j = 0; j < cnt; ++j) {
      const int64_t len = static_cast<int64_t>(buf.data()[j].len);
      ix.offsets.push_back(ix.offsets.back() + len);
      ix.max_length = std::max(ix.max_length, len);
    }
  }
  return ix;
}

void VlenReader::read_packed(int64_t first, int64_t count, const RaggedIndex& index, DType to, void* dst) const {
  if (count <= 0) return;
  MGI_ASSERT(first >= 0 && first + count <= rows_ && first + count <= index.rows(), "row range outside the dataset");
  const hid_t native = native_of(to);
  const hid_t elem = native >= 0 ? native : H5T_NATIVE_FLOAT;
  const size_t esize = H5Tget_size(elem);
  std::lock_guard<std::recursive_mutex> lock(h5_mutex());
  H5Handle mem_type = MGI_H5_OWN(H5Tvlen_create(elem), H5Tclose);
  const hsize_t start = static_cast<hsize_t>(first), cnt = static_cast<hsize_t>(count);
  H5Handle fs = MGI_H5_OWN(H5Scopy(space_.get()), H5Sclose);
  MGI_HDF5(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, &start, nullptr, &cnt, nullptr));
  H5Handle ms = MGI_H5_OWN(H5Screate_simple(1, &cnt, nullptr), H5Sclose);
  VlenBuffers buf(mem_type.get(), ms.get(), static_cast<size_t>(count));
  MGI_HDF5(H5Dread(did_.get(), mem_type.get(), ms.get(), fs.get(), H5P_DEFAULT, buf.data()));
  buf.mark_read();
  const int64_t total = index.offsets[static_cast<size_t>(first + count)] - index.offsets[static_cast<size_t>(first)];
  std::vector<float> staged(native >= 0 ? 0 : static_cast<size_t>(total));
  char* out = native >= 0 ? static_cast<char*>(dst) : reinterpret_cast<char*>(staged.data());
  int64_t at = 0;
  for (int64_t j = 0; j < count; ++j) {
    const int64_t len = static_cast<int64_t>(buf.data()[j].len);
    if (len != index.length(first + j))
      throw DataError("input dataset '" + dataset_ + "' in '" + file_ + "': row " + std::to_string(first + j) +
                      " has " + std::to_string(len) + " values now but had " +
                      std::to_string(index.length(first + j)) + " when the run started (file changed?)");
    if (len > 0) std::memcpy(out + static_cast<size_t>(at) * esize, buf.data()[j].p, static_cast<size_t>(len) * esize);
    at += len;
  }
  if (native < 0) convert_elements(DType::f32, staged.data(), to, dst, total);
}

}  // namespace mgi
