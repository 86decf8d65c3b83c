// `runtime.batch_size: auto`: the largest batch whose buffers fit the memory
// the backend draws from, with headroom. Pure arithmetic, so it is tested
// without a device; the caller measures memory and sizes (job.cpp).
//
//   GPU:  budget = free / ranks sharing the GPU x 0.9 - 512 MiB - weights
//   host: budget = min(1 GiB, total / 8 / ranks on the node, free / 2 / ranks on the node)
//   rows = budget / bytes per row, rounded down to a multiple of 64 when >= 64,
//          then at most 65536, at most max(1024, a quarter of the largest slice
//          or task) so reading overlaps compute, at most that slice, at least 1.
//
// Bytes per row are the model's activations (every computed value, or the
// backend's own buffer plan when it can give one) plus the pipeline's copies of
// one input and output row (ring buffers, device staging).
#pragma once
#include <cstdint>
#include <string>

namespace mgi {

struct AutoBatchInput {
  bool device = false;        // GPU memory (headroom rule) or host memory (budget rule)
  int64_t free_bytes = 0;     // free now
  int64_t total_bytes = 0;
  int sharing = 1;            // ranks drawing from the same memory (GPU sharing, or ranks on the node)
  int64_t fixed_bytes = 0;    // batch-independent bytes still to allocate (weights); GPU only
  int64_t row_bytes = 1;      // bytes per batch row
  int64_t rows = 0;           // largest slice or task this rank runs (0: none)
  // Host memory also holds the read-ahead ring on GPU runs: optional second bound.
  int64_t host_budget_bytes = 0;  // 0: none
  int64_t host_row_bytes = 0;
  int64_t cap = 65536;
};

struct AutoBatch {
  int64_t rows = 1;
  int64_t budget_bytes = 0;   // what the batch may use
  std::string limit;          // what bounded it: memory | host memory | cap | pipeline | rows
};

AutoBatch auto_batch(const AutoBatchInput& in);

// The plan's note: "auto: 1.2 GiB of 79.1 GiB free, 2.1 MiB/row; bounded by memory".
std::string auto_batch_note(const AutoBatchInput& in, const AutoBatch& out);

}  // namespace mgi
