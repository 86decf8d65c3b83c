// ReduceSum / ReduceMean / ReduceL1 / ReduceL2 / ReduceSumSquare on float32,
// when the reduced axes are one run of adjacent dims (the last axis of
// LayerNorm exports and mean pooling, a sequence axis, every axis): x viewed
// as [outer, n, inner], one thread per output element summing its n values in
// order in double, then the final step in double, as the CPU backend
// (reduce.cpp) does: bitwise the same results. Other axes, other types and
// noop_with_empty_axes run on the host (host_fallback.cpp).
#include <cmath>

#include "cuda_check.hpp"
#include "cuda_kernels.hpp"
#include "launch.cuh"
#include "ops.hpp"

namespace mgi::cuda {
namespace {

enum class ReduceKind { sum, mean, l1, l2, sum_square };

template <ReduceKind K>
__global__ void reduce_kernel(const float* x, float* y, int64_t n, int64_t inner, int64_t total) {
  for (int64_t e = global_index(); e < total; e += global_stride()) {
    const int64_t o = e / inner, i = e % inner;
    const float* xr = x + o * n * inner + i;
    double acc = 0.0;
    for (int64_t j = 0; j < n; ++j) {
      const double v = xr[j * inner];
      if (K == ReduceKind::l1) acc = __dadd_rn(acc, fabs(v));
      else if (K == ReduceKind::l2 || K == ReduceKind::sum_square) acc = __dadd_rn(acc, __dmul_rn(v, v));
      else acc = __dadd_rn(acc, v);
    }
    if (K == ReduceKind::mean) acc = __ddiv_rn(acc, static_cast<double>(n));
    if (K == ReduceKind::l2) acc = sqrt(acc);
    y[e] = static_cast<float>(acc);
  }
}

template <ReduceKind K>
void reduce_node(CudaOpContext& c) {
  const Shape& xs = c.shape(0);
  std::vector<int64_t> axes = c.node.ints;
  if (c.has(1)) {
    const Tensor& t = c.host(1, "axes");
    axes.clear();
    for (int64_t i = 0; i < t.numel(); ++i)
      axes.push_back(t.dtype == DType::i32 ? t.data<int32_t>()[i] : t.data<int64_t>()[i]);
  }
  const int64_t rank = static_cast<int64_t>(xs.size());
  std::vector<bool> red(xs.size(), axes.empty());
  for (int64_t a : axes) red[static_cast<size_t>(a < 0 ? a + rank : a)] = true;
  size_t first = xs.size(), last = 0;
  for (size_t d = 0; d < xs.size(); ++d)
    if (red[d]) first = std::min(first, d), last = d;
  bool run = first < xs.size();
  for (size_t d = first; run && d <= last; ++d) run = red[d];
  if (c.in[0].dtype != DType::f32 || !run || (axes.empty() && c.node.noop_with_empty_axes)) {
    host_fallback_kernel().run(c);
    return;
  }
  const int64_t outer = dims_product(xs, 0, first), n = dims_product(xs, first, last + 1);
  const int64_t inner = dims_product(xs, last + 1, xs.size());
  const int64_t total = outer * inner;
  if (total == 0) return;
  reduce_kernel<K><<<grid_for(total), kBlock, 0, c.stream>>>(c.in[0].as<const float>(), c.out[0].as<float>(), n, inner,
                                                             total);
  MGI_CUDA(cudaGetLastError());
}

}  // namespace

void register_reduce_cuda_kernels(CudaKernelRegistry& r) {
  r.add({"", "ReduceSum", reduce_node<ReduceKind::sum>, 1u << 1});
  r.add({"", "ReduceMean", reduce_node<ReduceKind::mean>, 1u << 1});
  r.add({"", "ReduceL1", reduce_node<ReduceKind::l1>, 1u << 1});
  r.add({"", "ReduceL2", reduce_node<ReduceKind::l2>, 1u << 1});
  r.add({"", "ReduceSumSquare", reduce_node<ReduceKind::sum_square>, 1u << 1});
}

}  // namespace mgi::cuda
