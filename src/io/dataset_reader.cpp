#include "dataset_reader.hpp"

#include <vector>

#include "error.hpp"

namespace mgi {

std::string h5_numeric_type_name(hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t bits = H5Tget_size(type) * 8;
  if (cls == H5T_FLOAT) return "float" + std::to_string(bits);
  if (cls == H5T_INTEGER)
    return std::string(H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
  return "";
}

namespace {
// Looks `path` up one component at a time: H5Lexists fails (< 0) both past a
// missing group and on damaged metadata, and only the walk tells them apart.
void require_link(hid_t file, const std::string& path, const std::string& what, const std::string& fname) {
  const std::string prefix = what + " '" + path + "'";
  if (path.size() < 2 || path[0] != '/') throw DataError(prefix + " in '" + fname + "': expected a path like /x");
  for (size_t at = path.find('/', 1);; at = path.find('/', at + 1)) {
    const std::string part = at == std::string::npos ? path : path.substr(0, at);
    const htri_t exists = H5Lexists(file, part.c_str(), H5P_DEFAULT);
    if (exists < 0) throw DataError(prefix + " in '" + fname + "': cannot look it up: " + h5_error_message());
    if (exists == 0) throw DataError(prefix + " not found in '" + fname + "'");
    if (at == std::string::npos) return;
  }
}
}  // namespace

DatasetReader::DatasetReader(const std::string& file, const std::string& dataset, const std::string& what)
    : file_(file), dataset_(dataset) {
  h5_quiet();
  htri_t is_h5 = H5Fis_hdf5(file.c_str());
  if (is_h5 <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw DataError("input file '" + file + "': " +
                    (is_h5 == 0 ? "not an HDF5 file" : "cannot open (missing or unreadable)"));
  }
  fid_ = H5Handle(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!fid_) throw DataError("input file '" + file + "': cannot open as HDF5: " + h5_error_message());
  require_link(fid_.get(), dataset, what, file);
  H5O_info_t info{};
  if (H5Oget_info_by_name2(fid_.get(), dataset.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 &&
      info.type == H5O_TYPE_GROUP)
    throw DataError(what + " '" + dataset + "' in '" + file + "' is a group, not a dataset");
  did_ = H5Handle(H5Dopen2(fid_.get(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (!did_)
    throw DataError(what + " '" + dataset + "' in '" + file + "' cannot be opened as a dataset: " +
                    h5_error_message());
  H5Handle type = MGI_H5_OWN(H5Dget_type(did_.get()), H5Tclose);
  dtype_ = h5_numeric_type_name(type.get());
  if (dtype_.empty())
    throw DataError(what + " '" + dataset + "' in '" + file +
                    "' is not numeric (expected an integer or float dtype)");
  space_ = MGI_H5_OWN(H5Dget_space(did_.get()), H5Sclose);
  const int rank = MGI_HDF5(H5Sget_simple_extent_ndims(space_.get()));
  if (rank < 1)
    throw DataError(what + " '" + dataset + "' in '" + file +
                    "' is a scalar; expected [rows, ...]");
  std::vector<hsize_t> dims(rank);
  MGI_HDF5(H5Sget_simple_extent_dims(space_.get(), dims.data(), nullptr));
  for (hsize_t d : dims) shape_.push_back(static_cast<int64_t>(d));
  try {
    row_elements_ = shape_numel(row_shape(shape_));
  } catch (const Error&) {
    throw DataError(what + " '" + dataset + "' in '" + file + "' has shape " +
                    shape_str(shape_) + ", too large to index");
  }
}

namespace {
// HDF5's memory type for the types it converts to directly; -1 for those
// staged through another type (HDF5 has no bfloat16 or "!= 0" bool).
hid_t native_type(DType t) {
  switch (t) {
    case DType::f32: return H5T_NATIVE_FLOAT;
    case DType::i64: return H5T_NATIVE_INT64;
    case DType::i32: return H5T_NATIVE_INT32;
    case DType::i8: return H5T_NATIVE_INT8;
    case DType::u8: return H5T_NATIVE_UINT8;
    default: return -1;
  }
}
}  // namespace

void DatasetReader::read_native(int64_t first, int64_t count, hid_t mem_type, void* dst) const {
  MGI_ASSERT(first >= 0 && first + count <= rows(), "row range outside the dataset");
  std::lock_guard<std::recursive_mutex> lock(h5_mutex());
  std::vector<hsize_t> start(shape_.size(), 0), cnt(shape_.begin(), shape_.end());
  start[0] = static_cast<hsize_t>(first);
  cnt[0] = static_cast<hsize_t>(count);
  H5Handle file_space = MGI_H5_OWN(H5Scopy(space_.get()), H5Sclose);
  MGI_HDF5(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, cnt.data(), nullptr));
  H5Handle mem_space = MGI_H5_OWN(H5Screate_simple(static_cast<int>(cnt.size()), cnt.data(), nullptr), H5Sclose);
  MGI_HDF5(H5Dread(did_.get(), mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, dst));
}

void DatasetReader::read_rows(int64_t first, int64_t count, DType to, void* dst) const {
  if (count <= 0) return;
  const hid_t native = native_type(to);
  if (native >= 0) return read_native(first, count, native, dst);
  const int64_t n = count * row_elements_;
  if (to == DType::b8) {  // through double: any nonzero value, integer or float, stays nonzero
    std::vector<double> staged(static_cast<size_t>(n));
    read_native(first, count, H5T_NATIVE_DOUBLE, staged.data());
    auto* out = static_cast<uint8_t*>(dst);
    for (int64_t k = 0; k < n; ++k) out[k] = staged[static_cast<size_t>(k)] != 0;
    return;
  }
  std::vector<float> staged(static_cast<size_t>(n));  // float16 / bfloat16: through float32
  read_native(first, count, H5T_NATIVE_FLOAT, staged.data());
  convert_elements(DType::f32, staged.data(), to, dst, n);
}

}  // namespace mgi
