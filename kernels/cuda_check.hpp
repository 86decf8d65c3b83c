// Check macros for CUDA runtime and cuBLAS calls: a failing call throws
// mgi::Error(Exit::runtime) naming the call, file:line and the library's message.
#pragma once
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>

#include "error.hpp"

namespace mgi::cuda {

inline void check_cuda(cudaError_t e, const char* call, const char* file, int line) {
  if (e == cudaSuccess) return;
  // Clear a sticky-free error so it does not resurface on an unrelated later call.
  (void)cudaGetLastError();
  throw_call_failure(Exit::runtime, "CUDA", call, file, line,
                     std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e));
}

inline void check_cublas(cublasStatus_t s, const char* call, const char* file, int line) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  throw_call_failure(Exit::runtime, "cuBLAS", call, file, line,
                     std::string(cublasGetStatusName(s)) + ": " + cublasGetStatusString(s));
}

}  // namespace mgi::cuda

#define MGI_CUDA(call) ::mgi::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define MGI_CUBLAS(call) ::mgi::cuda::check_cublas((call), #call, __FILE__, __LINE__)
// After every kernel launch: catches bad launch configurations at the launch site
// (errors inside the kernel surface at the next stream synchronization).
#define MGI_CUDA_LAUNCH() ::mgi::cuda::check_cuda(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
