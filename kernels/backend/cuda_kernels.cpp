// The CUDA kernel registry: the one explicit list of family registrations,
// lookup by the registry's op key, and the op list for docs/OPS.md.
#include "cuda_kernels.hpp"

#include <algorithm>
#include <tuple>

#include "cuda_backend.hpp"
#include "error.hpp"

namespace mgi::cuda {

const CudaKernelRegistry& CudaKernelRegistry::get() {
  static const CudaKernelRegistry r = [] {
    CudaKernelRegistry reg;
    register_elementwise_cuda_kernels(reg);
    register_softmax_cuda_kernels(reg);
    register_normalization_cuda_kernels(reg);
    register_layout_cuda_kernels(reg);
    register_index_cuda_kernels(reg);
    register_logic_cuda_kernels(reg);
    register_cast_cuda_kernels(reg);
    register_gemm_cuda_kernels(reg);
    register_conv_cuda_kernels(reg);
    register_reduce_cuda_kernels(reg);
    std::sort(reg.defs_.begin(), reg.defs_.end(),
              [](const CudaKernelDef& a, const CudaKernelDef& b) { return std::tie(a.domain, a.name) < std::tie(b.domain, b.name); });
    return reg;
  }();
  return r;
}

void CudaKernelRegistry::add(CudaKernelDef def) {
  MGI_ASSERT(def.run, "CUDA kernel for " + def.name + " registered without a function");
  if (default_domain(def.domain)) def.domain.clear();
  MGI_ASSERT(!find(def.domain, def.name), "CUDA kernel for " + def.name + " registered twice");
  defs_.push_back(std::move(def));
}

const CudaKernelDef* CudaKernelRegistry::find(const std::string& domain, const std::string& name) const {
  const std::string dom = default_domain(domain) ? "" : domain;
  for (const CudaKernelDef& d : defs_)
    if (d.domain == dom && d.name == name) return &d;
  return nullptr;
}

const CudaKernelDef* find_cuda_kernel(const OpDef& def) { return CudaKernelRegistry::get().find(def.domain, def.name); }

bool cuda_supports(const std::string& domain, const std::string& name) {
  if (CudaKernelRegistry::get().find(domain, name)) return true;
  // Alias ops run no kernel; shape-only ops (Shape, Size) always run on the host.
  for (const OpDef& d : OpRegistry::get().all())
    if (d.domain == (default_domain(domain) ? "" : domain) && d.name == name) return d.alias || d.shape_only;
  return false;
}

void CudaOpContext::fail(const std::string& what) const {
  throw ModelError("CUDA backend: node '" + node.name + "' (" + (node.def ? node.def->name : node.op_type) +
                   "): " + what);
}

void CudaOpContext::want(size_t k, std::initializer_list<DType> types) const {
  const DType t = in.at(k).dtype;
  std::string names;
  for (DType d : types) {
    if (d == t) return;
    names += (names.empty() ? "" : ", ") + std::string(dtype_name(d));
  }
  fail("input " + std::to_string(k) + " has type " + dtype_name(t) + "; the CUDA kernel takes " + names);
}

const Tensor& CudaOpContext::host(size_t k, const char* what) const {
  if (k >= in.size() || !in[k].host)
    fail(std::string("input ") + std::to_string(k) + " ('" + what +
         "') must be known on the host: a constant, or computed from shapes and constants");
  return *in[k].host;
}

}  // namespace mgi::cuda

namespace mgi::cuda {

std::vector<std::pair<std::string, std::string>> op_keys() {
  std::vector<std::pair<std::string, std::string>> keys;
  for (const OpDef& d : OpRegistry::get().all())
    if (cuda_supports(d.domain, d.name)) keys.emplace_back(d.domain, d.name);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

}  // namespace mgi::cuda
