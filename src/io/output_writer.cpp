#include "output_writer.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "error.hpp"

namespace mgi {

std::string partial_path(const std::string& output) { return output + ".partial"; }

namespace {
std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  if (stat(a.c_str(), &sa) != 0 || stat(b.c_str(), &sb) != 0) return a == b;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}
}  // namespace

void check_output_path(const std::string& output, const std::string& input, bool overwrite) {
  if (output.empty()) throw DataError("output.file is empty");
  if (same_file(output, input))
    throw DataError("output.file '" + output + "' is the input file; choose another output path");
  const std::string dir = parent_dir(output);
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) {
    // A missing directory is made before the run writes (create_output_dir); here: that it can be.
    std::string up = dir;
    while (stat(up.c_str(), &st) != 0 && parent_dir(up) != up) up = parent_dir(up);
    const std::string cannot = "output.file '" + output + "': cannot create directory '" + dir + "': ";
    if (!S_ISDIR(st.st_mode)) throw DataError(cannot + "'" + up + "' is not a directory");
    if (access(up.c_str(), W_OK) != 0) throw DataError(cannot + "directory '" + up + "' is not writable");
  } else if (!S_ISDIR(st.st_mode)) {
    throw DataError("output.file '" + output + "': '" + dir + "' is not a directory");
  } else if (access(dir.c_str(), W_OK) != 0) {
    throw DataError("output.file '" + output + "': directory '" + dir + "' is not writable");
  }
  struct stat out {};
  if (stat(output.c_str(), &out) == 0 && S_ISDIR(out.st_mode))
    throw DataError("output.file '" + output + "' is a directory; name a file inside it, e.g. '" + output +
                    "/pred.h5'");
  if (access(output.c_str(), F_OK) == 0 && !overwrite)
    throw DataError("output.file '" + output + "' already exists (pass --overwrite to replace it)");
}

std::string create_output_dir(const std::string& output) {
  const std::string dir = parent_dir(output);
  std::vector<std::string> missing;  // deepest first
  struct stat st {};
  for (std::string d = dir; stat(d.c_str(), &st) != 0 && parent_dir(d) != d; d = parent_dir(d)) missing.push_back(d);
  for (auto it = missing.rbegin(); it != missing.rend(); ++it)
    if (mkdir(it->c_str(), 0777) != 0 && errno != EEXIST)
      throw DataError("output.file '" + output + "': cannot create directory '" + *it + "': " + std::strerror(errno));
  return missing.empty() ? std::string() : dir;
}

DType stored_type(DType output) {
  if (output == DType::b8) return DType::u8;
  if (output == DType::f16 || output == DType::bf16) return DType::f32;
  return output;
}

namespace {
// HDF5 file (little-endian, as the float32 datasets always were) and memory
// types of a stored type.
hid_t file_type(DType stored) {
  switch (stored) {
    case DType::i64: return H5T_STD_I64LE;
    case DType::i32: return H5T_STD_I32LE;
    case DType::i8: return H5T_STD_I8LE;
    case DType::u8: return H5T_STD_U8LE;
    default: return H5T_IEEE_F32LE;
  }
}
hid_t memory_type(DType stored) {
  switch (stored) {
    case DType::i64: return H5T_NATIVE_INT64;
    case DType::i32: return H5T_NATIVE_INT32;
    case DType::i8: return H5T_NATIVE_INT8;
    case DType::u8: return H5T_NATIVE_UINT8;
    default: return H5T_NATIVE_FLOAT;
  }
}
}  // namespace

