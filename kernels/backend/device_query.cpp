// The CUDA backend's device queries (the module's table, module_entry.cpp).
// None of them throws: a node without a driver or device simply has 0 devices.
#include <cuda_runtime_api.h>

#include <string>

#include "cuda_backend.hpp"

namespace mgi::cuda {

int device_count() {
  // Without a driver cudaGetDeviceCount returns cudaErrorInsufficientDriver (35)
  // and leaves the count unwritten; with a driver and no device, cudaErrorNoDevice (100).
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n > 0 ? n : 0;
}

std::string device_name(int device) {
  if (device < 0 || device >= device_count()) return {};
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
    (void)cudaGetLastError();
    return {};
  }
  return prop.name;
}

std::string runtime_info() {
  int rt = 0, drv = 0;
  (void)cudaRuntimeGetVersion(&rt);
  (void)cudaDriverGetVersion(&drv);  // 0: no driver installed
  (void)cudaGetLastError();
  auto v = [](int x) { return std::to_string(x / 1000) + "." + std::to_string(x % 1000 / 10); };
  return "CUDA runtime " + v(rt) + (drv ? ", driver " + v(drv) : std::string(", no driver"));
}

}  // namespace mgi::cuda
