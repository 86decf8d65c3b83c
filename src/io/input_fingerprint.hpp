// A bounded-cost fingerprint of an input dataset's values, so that a resume
// notices an input rewritten in place (same shape, new values).
#pragma once
#include <cstdint>
#include <string>

namespace mgi {

// Rows sampled: the first and last rows and an even spread between, at most
// kInputSampleBytes in all (at least two rows however wide a row is), read in
// the file's own element type (variable-length rows: their contents). Cost is
// bounded by the sample, not the dataset: a few MiB of reads for any size.
constexpr int64_t kInputSampleBytes = int64_t{4} << 20;

// "sha256 <hex> of <n> bytes in <k> samples; storage <s> bytes" for dataset
// `dataset` of HDF5 file `file`. Throws DataError when it cannot be read.
std::string input_sample_digest(const std::string& file, const std::string& dataset);

}  // namespace mgi
