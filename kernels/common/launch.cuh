// Launch geometry shared by the kernels: 256-thread blocks and grid-stride
// loops, so a bounded grid covers any element count (64-bit indices).
#pragma once
#include <algorithm>
#include <cstdint>

namespace mgi::cuda {

constexpr int kBlock = 256;
// Enough blocks to fill any current GPU several times over; grid-stride loops do the rest.
constexpr int64_t kMaxGrid = int64_t(1) << 16;

inline unsigned grid_for(int64_t items, int64_t per_block = kBlock) {
  const int64_t blocks = (items + per_block - 1) / per_block;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(blocks, kMaxGrid)));
}

__device__ inline int64_t global_index() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ inline int64_t global_stride() { return int64_t(gridDim.x) * blockDim.x; }

}  // namespace mgi::cuda
