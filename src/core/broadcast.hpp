// numpy-style broadcasting of two shapes, shared by the CPU and CUDA backends
// and by shape inference, so all three agree on what "broadcast" means.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor.hpp"

namespace mgi {

struct Broadcast {
  Shape out;                        // broadcast result shape
  std::vector<int64_t> a_strides;   // element strides of a over out's dims (0 where broadcast)
  std::vector<int64_t> b_strides;   // same for b
};

// Throws ModelError("cannot broadcast [..] with [..]") when incompatible.
Broadcast broadcast_shapes(const Shape& a, const Shape& b);

}  // namespace mgi
