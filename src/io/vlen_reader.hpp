// Ragged rows from an HDF5 variable-length dataset ([N] of vlen int32/int64 or
// any numeric base type, as h5py writes `h5py.vlen_dtype(np.int32)`): row i is
// the i-th sequence. The row lengths are read once (in chunks, so memory stays
// bounded) into a RaggedIndex, the same index values + offsets give; a group of
// rows is then read with one HDF5 read and packed back to back, converted to
// the model input's type.
#pragma once
#include <cstdint>
#include <string>

#include "dtype.hpp"
#include "h5.hpp"
#include "ragged.hpp"

namespace mgi {

// True when `dataset` in `file` exists and is a variable-length sequence
// dataset; false on anything else (the ordinary reader then says what is wrong).
bool is_vlen_dataset(const std::string& file, const std::string& dataset);

class VlenReader {
 public:
  // Throws DataError naming the dataset: not 1-D, or a base type that is not
  // an integer or float.
  VlenReader(const std::string& file, const std::string& dataset, const std::string& what = "input dataset");

  int64_t rows() const { return rows_; }
  const std::string& file() const { return file_; }
  const std::string& dataset() const { return dataset_; }
  const std::string& dtype() const { return dtype_; }  // "vlen int32"
  const std::string& base_dtype() const { return base_; }  // "int32"

  // Reads every row's length, `chunk` rows at a time.
  RaggedIndex index(int64_t chunk = 1 << 16) const;

  // Rows [first, first + count) packed back to back into dst as `to`; their
  // lengths must be those of `index` (checked: a file changed under the run is
  // a DataError, never an overrun).
  void read_packed(int64_t first, int64_t count, const RaggedIndex& index, DType to, void* dst) const;

 private:
  std::string file_, dataset_, dtype_, base_;
  int64_t rows_ = 0;
  H5Handle fid_, did_, space_, base_type_;
};

}  // namespace mgi
