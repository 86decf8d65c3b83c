// The CUDA kernels of the registry's ops (op_registry.hpp), by the same key
// (domain, name): each family file under kernels/ops and kernels/gemm defines
// its node-level kernels next to its launchers and adds them in its
// register_*_cuda_kernels(), listed once in cuda_kernels.cpp (an explicit list:
// static-initializer registration is dropped when linking a static library).
//
// A node reaches its kernel through a CudaOpContext: the node, this batch's
// typed device tensors of its inputs and outputs, their host values where the
// host knows them, the stream and the cuBLAS handle. Ops the registry marks
// `alias` (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout) and nodes
// whose output is a host value (Shape -> Gather -> Concat ...: Graph::plan)
// never reach a kernel.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "graph.hpp"
#include "op_registry.hpp"
#include "tensor.hpp"

namespace mgi::cuda {

class GemmEngine;

// One input or output of a node for this batch.
struct CudaTensor {
  DType dtype = DType::f32;
  const Shape* shape = nullptr;  // nullptr: an optional input left out
  void* data = nullptr;          // device memory (nullptr for an input only read on the host)
  // The value on the host, where known: a constant (small and integer ones
  // keep their host copy) or a host value of this batch's plan.
  const Tensor* host = nullptr;

  bool present() const { return shape != nullptr; }
  int64_t numel() const { return shape_numel(*shape); }
  size_t elem_size() const { return dtype_size(dtype); }
  template <class T>
  T* as() const {
    return static_cast<T*>(data);
  }
};

struct CudaOpContext {
  const Node& node;
  cudaStream_t stream;
  cublasHandle_t cublas;  // bound to `stream`
  std::vector<CudaTensor> in;   // one per node input
  std::vector<CudaTensor> out;  // one per node output (only output 0 is computed)
  const std::vector<Shape>& shapes;  // every value's shape for this batch (GEMM engine)
  GemmEngine& gemm;
  // Device int the batch's kernels set to `error_code` when the data is
  // invalid (a Gather index out of range); read back after the batch
  // (CudaBackend::check_errors) and reported naming this node.
  int* error_flag;
  int error_code;  // this node's index + 1

  bool has(size_t k) const { return k < in.size() && in[k].present(); }
  const Shape& shape(size_t k) const { return *in.at(k).shape; }
  // "CUDA backend: node 'n' (Op): <what>" as ModelError.
  [[noreturn]] void fail(const std::string& what) const;
  // Fails unless input k has one of `types`.
  void want(size_t k, std::initializer_list<DType> types) const;
  // The host value of input k (constant or host value); fails naming `what` when unknown.
  const Tensor& host(size_t k, const char* what) const;
};

using CudaKernel = void (*)(CudaOpContext&);

// Shape helpers of the node-level kernels.
inline int64_t dims_product(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t k = from; k < to; ++k) p *= s[k];
  return p;
}
// An axis the op's inference already checked, made non-negative.
inline size_t norm_axis(int64_t axis, size_t rank) {
  return static_cast<size_t>(axis < 0 ? axis + static_cast<int64_t>(rank) : axis);
}

struct CudaKernelDef {
  std::string domain;  // "" for ai.onnx
  std::string name;
  CudaKernel run = nullptr;
  // Bit k: input k is read on the host only (a shape, axes, starts...), so it
  // is never uploaded, and a host value there needs no device copy.
  uint32_t host_inputs = 0;
};

class CudaKernelRegistry {
 public:
  static const CudaKernelRegistry& get();
  void add(CudaKernelDef def);
  const CudaKernelDef* find(const std::string& domain, const std::string& name) const;
  const std::vector<CudaKernelDef>& all() const { return defs_; }

 private:
  std::vector<CudaKernelDef> defs_;
};

// The kernel of an op definition; nullptr when the CUDA backend has none.
const CudaKernelDef* find_cuda_kernel(const OpDef& def);
// The step a node without a CUDA kernel runs: its CPU kernel on the host,
// between copies (host_fallback.cpp).
const CudaKernelDef& host_fallback_kernel();
// Whether the CUDA backend runs (domain, name): a kernel, or an alias op (no kernel needed).
bool cuda_supports(const std::string& domain, const std::string& name);

// The families (one file each, next to their launchers).
void register_elementwise_cuda_kernels(CudaKernelRegistry& r);    // ops/elementwise.cu
void register_softmax_cuda_kernels(CudaKernelRegistry& r);        // ops/softmax.cu
void register_normalization_cuda_kernels(CudaKernelRegistry& r);  // ops/normalization.cu
void register_layout_cuda_kernels(CudaKernelRegistry& r);         // ops/layout.cu
void register_index_cuda_kernels(CudaKernelRegistry& r);          // ops/index.cu
void register_logic_cuda_kernels(CudaKernelRegistry& r);          // ops/logic.cu
void register_cast_cuda_kernels(CudaKernelRegistry& r);           // ops/cast.cu
void register_gemm_cuda_kernels(CudaKernelRegistry& r);           // gemm/gemm_engine.cpp
void register_conv_cuda_kernels(CudaKernelRegistry& r);           // ops/conv.cu (Conv, pools)
void register_reduce_cuda_kernels(CudaKernelRegistry& r);         // ops/reduce.cu

}  // namespace mgi::cuda
