// Owners of device memory (cudaMalloc) and page-locked host memory
// (cudaMallocHost). Move-only; the destructor is the only place that frees.
#pragma once
#include <cstddef>
#include <utility>

#include "cuda_check.hpp"

namespace mgi::cuda {

namespace detail {
struct DeviceAlloc {
  static void* alloc(size_t n) {
    void* p = nullptr;
    MGI_CUDA(cudaMalloc(&p, n));
    return p;
  }
  static void release(void* p) { (void)cudaFree(p); }
};
struct PinnedAlloc {
  static void* alloc(size_t n) {
    void* p = nullptr;
    MGI_CUDA(cudaMallocHost(&p, n));
    return p;
  }
  static void release(void* p) { (void)cudaFreeHost(p); }
};

template <class A>
class Buffer {
 public:
  Buffer() = default;
  // Zero bytes holds no allocation (get() == nullptr).
  explicit Buffer(size_t bytes) : p_(bytes ? A::alloc(bytes) : nullptr), bytes_(bytes) {}
  ~Buffer() { reset(); }
  Buffer(Buffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = std::exchange(o.p_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* get() const { return p_; }
  float* f32() const { return static_cast<float*>(p_); }
  char* bytes_ptr() const { return static_cast<char*>(p_); }
  size_t bytes() const { return bytes_; }
  void reset() {
    if (p_) A::release(p_);  // errors on free are not actionable in a destructor
    p_ = nullptr;
    bytes_ = 0;
  }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};
}  // namespace detail

using DeviceBuffer = detail::Buffer<detail::DeviceAlloc>;
using PinnedBuffer = detail::Buffer<detail::PinnedAlloc>;

}  // namespace mgi::cuda
