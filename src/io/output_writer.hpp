// Writes the prediction datasets ([N, ...], each in its model output's type:
// see OutputDatasetSpec) of one run. The file is
// created as "<output>.partial" and only renamed to its final name by finish(),
// after the completion attribute, so a killed run never leaves a file that
// looks complete.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "h5.hpp"
#include "tensor.hpp"

namespace mgi {

struct OutputDatasetSpec {
  std::string path;         // "/y"
  Shape row_shape;          // per-row shape (no batch dim)
  DType dtype = DType::f32; // the model output's type: what write_rows() takes
  int64_t row_bytes() const { return shape_numel(row_shape) * static_cast<int64_t>(dtype_size(dtype)); }
};

// The element type a dataset is stored with: the output's own, except bool
// (stored as uint8 0/1: HDF5 has no bool, and h5py/numpy read uint8 as is) and
// float16/bfloat16 (stored as float32, converted on write: bfloat16 has no
// HDF5 type readers agree on, and float32 holds both exactly).
DType stored_type(DType output);

struct OutputOptions {
  std::string compression = "none";  // none | gzip
  int compression_level = 4;
  int64_t chunk_rows = 0;  // 0 = about 1 MiB per chunk
  // In-place layout (see docs/DURABILITY.md): contiguous datasets of fixed
  // size, space allocated at creation (H5D_ALLOC_TIME_EARLY), no fill
  // written, so that after flush() no row write touches HDF5 metadata and
  // rows can be written with plain pwrite at data_offsets().
  bool contiguous = false;
};

// True when every output of `datasets` can be written in place: its stored
// type is its own (no conversion on write) and `options` ask for no
// compression and no chunk size.
bool in_place_possible(const std::vector<OutputDatasetSpec>& datasets, const OutputOptions& options);

// Where the rows of an in-place file live: the byte offset in the file of
// each dataset's contiguous data (row r of dataset k at offsets[k] + r *
// row_bytes), and of the uint8 row-flags dataset.
struct InPlaceLayout {
  std::vector<int64_t> offsets;
  int64_t flags_offset = -1;
};

// Reads the layout of an existing in-place `partial` file and checks that
// its structure is what this run would create (every dataset present,
// contiguous, allocated, of `rows` rows of the right shape and type, and the
// flags dataset). Returns false (with `why`) when it is not, or the file does
// not open: the file must then be created anew.
bool read_in_place_layout(const std::string& partial, const std::vector<OutputDatasetSpec>& datasets,
                          const std::string& flags_path, int64_t rows, InPlaceLayout& layout, std::string& why);

// Name of the in-progress file for `output`.
std::string partial_path(const std::string& output);

// Checks before any work: output != input, parent directory exists and is
// writable (or is missing and can be made: its nearest existing ancestor is a
// writable directory), and an existing output is only replaced with
// `overwrite`. Throws DataError naming the file. Creates nothing.
void check_output_path(const std::string& output, const std::string& input, bool overwrite);
// Makes the output's missing parent directories (mkdir -p) once every check
// passed and the run is about to write; returns the directory when it made
// any, "" when it was there. Throws DataError naming the one it cannot make.
std::string create_output_dir(const std::string& output);

class OutputWriter {
 public:
  OutputWriter(const std::string& output, const std::vector<OutputDatasetSpec>& datasets, int64_t rows,
               const OutputOptions& options);
  ~OutputWriter();  // unfinished: closes the partial file, never renames it
  // Reopens an existing "<output>.partial" to set attributes and finish().
  struct Reopen {};
  OutputWriter(const std::string& output, Reopen);
  OutputWriter(const OutputWriter&) = delete;
  OutputWriter& operator=(const OutputWriter&) = delete;

  // Writes rows [first, first+count) of dataset k from contiguous elements of its spec's dtype.
  void write_rows(size_t k, int64_t first, int64_t count, const void* data);
  // A uint8 [rows] dataset beside the predictions (per-row status flags).
  void add_row_flags(const std::string& path);
  void write_row_flags(int64_t first, int64_t count, const uint8_t* flags);
  // In-place layout: flushes all metadata (H5Fflush) and returns where rows go.
  InPlaceLayout flush_layout();
  void set_attribute(const std::string& name, const std::string& value);
  void set_attribute(const std::string& name, int64_t value);
  // Writes the completion mark, closes the file and renames it into place.
  void finish();

  const std::string& path() const { return output_; }

 private:
  std::string output_, partial_;
  std::vector<OutputDatasetSpec> specs_;
  H5Handle file_;
  std::vector<H5Handle> datasets_;
  H5Handle flags_;
  int64_t rows_ = 0;
  OutputOptions options_;
  bool finished_ = false;
};

// Chunk rows for a dataset of `rows` rows of `row_bytes`: about 1 MiB, >= 1.
int64_t auto_chunk_rows(int64_t rows, int64_t row_bytes);

}  // namespace mgi
