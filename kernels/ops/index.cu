// Gather along any axis, for any element type, with int32 or int64 indices.
//
// Out-of-range indices: ONNX leaves them undefined; clamping would hide bad
// data (token ids beyond the vocabulary) behind plausible outputs. Indices the
// host knows (constants, host values) are checked before the launch and fail
// prepare()'s warm-up or the batch at once. Indices that are batch data are
// checked by the kernel: it writes zeros for the element and records the node
// in the lane's error flag, which the backend reads back with the batch's
// outputs and reports as a data error naming the node (CudaBackend::check_errors).
#include <cstdint>

#include "cuda_check.hpp"
#include "cuda_kernels.hpp"
#include "launch.cuh"
#include "ops.hpp"

namespace mgi::cuda {
namespace {

template <class W, class I>
__global__ void gather_kernel(const W* x, int64_t axis_dim, int64_t inner, const I* idx, int64_t count, W* y,
                              int64_t n, int* error_flag, int error_code) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    const int64_t t = i / inner, e = i - t * inner;
    const int64_t o = t / count, j = t - o * count;
    int64_t k = static_cast<int64_t>(idx[j]);
    if (k < 0) k += axis_dim;
    if (k < 0 || k >= axis_dim) {
      atomicCAS(error_flag, 0, error_code);  // the first failing node of the batch is reported
      y[i] = W{0};
      continue;
    }
    y[i] = x[(o * axis_dim + k) * inner + e];
  }
}

template <class W>
void launch(const void* x, int64_t outer, int64_t axis_dim, int64_t inner, const void* idx, DType idx_type,
            int64_t count, void* y, int* flag, int code, cudaStream_t s) {
  const int64_t n = outer * count * inner;
  if (n == 0) return;
  if (idx_type == DType::i64)
    gather_kernel<<<grid_for(n), kBlock, 0, s>>>(static_cast<const W*>(x), axis_dim, inner,
                                                 static_cast<const int64_t*>(idx), count, static_cast<W*>(y), n,
                                                 flag, code);
  else
    gather_kernel<<<grid_for(n), kBlock, 0, s>>>(static_cast<const W*>(x), axis_dim, inner,
                                                 static_cast<const int32_t*>(idx), count, static_cast<W*>(y), n,
                                                 flag, code);
  MGI_CUDA_LAUNCH();
}

}  // namespace

void gather(const void* x, int64_t outer, int64_t axis_dim, int64_t inner, const void* idx, DType idx_type,
            int64_t count, void* y, size_t elem_size, int* error_flag, int error_code, cudaStream_t stream) {
  MGI_ASSERT(idx_type == DType::i64 || idx_type == DType::i32, "gather: indices must be int32 or int64");
  switch (elem_size) {
    case 1: return launch<uint8_t>(x, outer, axis_dim, inner, idx, idx_type, count, y, error_flag, error_code, stream);
    case 2: return launch<uint16_t>(x, outer, axis_dim, inner, idx, idx_type, count, y, error_flag, error_code, stream);
    case 4: return launch<uint32_t>(x, outer, axis_dim, inner, idx, idx_type, count, y, error_flag, error_code, stream);
    case 8: return launch<uint64_t>(x, outer, axis_dim, inner, idx, idx_type, count, y, error_flag, error_code, stream);
  }
  MGI_ASSERT(false, "gather: element size " + std::to_string(elem_size));
}

namespace {

void gather_node(CudaOpContext& c) {
  c.want(1, {DType::i64, DType::i32});
  const Shape& x = c.shape(0);
  const size_t ax = norm_axis(c.node.axis, x.size());
  const int64_t axis_dim = x[ax];
  const int64_t count = c.in[1].numel();
  if (const Tensor* idx = c.in[1].host) {
    for (int64_t j = 0; j < count; ++j) {
      const int64_t k = idx->int_at(j);
      if (k < -axis_dim || k >= axis_dim)
        c.fail("index " + std::to_string(k) + " is out of range for axis " + std::to_string(ax) + " of size " +
               std::to_string(axis_dim));
    }
  }
  gather(c.in[0].data, dims_product(x, 0, ax), axis_dim, dims_product(x, ax + 1, x.size()), c.in[1].data,
         c.in[1].dtype, count, c.out[0].data, c.in[0].elem_size(), c.error_flag, c.error_code, c.stream);
}

}  // namespace

void register_index_cuda_kernels(CudaKernelRegistry& r) { r.add({"", "Gather", gather_node}); }

}  // namespace mgi::cuda
