// CPU-only build: the CUDA entry points exist but report that CUDA is absent.
#include "backend.hpp"
#include "cuda_op_list.hpp"
#include "error.hpp"

namespace mgi {

bool cuda_compiled() { return false; }
int cuda_device_count() { return 0; }
std::string cuda_device_name(int) { return {}; }
std::unique_ptr<Backend> make_cuda_backend(int device) { return make_cuda_backend(device, BackendOptions{}); }
std::unique_ptr<Backend> make_cuda_backend(int, const BackendOptions&) {
  throw RuntimeError("runtime.device: cuda requested but this mgi-mpi was built without CUDA "
                     "(configure with the CUDA toolkit and -DMGI_ENABLE_CUDA=ON)");
}
std::vector<std::pair<std::string, std::string>> cuda_op_keys() { return {}; }

}  // namespace mgi
