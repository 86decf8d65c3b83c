// Reads rows of an input HDF5 dataset [N, ...] converted to a model input's
// element type (HDF5 converts any integer or float type). Each rank opens the
// file itself and reads only the hyperslabs of its rows.
#pragma once
#include <cstdint>
#include <string>

#include "h5.hpp"
#include "tensor.hpp"

namespace mgi {

class DatasetReader {
 public:
  // Throws DataError naming the file or dataset when it cannot be opened, is
  // not a numeric dataset, or has rank 0. `what` names the dataset's role in
  // messages ("input dataset", "input.cost dataset", ...).
  DatasetReader(const std::string& file, const std::string& dataset, const std::string& what = "input dataset");

  const Shape& shape() const { return shape_; }
  int64_t rows() const { return shape_[0]; }
  int64_t row_elements() const { return row_elements_; }
  const std::string& dtype() const { return dtype_; }  // "uint8", "float64", ...
  const std::string& file() const { return file_; }
  const std::string& dataset() const { return dataset_; }

  // Reads rows [first, first+count) into dst: count * row_elements elements of
  // `to` (HDF5's conversion; float -> integer truncates, out of range saturates).
  void read_rows(int64_t first, int64_t count, DType to, void* dst) const;
  void read_rows(int64_t first, int64_t count, float* dst) const { read_rows(first, count, DType::f32, dst); }

 private:
  std::string file_, dataset_, dtype_;
  Shape shape_;
  int64_t row_elements_ = 0;
  void read_native(int64_t first, int64_t count, hid_t mem_type, void* dst) const;
  H5Handle fid_, did_, space_;
};

// "uint8", "int64", "float32", ... for a numeric HDF5 type; "" for anything else.
std::string h5_numeric_type_name(hid_t type);

}  // namespace mgi