namespace {
// Contiguous, allocated at creation, never filled: the row bytes are the only
// writes after creation.
void set_in_place(hid_t dcpl) {
  MGI_HDF5(H5Pset_layout(dcpl, H5D_CONTIGUOUS));
  MGI_HDF5(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
  MGI_HDF5(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
}

// The contiguous data's file offset of dataset `d`, or -1.
int64_t data_offset(hid_t d) {
  const haddr_t a = H5Dget_offset(d);
  return a == HADDR_UNDEF ? -1 : static_cast<int64_t>(a);
}
}  // namespace

bool in_place_possible(const std::vector<OutputDatasetSpec>& datasets, const OutputOptions& options) {
  if (options.compression != "none" || options.chunk_rows > 0) return false;
  if (H5Tequal(H5T_NATIVE_FLOAT, H5T_IEEE_F32LE) <= 0) return false;  // the stored bytes are little-endian
  for (const auto& d : datasets)
    if (stored_type(d.dtype) != d.dtype && d.dtype != DType::b8) return false;  // bool: the same 0/1 bytes
  return true;
}

bool read_in_place_layout(const std::string& partial, const std::vector<OutputDatasetSpec>& datasets,
                          const std::string& flags_path, int64_t rows, InPlaceLayout& layout, std::string& why) {
  std::lock_guard<std::recursive_mutex> lock(h5_mutex());
  h5_quiet();
  layout = {};
  struct stat st {};
  if (stat(partial.c_str(), &st) != 0) {
    why = "no " + partial;
    return false;
  }
  H5Handle file(H5Fopen(partial.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file) {
    why = partial + " does not open: " + h5_error_message();
    return false;
  }
  // check(path, expected dims, stored type): the dataset's offset, or -1 with why.
  auto check = [&](const std::string& path, const std::vector<hsize_t>& dims, DType stored) -> int64_t {
    H5Handle d(H5Dopen2(file.get(), path.c_str(), H5P_DEFAULT), H5Dclose);
    if (!d) {
      why = "dataset " + path + " missing";
      return -1;
    }
    H5Handle dcpl(H5Dget_create_plist(d.get()), H5Pclose);
    H5Handle space(H5Dget_space(d.get()), H5Sclose);
    H5Handle type(H5Dget_type(d.get()), H5Tclose);
    if (!dcpl || !space || !type || H5Pget_layout(dcpl.get()) != H5D_CONTIGUOUS) {
      why = "dataset " + path + " is not contiguous";
      return -1;
    }
    const int rank = H5Sget_simple_extent_ndims(space.get());
    std::vector<hsize_t> have(static_cast<size_t>(std::max(rank, 0)));
    if (rank != static_cast<int>(dims.size()) || H5Sget_simple_extent_dims(space.get(), have.data(), nullptr) < 0 ||
        have != dims) {
      why = "dataset " + path + " has another shape";
      return -1;
    }
    if (H5Tequal(type.get(), file_type(stored)) <= 0) {
      why = "dataset " + path + " has another type";
      return -1;
    }
    const int64_t off = data_offset(d.get());
    if (off < 0) why = "dataset " + path + " is not allocated";
    return off;
  };
  for (const auto& spec : datasets) {
    std::vector<hsize_t> dims{static_cast<hsize_t>(rows)};
    for (int64_t e : spec.row_shape) dims.push_back(static_cast<hsize_t>(e));
    const int64_t off = check(spec.path, dims, stored_type(spec.dtype));
    if (off < 0) return false;
    layout.offsets.push_back(off);
  }
  layout.flags_offset = check(flags_path, {static_cast<hsize_t>(rows)}, DType::u8);
  if (layout.flags_offset < 0) return false;
  return true;
}

InPlaceLayout OutputWriter::flush_layout() {
  std::lock_guard<std::recursive_mutex> lock(h5_mutex());
  MGI_ASSERT(options_.contiguous, "flush_layout() needs the in-place layout");
  MGI_HDF5(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL));
  InPlaceLayout l;
  for (const auto& d : datasets_) l.offsets.push_back(data_offset(d.get()));
  if (flags_) l.flags_offset = data_offset(flags_.get());
  for (int64_t o : l.offsets) MGI_ASSERT(o >= 0 || rows_ == 0, "in-place dataset not allocated");
  return l;
}

OutputWriter::OutputWriter(const std::string& output, Reopen)
    : output_(output), partial_(partial_path(output)) {
  h5_quiet();
  std::lock_guard<std::recursive_mutex> lock(h5_mutex());
  file_ = H5Handle(H5Fopen(partial_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
  if (!file_)
    throw DataError("output.file '" + output + "': cannot reopen '" + partial_ + "': " + h5_error_message());
}

int64_t auto_chunk_rows(int64_t rows, int64_t row_bytes) {
  const int64_t target = 1 << 20;
  int64_t r = std::max<int64_t>(1, target / std::max<int64_t>(1, row_bytes));
  return std::max<int64_t>(1, std::min(r, rows));
}

OutputWriter::OutputWriter(const std::string& output, const std::vector<OutputDatasetSpec>& datasets,
                           int64_t rows, const OutputOptions& options)
    : output_(output), partial_(partial_path(output)), specs_(datasets), rows_(rows), options_(options) {
  h5_quiet();
  file_ = H5Handle(H5Fcreate(partial_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!file_)
    throw DataError("output.file '" + output + "': cannot create '" + partial_ + "': " +
                    h5_error_message());
  H5Handle lcpl = MGI_H5_OWN(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  MGI_HDF5(H5Pset_create_intermediate_group(lcpl.get(), 1));
  for (const auto& spec : specs_) {
    const int rank = static_cast<int>(spec.row_shape.size()) + 1;
    std::vector<hsize_t> dims(rank), maxdims(rank), chunk(rank);
    dims[0] = static_cast<hsize_t>(rows);
    // extendible: lets a later run append without rewriting (not in place: fixed size)
    maxdims[0] = options.contiguous ? dims[0] : H5S_UNLIMITED;
    const DType stored = stored_type(spec.dtype);
    const int64_t row_bytes = shape_numel(spec.row_shape) * static_cast<int64_t>(dtype_size(stored));
    chunk[0] = static_cast<hsize_t>(options.chunk_rows > 0 ? options.chunk_rows
                                                           : auto_chunk_rows(rows, row_bytes));
    for (int k = 1; k < rank; ++k) dims[k] = maxdims[k] = chunk[k] = spec.row_shape[k - 1];
    H5Handle space = MGI_H5_OWN(H5Screate_simple(rank, dims.data(), maxdims.data()), H5Sclose);
    H5Handle dcpl = MGI_H5_OWN(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    if (options.contiguous)
      set_in_place(dcpl.get());
    else
      MGI_HDF5(H5Pset_chunk(dcpl.get(), rank, chunk.data()));
    if (!options.contiguous && options.compression == "gzip") {
      MGI_HDF5(H5Pset_shuffle(dcpl.get()));
      MGI_HDF5(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(options.compression_level)));
    }
    hid_t d = H5Dcreate2(file_.get(), spec.path.c_str(), file_type(stored), space.get(), lcpl.get(),
                         dcpl.get(), H5P_DEFAULT);
    if (d < 0)
      throw DataError("output dataset '" + spec.path + "' in '" + partial_ + "': cannot create: " +
                      h5_error_message());
    datasets_.emplace_back(d, H5Dclose);
  }
}

OutputWriter::~OutputWriter() {
  datasets_.clear();
  flags_.reset();
  file_.reset();
}

void OutputWriter::write_rows(size_t k, int64_t first, int64_t count, const void* data) {
  if (count <= 0) return;
  MGI_ASSERT(k < datasets_.size(), "output index out of range");
  const DType from = specs_[k].dtype, stored = stored_type(from);
  std::vector<char> converted;  // float16/bfloat16 rows as float32
  if (stored != from && from != DType::b8) {  // bool bytes are already uint8 0/1
    const int64_t n = count * shape_numel(specs_[k].row_shape);
    converted.resize(static_cast<size_t>(n) * dtype_size(stored));
    convert_elements(from, data, stored, converted.data(), n);
    data = converted.data();
  }
  std::lock_guard<std::recursive_mutex> lock(h5_mutex());
  const hid_t d = datasets_[k].get();
  H5Handle file_space = MGI_H5_OWN(H5Dget_space(d), H5Sclose);
  const int rank = MGI_HDF5(H5Sget_simple_extent_ndims(file_space.get()));
  std::vector<hsize_t> start(rank, 0), cnt(rank);
  MGI_HDF5(H5Sget_simple_extent_dims(file_space.get(), cnt.data(), nullptr));
  start[0] = static_cast<hsize_t>(first);
  cnt[0] = static_cast<hsize_t>(count);
  MGI_HDF5(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, cnt.data(), nullptr));
  H5Handle mem = MGI_H5_OWN(H5Screate_simple(rank, cnt.data(), nullptr), H5Sclose);
  MGI_HDF5(H5Dwrite(d, memory_type(stored), mem.get(), file_space.get(), H5P_DEFAULT, data));
}

void OutputWriter::add_row_flags(const std::string& path) {
  std::lock_guard<std::recursive_mutex> lock(h5_mutex());
  const hsize_t dims = static_cast<hsize_t>(rows_), maxdims = options_.contiguous ? dims : H5S_UNLIMITED;
  const hsize_t chunk = static_cast<hsize_t>(std::max<int64_t>(1, std::min<int64_t>(rows_, 1 << 20)));
  H5Handle space = MGI_H5_OWN(H5Screate_simple(1, &dims, &maxdims), H5Sclose);
  H5Handle dcpl = MGI_H5_OWN(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (options_.contiguous)
    set_in_place(dcpl.get());
  else
    MGI_HDF5(H5Pset_chunk(dcpl.get(), 1, &chunk));
  if (!options_.contiguous && options_.compression == "gzip") MGI_HDF5(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(options_.compression_level)));
  H5Handle lcpl = MGI_H5_OWN(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  MGI_HDF5(H5Pset_create_intermediate_group(lcpl.get(), 1));
  flags_ = MGI_H5_OWN(H5Dcreate2(file_.get(), path.c_str(), H5T_STD_U8LE, space.get(), lcpl.get(), dcpl.get(),
                                 H5P_DEFAULT), H5Dclose);
}

void OutputWriter::write_row_flags(int64_t first, int64_t count, const uint8_t* flags) {
  if (count <= 0) return;
  MGI_ASSERT(static_cast<bool>(flags_), "row flags dataset not created");
  std::lock_guard<std::recursive_mutex> lock(h5_mutex());
  H5Handle file_space = MGI_H5_OWN(H5Dget_space(flags_.get()), H5Sclose);
  const hsize_t start = static_cast<hsize_t>(first), cnt = static_cast<hsize_t>(count);
  MGI_HDF5(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &cnt, nullptr));
  H5Handle mem = MGI_H5_OWN(H5Screate_simple(1, &cnt, nullptr), H5Sclose);
  MGI_HDF5(H5Dwrite(flags_.get(), H5T_NATIVE_UINT8, mem.get(), file_space.get(), H5P_DEFAULT, flags));
}

void OutputWriter::set_attribute(const std::string& name, const std::string& value) {
  H5Handle type = MGI_H5_OWN(H5Tcopy(H5T_C_S1), H5Tclose);
  MGI_HDF5(H5Tset_size(type.get(), H5T_VARIABLE));
  MGI_HDF5(H5Tset_cset(type.get(), H5T_CSET_UTF8));
  H5Handle space = MGI_H5_OWN(H5Screate(H5S_SCALAR), H5Sclose);
  if (MGI_HDF5(H5Aexists(file_.get(), name.c_str())) > 0) MGI_HDF5(H5Adelete(file_.get(), name.c_str()));
  H5Handle attr = MGI_H5_OWN(H5Acreate2(file_.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT,
                                        H5P_DEFAULT), H5Aclose);
  const char* p = value.c_str();
  MGI_HDF5(H5Awrite(attr.get(), type.get(), &p));
}

void OutputWriter::set_attribute(const std::string& name, int64_t value) {
  H5Handle space = MGI_H5_OWN(H5Screate(H5S_SCALAR), H5Sclose);
  if (MGI_HDF5(H5Aexists(file_.get(), name.c_str())) > 0) MGI_HDF5(H5Adelete(file_.get(), name.c_str()));
  H5Handle attr = MGI_H5_OWN(H5Acreate2(file_.get(), name.c_str(), H5T_STD_I64LE, space.get(),
                                        H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  MGI_HDF5(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value));
}

void OutputWriter::finish() {
  MGI_ASSERT(!finished_, "finish() called twice");
  set_attribute("complete", int64_t{1});  // written last: readers check it
  datasets_.clear();
  flags_.reset();
  MGI_HDF5(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL));
  file_.reset();
  if (std::rename(partial_.c_str(), output_.c_str()) != 0)
    throw DataError("output.file '" + output_ + "': cannot rename '" + partial_ +
                    "' into place: " + std::strerror(errno));
  finished_ = true;
}

}  // namespace mgi
