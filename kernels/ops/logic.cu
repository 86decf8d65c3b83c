// Equal (bool output, numpy broadcasting; floats compare as values: -0 == +0,
// NaN != NaN; float16/bfloat16 through float32) and Where (three-way
// broadcast, any element type).
#include <cstdint>

#include "cuda_check.hpp"
#include "cuda_kernels.hpp"
#include "dtype_bits.hpp"
#include "launch.cuh"
#include "ops.hpp"
#include "strided.hpp"

namespace mgi::cuda {
namespace {

// Loads an element as the value Equal compares.
template <class T>
struct Plain {
  __device__ T operator()(T v) const { return v; }
};
struct Half {
  __device__ float operator()(uint16_t v) const { return bits::half_to_float(v); }
};
struct Bf16 {
  __device__ float operator()(uint16_t v) const { return bits::bf16_to_float(v); }
};

template <class T, class L>
__global__ void equal_kernel(const T* a, const T* b, uint8_t* y, int64_t n, Strided st, L load) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    int64_t oa, ob;
    strided_offsets<0>(st, i, oa, ob);
    y[i] = load(a[oa]) == load(b[ob]) ? 1 : 0;
  }
}

template <class T, class L>
void launch_equal(const void* a, const void* b, void* y, const Strided& st, cudaStream_t s, L load) {
  const int64_t n = st.numel();
  if (n == 0) return;
  equal_kernel<<<grid_for(n), kBlock, 0, s>>>(static_cast<const T*>(a), static_cast<const T*>(b),
                                              static_cast<uint8_t*>(y), n, st, load);
  MGI_CUDA_LAUNCH();
}

template <class W>
__global__ void where_kernel(const uint8_t* c, const W* x, const W* f, W* y, int64_t n, Strided3 st) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    int64_t oc, ox, of;
    strided3_offsets(st, i, oc, ox, of);
    y[i] = c[oc] ? x[ox] : f[of];
  }
}

template <class W>
void launch_where(const void* c, const void* x, const void* f, void* y, const Strided3& st, cudaStream_t s) {
  const int64_t n = st.numel();
  if (n == 0) return;
  where_kernel<<<grid_for(n), kBlock, 0, s>>>(static_cast<const uint8_t*>(c), static_cast<const W*>(x),
                                              static_cast<const W*>(f), static_cast<W*>(y), n, st);
  MGI_CUDA_LAUNCH();
}

}  // namespace

void equal(DType t, const void* a, const Shape& a_shape, const void* b, const Shape& b_shape, void* y,
           cudaStream_t stream) {
  const Strided st = binary_strides(a_shape, b_shape);
  switch (t) {
    case DType::f32: return launch_equal<float>(a, b, y, st, stream, Plain<float>{});
    case DType::f16: return launch_equal<uint16_t>(a, b, y, st, stream, Half{});
    case DType::bf16: return launch_equal<uint16_t>(a, b, y, st, stream, Bf16{});
    case DType::i64: return launch_equal<int64_t>(a, b, y, st, stream, Plain<int64_t>{});
    case DType::i32: return launch_equal<int32_t>(a, b, y, st, stream, Plain<int32_t>{});
    case DType::i8: return launch_equal<int8_t>(a, b, y, st, stream, Plain<int8_t>{});
    case DType::u8:
    case DType::b8: return launch_equal<uint8_t>(a, b, y, st, stream, Plain<uint8_t>{});
  }
}

void where(const void* cond, const Shape& c_shape, const void* x, const Shape& x_shape, const void* y_false,
           const Shape& f_shape, void* y, const Shape& y_shape, size_t elem_size, cudaStream_t stream) {
  const Strided3 st = broadcast3_strides(c_shape, x_shape, f_shape, y_shape);
  switch (elem_size) {
    case 1: return launch_where<uint8_t>(cond, x, y_false, y, st, stream);
    case 2: return launch_where<uint16_t>(cond, x, y_false, y, st, stream);
    case 4: return launch_where<uint32_t>(cond, x, y_false, y, st, stream);
    case 8: return launch_where<uint64_t>(cond, x, y_false, y, st, stream);
  }
  MGI_ASSERT(false, "where: element size " + std::to_string(elem_size));
}

namespace {

void equal_node(CudaOpContext& c) {
  if (c.in[0].dtype != c.in[1].dtype) c.fail("inputs of different types");
  equal(c.in[0].dtype, c.in[0].data, c.shape(0), c.in[1].data, c.shape(1), c.out[0].data, c.stream);
}

void where_node(CudaOpContext& c) {
  c.want(0, {DType::b8});
  if (c.in[1].dtype != c.in[2].dtype) c.fail("X and Y of different types");
  where(c.in[0].data, c.shape(0), c.in[1].data, c.shape(1), c.in[2].data, c.shape(2), c.out[0].data,
        *c.out[0].shape, c.in[1].elem_size(), c.stream);
}

}  // namespace

void register_logic_cuda_kernels(CudaKernelRegistry& r) {
  r.add({"", "Equal", equal_node});
  r.add({"", "Where", where_node});
}

}  // namespace mgi::cuda
