// The CUDA backend module's entry point (kernels/backend/module_entry.cpp builds
// it into libmgi-cuda.so; src/backend/cuda_module.cpp opens it at run time).
// The binary has no link-time dependency on any CUDA library: it dlopen()s the
// module, which links cudart, cuBLAS and cuBLASLt, and asks it for this table.
//
// The table is C (a struct of function pointers behind one extern "C" symbol),
// but what travels through make_backend is C++: the module implements the
// core's Backend and reads its Graph, with the core's own code (the module's
// references to the core resolve to the executable's exported symbols). So the
// module must come from the same build as the binary: the loader checks the ABI
// version and the build stamp below, and refuses any other module.
#pragma once
#include <cstddef>
#include <string>

#include "backend.hpp"
#include "graph.hpp"
#include "op_registry.hpp"
#include "tensor.hpp"

// Raised whenever the table below changes.
#define MGI_CUDA_ABI_VERSION 1
// The module's file name; beside mgi-mpi in the build tree, in the install's
// library folder (lib/, lib64/...) when installed (cuda_module.cpp).
#define MGI_CUDA_MODULE_FILE "libmgi-cuda.so"

extern "C" {

struct MgiCudaApi {
  int abi_version;          // MGI_CUDA_ABI_VERSION of the module
  const char* build_stamp;  // mgi_cuda_build_stamp() as the module was compiled
  // "CUDA runtime 13.0, driver 12.8" or "CUDA runtime 13.0, no driver"; never throws.
  void (*runtime_info)(char* buf, size_t size);
  // Visible CUDA devices; 0 without a driver or device. Never throws.
  int (*device_count)(void);
  // The device's name into buf ("" when there is no such device). Never throws.
  void (*device_name)(int device, char* buf, size_t size);
  // A new CUDA backend on `device`; throws mgi::Error (RuntimeError: no device...).
  mgi::Backend* (*make_backend)(int device, const mgi::BackendOptions* options);
  // Calls add(ctx, domain, name) for every op the backend runs (sorted; domain "" is ai.onnx).
  void (*op_keys)(void (*add)(void* ctx, const char* domain, const char* name), void* ctx);
};

// The one symbol the module exports. Returns its table (whatever abi_version
// was asked: the caller compares), or nullptr.
const MgiCudaApi* mgi_cuda_api(int abi_version);
typedef const MgiCudaApi* (*MgiCudaApiEntry)(int abi_version);

}  // extern "C"

namespace mgi {

// What must agree between the binary and the module for the C++ types they
// share: the version, the compiler and standard library, and the layout of the
// types that cross (a rebuilt core with another Graph is refused, not crashed).
// Backend's virtual functions are not in any sizeof: kBackendInterface counts
// changes to them (2: shaped_pipeline_depth/submit_shaped).
constexpr int kBackendInterface = 2;
inline std::string mgi_cuda_build_stamp() {
  return std::string("mgi-mpi " MGI_VERSION "; compiler " __VERSION__ "; backend interface ") +
         std::to_string(kBackendInterface) + "; cxx11abi " +
         std::to_string(_GLIBCXX_USE_CXX11_ABI) + "; layout " + std::to_string(sizeof(Graph)) + "/" +
         std::to_string(sizeof(Node)) + "/" + std::to_string(sizeof(Value)) + "/" + std::to_string(sizeof(Tensor)) +
         "/" + std::to_string(sizeof(OpDef)) + "/" + std::to_string(sizeof(BackendOptions)) + "/" +
         std::to_string(sizeof(Backend)) + "/" + std::to_string(sizeof(HostBuffer));
}

}  // namespace mgi
