// CUDA entry points of backend.hpp that only ask the driver what is there.
// None of them throws: a node without a driver or device simply has 0 devices.
#include <cuda_runtime_api.h>

#include "backend.hpp"

namespace mgi {

bool cuda_compiled() { return true; }

int cuda_device_count() {
  // Without a driver cudaGetDeviceCount returns cudaErrorInsufficientDriver (35)
  // and leaves the count unwritten; with a driver and no device, cudaErrorNoDevice (100).
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n > 0 ? n : 0;
}

std::string cuda_device_name(int device) {
  if (device < 0 || device >= cuda_device_count()) return {};
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
    (void)cudaGetLastError();
    return {};
  }
  return prop.name;
}

}  // namespace mgi
