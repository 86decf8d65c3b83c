// The module's one exported symbol (cuda_module_abi.hpp): the table through
// which the core's loader (src/backend/cuda_module.cpp) reaches this backend.
// Everything else in libmgi-cuda.so is hidden; its references to the core
// (Graph, OpRegistry, Backend's base class, errors) resolve to the executable.
#include <algorithm>
#include <cstring>

#include "cuda_backend.hpp"
#include "cuda_module_abi.hpp"

namespace mgi::cuda {
namespace {

void copy_out(const std::string& s, char* buf, size_t size) {
  if (!buf || size == 0) return;
  const size_t n = std::min(s.size(), size - 1);
  std::memcpy(buf, s.data(), n);
  buf[n] = 0;
}

void api_runtime_info(char* buf, size_t size) noexcept {
  try {
    copy_out(runtime_info(), buf, size);
  } catch (...) {
    copy_out("CUDA runtime unknown", buf, size);
  }
}

int api_device_count() noexcept { return device_count(); }

void api_device_name(int device, char* buf, size_t size) noexcept {
  try {
    copy_out(device_name(device), buf, size);
  } catch (...) {
    copy_out("", buf, size);
  }
}

Backend* api_make_backend(int device, const BackendOptions* options) {
  return make_backend(device, options ? *options : BackendOptions{}).release();
}

void api_op_keys(void (*add)(void* ctx, const char* domain, const char* name), void* ctx) {
  for (const auto& k : op_keys()) add(ctx, k.first.c_str(), k.second.c_str());
}

}  // namespace
}  // namespace mgi::cuda

extern "C" __attribute__((visibility("default"))) const MgiCudaApi* mgi_cuda_api(int /*abi_version*/) {
  // The caller compares abi_version and build_stamp; this table is the only one.
  static const std::string stamp = mgi::mgi_cuda_build_stamp();
  static const MgiCudaApi api{MGI_CUDA_ABI_VERSION,
                              stamp.c_str(),
                              mgi::cuda::api_runtime_info,
                              mgi::cuda::api_device_count,
                              mgi::cuda::api_device_name,
                              mgi::cuda::api_make_backend,
                              mgi::cuda::api_op_keys};
  return &api;
}
