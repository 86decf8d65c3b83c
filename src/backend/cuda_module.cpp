// The run-time loader of the CUDA backend module (cuda_module.hpp) and the
// CUDA free functions of backend.hpp, as thin wrappers over the module's table.
#include "cuda_module.hpp"

#include <dlfcn.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "backend.hpp"
#include "cuda_module_abi.hpp"
#include "error.hpp"

// Defined where the backend's objects are linked into the executable (tests,
// benches, mgi-ops-table); null in mgi-mpi, which opens the module instead.
extern "C" const MgiCudaApi* mgi_cuda_api(int abi_version) __attribute__((weak));

namespace mgi {

namespace {

struct Loaded {
  CudaModuleStatus status;
  const MgiCudaApi* api = nullptr;
};

#ifdef MGI_CUDA_BUILT
// Where the install puts the module, from the executable's folder: set by
// src/CMakeLists.txt from GNUInstallDirs' CMAKE_INSTALL_BINDIR and _LIBDIR.
#ifndef MGI_INSTALL_LIBDIR_FROM_BIN
#define MGI_INSTALL_LIBDIR_FROM_BIN "../lib"
#endif

// The executable's path. /proc/self/exe, unless the program was started by an
// explicit ld.so invocation (bench/device_bundle.sh's bundle-exec), where that
// is the loader and AT_EXECFN names the program.
std::string executable_path() {
  std::string exe;
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) exe.assign(buf, static_cast<size_t>(n));
  const std::string base = exe.substr(exe.rfind('/') + 1);
  if (exe.empty() || base.rfind("ld-", 0) == 0 || base.rfind("ld.so", 0) == 0) {
    if (const char* fn = reinterpret_cast<const char*>(getauxval(AT_EXECFN))) {
      if (char* real = realpath(fn, nullptr)) {
        exe = real;
        std::free(real);
      }
    }
  }
  return exe;
}

std::string dir_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
}

bool file_exists(const std::string& path) { return !path.empty() && access(path.c_str(), F_OK) == 0; }

// Checks the table a module (or the linked-in backend) returned.
std::string check_table(const MgiCudaApi* api, const std::string& where) {
  if (!api) return where + " returned no table";
  if (api->abi_version != MGI_CUDA_ABI_VERSION)
    return where + " has module ABI " + std::to_string(api->abi_version) + ", this mgi-mpi needs " +
           std::to_string(MGI_CUDA_ABI_VERSION) + " (a module from another build)";
  const std::string mine = mgi_cuda_build_stamp();
  if (!api->build_stamp || mine != api->build_stamp)
    return where + " is from another build (" + (api->build_stamp ? api->build_stamp : "no stamp") +
           "; this mgi-mpi: " + mine + ")";
  return {};
}

#endif  // MGI_CUDA_BUILT

