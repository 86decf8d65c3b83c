// Ragged (variable-length) rows: row i of the input is values[offsets[i]:offsets[i+1]]
// of a values dataset [total, ...]. The offsets ([N+1] integers) are checked and
// kept in memory on every rank: 8 bytes per row, so 1e9 rows need 8 GB per rank.
// Batches of ragged rows are padded to their longest row; grouping rows by length
// (length_order) keeps the padding small.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "dtype.hpp"

namespace mgi {

struct RaggedIndex {
  std::vector<int64_t> offsets;  // N+1 entries, offsets[0] = 0, non-decreasing
  int64_t max_length = 0;        // longest row

  int64_t rows() const { return offsets.empty() ? 0 : static_cast<int64_t>(offsets.size()) - 1; }
  int64_t length(int64_t row) const { return offsets[row + 1] - offsets[row]; }
};

// Checks offsets[first .. first+count) (global indices) continuing from the
// previous entry `prev` (ignored when first == 0). Throws DataError naming
// `what` (e.g. "input.offsets dataset '/offsets' in 'f.h5'") and the first bad
// index: offsets[0] != 0, a negative entry, or a decrease.
void check_offsets_chunk(const int64_t* values, int64_t first, int64_t count, int64_t prev,
                         const std::string& what);
// Whole-vector check: at least one entry, the chunk rules above, and the last
// entry equal to the number of value rows.
void check_offsets(const std::vector<int64_t>& offsets, int64_t value_rows, const std::string& what);

// Reads and checks the offsets dataset (1-D, integer dtype) in chunks of
// `chunk` entries. value_rows: rows of the values dataset. Throws DataError.
RaggedIndex read_ragged_index(const std::string& file, const std::string& dataset, int64_t value_rows,
                              int64_t chunk = 1 << 20);

// Rows [begin, end) ordered by length, longest first; ties keep row order, so
// the order (and every batch cut from it) is deterministic.
std::vector<int64_t> length_order(const RaggedIndex& index, int64_t begin, int64_t end);

// Pads rows order[first, first + n) of a group whose values (tok_bytes per
// token, in the data input's type) start at token v0 into input [n, seq, tok]
// (zero bytes: 0 in every type) and, unless mask is null, mask [n, seq] of
// `mask_type` (1 on real tokens, 0 on padding: float32 for most exports, int64
// for Hugging Face ones); seq is the first row's length (the longest, in length
// order), at least 1. Returns seq.
// pad: one element of the data input's type (elem_size bytes) written at every
// padded position instead of zero bytes (input.pad_value); null: zeros.
int64_t pad_ragged_batch(const RaggedIndex& index, const void* values, int64_t v0,
                         const std::vector<int64_t>& order, size_t first, int64_t n, int64_t tok_bytes, void* input,
                         DType mask_type, void* mask, const void* pad = nullptr, size_t elem_size = 0);

// Rows order[first ..] that go into the next batch of at most `batch` rows:
// all of them up to `batch`, or with `equal_length` only the leading rows of
// the same length as order[first] (a model that takes no mask, whose rows must
// not be padded). At least 1 when rows remain.
int64_t ragged_batch_rows(const RaggedIndex& index, const std::vector<int64_t>& order, size_t first, int64_t batch,
                          bool equal_length);

}  // namespace mgi
