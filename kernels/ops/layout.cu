// Transpose as a strided copy. Flatten, Reshape and Identity need no kernel:
// the backend aliases their output to the input's storage.
#include "ops.hpp"

namespace mgi::cuda {

void transpose(const float* x, const Shape& x_shape, const std::vector<int64_t>& perm, float* y,
               cudaStream_t stream) {
  strided_copy(x, transpose_strides(x_shape, perm), y, stream);
}

}  // namespace mgi::cuda
