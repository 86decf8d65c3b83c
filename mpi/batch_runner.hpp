// Runs a row range through the backend in batches, reading the input and
// placing each written output's rows into caller buffers. Shared by static
// windows and dynamic tasks so both compute rows the same way. Ragged input
// (io.ragged): rows are taken in groups of at most kRaggedGroupBatches batches,
// sorted by length within the group, padded per batch to its longest row, and
// their results scattered back to input order.
#pragma once
#include <cstdint>
#include <vector>

#include "backend.hpp"
#include "dataset_reader.hpp"
#include "model_io.hpp"
#include "partition.hpp"
#include "row_map.hpp"
#include "run_report.hpp"

namespace mgi {

class BatchRunner {
 public:
  BatchRunner(const DatasetReader& reader, Backend& backend, const Graph& graph, const ModelIo& io,
              int64_t batch_size);
  // Computes rows [rows.begin, rows.end); out[d] receives rows x (floats per
  // row of written output d), contiguous. Updates read/compute/rows/batches.
  void run(const Slice& rows, const std::vector<float*>& out, RankStats& st);
  // Same for virtual rows of `map` (rows still to do): one run() per physical piece.
  void run_mapped(const RowMap& map, const Slice& virtual_rows, const std::vector<float*>& out, RankStats& st);
  int64_t floats_per_row(size_t d) const { return written_floats_[d]; }

  // Rows sorted together (bounds the values held in memory to this many batches).
  static constexpr int64_t kRaggedGroupBatches = 16;

 private:
  void run_ragged(const Slice& rows, const std::vector<float*>& out, RankStats& st);

  const DatasetReader& reader_;
  Backend& backend_;
  const ModelIo& io_;
  int64_t batch_;
  std::vector<int64_t> out_floats_;      // per graph output
  std::vector<int64_t> written_floats_;  // per written dataset
  std::vector<int> written_as_;          // graph output -> written dataset or -1
  std::vector<float> input_;
  std::vector<std::vector<float>> scratch_;
  std::vector<const float*> in_ptrs_;
  std::vector<float*> out_ptrs_;
  // Ragged input only.
  std::vector<float> values_, mask_;
  std::vector<std::vector<float>> batch_out_;  // per graph output, batch x floats
  std::vector<Shape> in_shapes_;
};

}  // namespace mgi
