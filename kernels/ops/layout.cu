// Layout kernels for any element type (moved as 1-, 2-, 4- or 8-byte words):
// Transpose, Expand and Slice as strided gathers, Concat as one column-block
// copy per input. Reshape, Flatten, Squeeze, Unsqueeze, Identity and Dropout
// have no kernel: the backend aliases their output to the input's storage
// (OpDef::alias).
#include <cstdint>

#include "cuda_check.hpp"
#include "cuda_kernels.hpp"
#include "launch.cuh"
#include "ops.hpp"
#include "strided.hpp"

namespace mgi::cuda {
namespace {

template <class W, int R>
__global__ void gather_strided(const W* x, W* y, int64_t n, Strided st) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    int64_t oa, ob;
    strided_offsets<R>(st, i, oa, ob);
    y[i] = x[oa];
  }
}

template <class W>
void launch_gather(const void* xv, const Strided& st, void* yv, cudaStream_t s) {
  const int64_t n = st.numel();
  if (n == 0) return;
  const W* x = static_cast<const W*>(xv);
  W* y = static_cast<W*>(yv);
  const unsigned grid = grid_for(n);
  switch (st.rank) {
    case 1: gather_strided<W, 1><<<grid, kBlock, 0, s>>>(x, y, n, st); break;
    case 2: gather_strided<W, 2><<<grid, kBlock, 0, s>>>(x, y, n, st); break;
    case 3: gather_strided<W, 3><<<grid, kBlock, 0, s>>>(x, y, n, st); break;
    default: gather_strided<W, 0><<<grid, kBlock, 0, s>>>(x, y, n, st); break;
  }
  MGI_CUDA_LAUNCH();
}

template <class W>
__global__ void concat_kernel(const W* x, int64_t outer, int64_t x_cols, W* y, int64_t y_cols, int64_t col) {
  const int64_t n = outer * x_cols;
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    const int64_t o = i / x_cols, j = i - o * x_cols;
    y[o * y_cols + col + j] = x[i];
  }
}

template <class W>
void launch_concat(const void* x, int64_t outer, int64_t x_cols, void* y, int64_t y_cols, int64_t col,
                   cudaStream_t s) {
  concat_kernel<<<grid_for(outer * x_cols), kBlock, 0, s>>>(static_cast<const W*>(x), outer, x_cols,
                                                            static_cast<W*>(y), y_cols, col);
  MGI_CUDA_LAUNCH();
}

}  // namespace

void strided_gather(const void* x, const Strided& st, void* y, size_t elem_size, cudaStream_t stream) {
  switch (elem_size) {
    case 1: return launch_gather<uint8_t>(x, st, y, stream);
    case 2: return launch_gather<uint16_t>(x, st, y, stream);
    case 4: return launch_gather<uint32_t>(x, st, y, stream);
    case 8: return launch_gather<uint64_t>(x, st, y, stream);
  }
  MGI_ASSERT(false, "strided_gather: element size " + std::to_string(elem_size));
}

void transpose(const void* x, const Shape& x_shape, const std::vector<int64_t>& perm, void* y, size_t elem_size,
               cudaStream_t stream) {
  strided_gather(x, transpose_strides(x_shape, perm), y, elem_size, stream);
}

void concat_part(const void* x, int64_t outer, int64_t x_cols, void* y, int64_t y_cols, int64_t col,
                 size_t elem_size, cudaStream_t stream) {
  if (outer == 0 || x_cols == 0) return;
  switch (elem_size) {
    case 1: return launch_concat<uint8_t>(x, outer, x_cols, y, y_cols, col, stream);
    case 2: return launch_concat<uint16_t>(x, outer, x_cols, y, y_cols, col, stream);
    case 4: return launch_concat<uint32_t>(x, outer, x_cols, y, y_cols, col, stream);
    case 8: return launch_concat<uint64_t>(x, outer, x_cols, y, y_cols, col, stream);
  }
  MGI_ASSERT(false, "concat_part: element size " + std::to_string(elem_size));
}

namespace {

// ---- node-level kernels ----

void transpose_node(CudaOpContext& c) {
  const Shape& x = c.shape(0);
  std::vector<int64_t> perm = c.node.perm;
  if (perm.empty())  // ONNX default: reverse the dims
    for (size_t k = x.size(); k-- > 0;) perm.push_back(static_cast<int64_t>(k));
  transpose(c.in[0].data, x, perm, c.out[0].data, c.in[0].elem_size(), c.stream);
}

// The target shape (input 1) is already in the output's shape (Graph::plan).
void expand_node(CudaOpContext& c) {
  strided_gather(c.in[0].data, expand_strides(c.shape(0), *c.out[0].shape), c.out[0].data, c.in[0].elem_size(),
                 c.stream);
}

void concat_node(CudaOpContext& c) {
  const Shape& y = *c.out[0].shape;
  const size_t ax = norm_axis(c.node.axis, y.size());
  const int64_t outer = dims_product(y, 0, ax), y_cols = dims_product(y, ax, y.size());
  int64_t col = 0;
  for (size_t k = 0; k < c.in.size(); ++k) {
    if (!c.in[k].present()) continue;
    if (c.in[k].dtype != c.out[0].dtype) c.fail("inputs of different types");
    const Shape& x = c.shape(k);
    const int64_t x_cols = dims_product(x, ax, x.size());
    concat_part(c.in[k].data, outer, x_cols, c.out[0].data, y_cols, col, c.out[0].elem_size(), c.stream);
    col += x_cols;
  }
}

// Slice (opset >= 10: starts, ends, axes, steps are inputs known on the host).
// The output shape comes from the plan; only each axis' first element and step
// are needed, clamped as ONNX says.
void slice_node(CudaOpContext& c) {
  if (c.in.size() < 3) c.fail("Slice with starts/ends as attributes (opset < 10) is not supported on CUDA");
  const Shape& x = c.shape(0);
  const size_t rank = x.size();
  const std::vector<int64_t> starts = c.host(1, "starts").ints();
  std::vector<int64_t> axes, steps;
  if (c.has(3)) axes = c.host(3, "axes").ints();
  if (c.has(4)) steps = c.host(4, "steps").ints();
  if (axes.empty())
    for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size()) c.fail("starts, axes and steps differ in length");
  std::vector<int64_t> first(rank, 0), step(rank, 1);
  for (size_t q = 0; q < starts.size(); ++q) {
    const size_t ax = norm_axis(axes[q], rank);
    if (ax >= rank) c.fail("axis out of range");
    const int64_t dim = x[ax], st = steps[q];
    if (st == 0) c.fail("a step of 0");
    int64_t s = starts[q] < 0 ? starts[q] + dim : starts[q];
    s = st > 0 ? std::min(std::max<int64_t>(s, 0), dim) : std::min(std::max<int64_t>(s, 0), dim - 1);
    first[ax] = s;
    step[ax] = st;
  }
  int64_t base = 0;
  const Strided st = slice_strides(x, first, step, *c.out[0].shape, base);
  const size_t es = c.in[0].elem_size();
  strided_gather(static_cast<const char*>(c.in[0].data) + base * static_cast<int64_t>(es), st, c.out[0].data, es,
                 c.stream);
}

}  // namespace

void register_layout_cuda_kernels(CudaKernelRegistry& r) {
  r.add({"", "Transpose", transpose_node});
  r.add({"", "Expand", expand_node, 1u << 1});
  r.add({"", "Concat", concat_node});
  r.add({"", "Slice", slice_node, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4)});
}

}  // namespace mgi::cuda