Loaded load() {
  Loaded l;
  using State = CudaModuleStatus::State;
#ifndef MGI_CUDA_BUILT
  l.status.state = State::not_built;
  return l;
#else
  if (mgi_cuda_api) {  // linked in: no module to open
    l.status.path = "linked in";
    const MgiCudaApi* api = mgi_cuda_api(MGI_CUDA_ABI_VERSION);
    l.status.reason = check_table(api, "the linked-in CUDA backend");
    l.status.state = l.status.reason.empty() ? State::loaded : State::missing;
    if (l.status.reason.empty()) l.api = api;
    return l;
  }
  l.status.state = State::missing;
  std::string path;
  const char* env = std::getenv("MGI_CUDA_MODULE");
  if (env && *env) {
    path = env;
    if (!file_exists(path)) {
      l.status.reason = "MGI_CUDA_MODULE=" + path + ": no such file";
      return l;
    }
  } else {
    const std::string dir = dir_of(executable_path());
    // The install's library folder: relative to the executable's folder (e.g.
    // "../lib", "../lib64"), or absolute when CMAKE_INSTALL_LIBDIR was.
    const std::string libdir = MGI_INSTALL_LIBDIR_FROM_BIN[0] == '/'
                                   ? std::string(MGI_INSTALL_LIBDIR_FROM_BIN)
                                   : dir + "/" MGI_INSTALL_LIBDIR_FROM_BIN;
    const std::string beside = dir + "/" MGI_CUDA_MODULE_FILE, lib = libdir + "/" MGI_CUDA_MODULE_FILE;
    path = file_exists(beside) ? beside : file_exists(lib) ? lib : "";
    if (path.empty()) {
      l.status.reason = MGI_CUDA_MODULE_FILE " not found beside the executable (" + dir + ") nor in " + libdir +
                        "; set MGI_CUDA_MODULE to its path";
      return l;
    }
  }
  if (char* real = realpath(path.c_str(), nullptr)) {
    path = real;
    std::free(real);
  }
  l.status.path = path;
  (void)dlerror();
  // RTLD_NOW: a missing library or symbol fails here, with dlerror() naming it,
  // not at the first call. RTLD_LOCAL: the module's symbols stay its own.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* e = dlerror();
    l.status.reason = e ? e : ("cannot load " + path);
    return l;
  }
  auto entry = reinterpret_cast<MgiCudaApiEntry>(dlsym(handle, "mgi_cuda_api"));
  if (!entry) {
    l.status.reason = path + " has no mgi_cuda_api: not an mgi-mpi CUDA module";
  } else {
    const MgiCudaApi* api = entry(MGI_CUDA_ABI_VERSION);
    l.status.reason = check_table(api, path);
    if (l.status.reason.empty()) {
      l.api = api;
      l.status.state = State::loaded;
      return l;  // never closed: backends and CUDA's own state live until exit
    }
  }
  dlclose(handle);
  return l;
#endif
}

const Loaded& loaded() {
  static const Loaded l = load();  // thread-safe, once
  return l;
}

}  // namespace

const CudaModuleStatus& cuda_module() { return loaded().status; }

std::string cuda_status_line() {
  const Loaded& l = loaded();
  switch (l.status.state) {
    case CudaModuleStatus::State::not_built:
      return "cuda: not built";
    case CudaModuleStatus::State::missing:
      return "cuda: not loaded (" + l.status.reason + ")";
    case CudaModuleStatus::State::loaded:
      break;
  }
  char info[256] = {0};
  l.api->runtime_info(info, sizeof info);
  const int n = l.api->device_count();
  const std::string from = l.status.path == "linked in" ? "linked in" : "loaded from " + l.status.path;
  return "cuda: " + from + " (" + info + ", " + std::to_string(n) + (n == 1 ? " device)" : " devices)");
}

bool cuda_compiled() { return cuda_module().state != CudaModuleStatus::State::not_built; }

int cuda_device_count() {
  const Loaded& l = loaded();
  return l.api ? l.api->device_count() : 0;
}

std::string cuda_device_name(int device) {
  const Loaded& l = loaded();
  if (!l.api) return {};
  char name[256] = {0};
  l.api->device_name(device, name, sizeof name);
  return name;
}

std::unique_ptr<Backend> make_cuda_backend(int device) { return make_cuda_backend(device, BackendOptions{}); }

std::unique_ptr<Backend> make_cuda_backend(int device, const BackendOptions& options) {
  const Loaded& l = loaded();
  if (l.status.state == CudaModuleStatus::State::not_built)
    throw RuntimeError("runtime.device: cuda requested but this mgi-mpi was built without CUDA "
                       "(configure with the CUDA toolkit and -DMGI_ENABLE_CUDA=ON)");
  if (!l.api)
    throw RuntimeError("runtime.device: cuda requested but the CUDA backend could not be loaded (" + l.status.reason +
                       ")");
  return std::unique_ptr<Backend>(l.api->make_backend(device, &options));
}

std::vector<std::pair<std::string, std::string>> cuda_op_keys() {
  std::vector<std::pair<std::string, std::string>> keys;
  const Loaded& l = loaded();
  if (!l.api) return keys;
  l.api->op_keys(
      [](void* ctx, const char* domain, const char* name) {
        static_cast<std::vector<std::pair<std::string, std::string>>*>(ctx)->emplace_back(domain, name);
      },
      &keys);
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace mgi
