// Runs a row range through the backend in batches, reading the input and
// placing each written output's rows into caller buffers. Shared by static
// windows and dynamic tasks so both compute rows the same way.
//
// Pipeline: a reader thread (read_ahead.hpp) reads the next batches from HDF5
// into a ring of host buffers from the backend (page-locked on CUDA) while the
// backend computes; batches go through Backend::submit()/collect(), so on CUDA
// up to pipeline_depth() batches overlap their copies and compute. A ring
// buffer goes back to the reader only when its batch is collected. On an error
// or interrupt the backend is drained and the reader stopped before anything
// is freed. MGI_READAHEAD=0 reads on the calling thread instead (for measuring).
//
// Buffers are bytes: the input rows in the model input's type (read converted
// by the DatasetReader), each output in the graph output's type. Each model
// input is fed as ModelIo::feeds says: rows of its own dataset, or a constant
// (input.fill) written once. A model that fixes its batch (io.fixed_batch)
// gets exactly that many rows per batch: a short one is padded with copies of
// its last row and the padding rows' outputs are dropped.
//
// Ragged input (io.ragged): rows are taken in groups of at most
// kRaggedGroupBatches batches (a group's values are read ahead the same way),
// sorted by length within the group, padded per batch to its longest row, and
// their results scattered back to input order. With io.equal_length (no mask)
// a batch holds rows of one length only, so no row is ever padded.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "backend.hpp"
#include "dataset_reader.hpp"
#include "model_io.hpp"
#include "partition.hpp"
#include "read_ahead.hpp"
#include "vlen_reader.hpp"
#include "row_map.hpp"
#include "run_report.hpp"

namespace mgi {

// The readers behind ModelIo::feeds: datasets[feed.source] for each dataset-fed
// input (ragged values + offsets: datasets[0] holds the values), `vlen` for
// ragged rows of a variable-length dataset.
struct InputReaders {
  std::vector<const DatasetReader*> datasets;
  const VlenReader* vlen = nullptr;
};

class BatchRunner {
 public:
  BatchRunner(const InputReaders& readers, Backend& backend, const Graph& graph, const ModelIo& io,
              int64_t batch_size);
  BatchRunner(const DatasetReader& reader, Backend& backend, const Graph& graph, const ModelIo& io,
              int64_t batch_size)
      : BatchRunner(InputReaders{{&reader}, nullptr}, backend, graph, io, batch_size) {}
  ~BatchRunner();
  BatchRunner(const BatchRunner&) = delete;
  BatchRunner& operator=(const BatchRunner&) = delete;

  // Computes rows [rows.begin, rows.end); out[d] receives rows x row_bytes(d)
  // bytes (written output d in its type), contiguous. Updates read/compute/rows/batches
  // (read_s: time this thread waited for input, i.e. reading not hidden by the read-ahead).
  void run(const Slice& rows, const std::vector<void*>& out, RankStats& st);
  // Same for virtual rows of `map` (rows still to do): its physical pieces in one pipeline.
  void run_mapped(const RowMap& map, const Slice& virtual_rows, const std::vector<void*>& out, RankStats& st);
  int64_t row_bytes(size_t d) const { return written_bytes_[d]; }

  // Rows sorted together (bounds the values held in memory to this many batches).
  static constexpr int64_t kRaggedGroupBatches = 16;
  // Host buffers in the input ring for a backend of this pipeline depth.
  static int ring_slots(int pipeline_depth);
  // False when MGI_READAHEAD=0 (the debug switch for measurements).
  static bool readahead_enabled();

 private:
  struct Piece {  // a contiguous physical row range and where its outputs go
    int64_t begin = 0, end = 0;
    std::vector<char*> out;  // per written dataset, row `begin` of the piece
  };
  struct Job {  // one batch
    int64_t first = 0, rows = 0;
    const Piece* piece = nullptr;
  };
  void run_pieces(const std::vector<Piece>& pieces, RankStats& st);
  void run_ragged(const Slice& rows, const std::vector<char*>& out, RankStats& st);
  void ragged_group(const std::vector<char>& values, int64_t g0, int64_t g1, const Slice& rows,
                    const std::vector<char*>& out, RankStats& st);

  InputReaders readers_;
  Backend& backend_;
  const ModelIo& io_;
  int64_t batch_;
  std::vector<DType> in_types_;          // per graph input: the model's
  std::vector<int64_t> out_bytes_;       // per graph output, one row
  std::vector<int64_t> written_bytes_;   // per written dataset, one row
  std::vector<int> written_as_;          // graph output -> written dataset or -1
  std::vector<std::vector<char>> scratch_;
  std::vector<const void*> in_ptrs_;
  std::vector<void*> out_ptrs_;
  // Input ring (fixed-shape input): one batch of rows per slot and graph input
  // (a fill input's buffer holds its constant from the start).
  std::vector<std::vector<HostBuffer>> ring_;
  std::vector<int64_t> in_row_bytes_;        // per graph input, one row
  std::vector<std::vector<char>> pad_out_;   // fixed batch: a padded batch's outputs, per graph output
  std::unique_ptr<ReadAhead> ahead_;     // reader thread (or inline reads with MGI_READAHEAD=0)
  std::unique_ptr<ReadAhead> inline_;    // runs of one batch: nothing to overlap, read in place
  // Ragged input only.
  struct ShapedSlot {  // one padded batch in flight: its inputs, outputs and rows
    std::vector<char> input, mask;
    std::vector<std::vector<char>> out;  // per graph output, batch x out_bytes_
    std::vector<Shape> shapes;
    std::vector<const void*> in;
    std::vector<void*> outp;
    size_t first = 0;  // index into the group's length order
    int64_t rows = 0;
  };
  std::vector<ShapedSlot> shaped_;  // backend.shaped_pipeline_depth() slots
  std::vector<std::vector<char>> fill_;       // per graph input: its constant, longest batch (fill inputs)
  std::vector<std::vector<char>> values_;     // per ring slot: one group's values
};

}  // namespace mgi
