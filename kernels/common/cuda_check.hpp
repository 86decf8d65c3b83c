// Check macros for CUDA runtime and cuBLAS calls: a failing call throws
// mgi::Error(Exit::runtime) naming the call, file:line and the library's message.
#pragma once
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>

#include "error.hpp"

namespace mgi::cuda {

// Same message as throw_call_failure, as OutOfMemory: a smaller batch may fit.
[[noreturn]] inline void throw_out_of_memory(const char* lib, const char* call, const char* file, int line,
                                             const std::string& detail) {
  try {
    throw_call_failure(Exit::runtime, lib, call, file, line, detail);
  } catch (const Error& e) {
    throw OutOfMemory(e.what());
  }
}

inline void check_cuda(cudaError_t e, const char* call, const char* file, int line) {
  if (e == cudaSuccess) return;
  // Clear a sticky-free error so it does not resurface on an unrelated later call.
  (void)cudaGetLastError();
  const std::string detail = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
  if (e == cudaErrorMemoryAllocation) throw_out_of_memory("CUDA", call, file, line, detail);
  throw_call_failure(Exit::runtime, "CUDA", call, file, line, detail);
}

inline void check_cublas(cublasStatus_t s, const char* call, const char* file, int line) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  const std::string detail = std::string(cublasGetStatusName(s)) + ": " + cublasGetStatusString(s);
  if (s == CUBLAS_STATUS_ALLOC_FAILED) throw_out_of_memory("cuBLAS", call, file, line, detail);
  throw_call_failure(Exit::runtime, "cuBLAS", call, file, line, detail);
}

}  // namespace mgi::cuda

#define MGI_CUDA(call) ::mgi::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define MGI_CUBLAS(call) ::mgi::cuda::check_cublas((call), #call, __FILE__, __LINE__)
// After every kernel launch: catches bad launch configurations at the launch site
// (errors inside the kernel surface at the next stream synchronization).
#define MGI_CUDA_LAUNCH() ::mgi::cuda::check_cuda(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
