// The CUDA backend, loaded at run time: the free functions of backend.hpp
// (cuda_device_count, make_cuda_backend...) go through the module's table
// (cuda_module_abi.hpp), which is opened on first use. Where the module or the
// CUDA libraries cannot be loaded, they report no device and say why here.
//
// Where the module is looked for, first hit wins:
//   1. $MGI_CUDA_MODULE when set (a path to the module; nothing else is tried)
//   2. beside the executable (/proc/self/exe, symlinks resolved; under an explicit
//      ld.so invocation, the program it runs): <dir>/libmgi-cuda.so
//   3. the install's library folder, from <dir>: <dir>/../lib/libmgi-cuda.so, or
//      ../lib64, ../lib/<multiarch>: whatever CMAKE_INSTALL_LIBDIR is (GNUInstallDirs;
//      MGI_INSTALL_LIBDIR_FROM_BIN, set in src/CMakeLists.txt)
// An executable that links the backend's objects in (tests/gpu, the benches,
// mgi-ops-table) uses them directly and opens nothing.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace mgi {

struct CudaModuleStatus {
  enum class State {
    not_built,  // configured without the CUDA toolkit (MGI_ENABLE_CUDA=OFF or no nvcc)
    loaded,     // the module is loaded (or linked in): its table is in use
    missing     // built with CUDA, but the module or a library it needs cannot be loaded
  };
  State state = State::not_built;
  std::string path;    // the module loaded or tried ("linked in" when linked in)
  std::string reason;  // missing: why, e.g. "libcudart.so.13: cannot open shared object file: ..."
};

// Loads the module on the first call (once per process; thread-safe).
const CudaModuleStatus& cuda_module();

// One line for --version: "cuda: not built", "cuda: not loaded (<reason>)", or
// "cuda: loaded from <path> (CUDA runtime 13.0, driver 12.8, 2 device(s))".
std::string cuda_status_line();

// Every (domain, op name) the CUDA backend runs (a kernel, or an alias op that
// needs none), sorted; domain "" is ai.onnx. Empty where the backend is not
// built or cannot be loaded. For docs/OPS.md's CUDA column (tools/ops_table.cpp).
std::vector<std::pair<std::string, std::string>> cuda_op_keys();

}  // namespace mgi
