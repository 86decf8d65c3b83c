// Sizes shared by the CUDA backend's files: buffer alignment, bytes of a
// typed value. (Which ops alias their input is the registry's OpDef::alias.)
#pragma once
#include <cstddef>
#include <cstdio>
#include <string>

#include "graph.hpp"
#include "tensor.hpp"

namespace mgi::cuda {

constexpr size_t kAlign = 256;  // cudaMalloc's own alignment; keeps every buffer vector-aligned

inline size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

inline size_t typed_bytes(const Shape& s, DType t) { return static_cast<size_t>(shape_numel(s)) * dtype_size(t); }

inline std::string gib(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", double(bytes) / double(1ull << 30));
  return buf;
}

}  // namespace mgi::cuda
