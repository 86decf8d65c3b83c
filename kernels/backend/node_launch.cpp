// Node -> kernel for the CUDA backend: each node's kernel is looked up once in
// prepare() by its op key (cuda_kernels.hpp); execute() builds the node's
// context for this batch (typed device tensors, shapes, host values) and calls it.
#include <string>

#include "cuda_backend.hpp"
#include "error.hpp"

namespace mgi::cuda {

// Nodes whose output is a host value are computed by Graph::plan() on the
// host; alias ops share their input's storage. Every other node runs its CUDA
// kernel, or, for an op without one, its CPU kernel on the host between
// copies (host_fallback.cpp): correct, slow, and named in describe().
void CudaBackend::find_kernels() {
  kernel_.assign(graph_.nodes.size(), nullptr);
  host_ops_.clear();
  host_nodes_ = 0;
  for (size_t ni = 0; ni < graph_.nodes.size(); ++ni) {
    const Node& n = graph_.nodes[ni];
    const OpDef& def = *n.def;
    if (graph_.values[static_cast<size_t>(n.outputs[0])].host || def.alias) continue;
    MGI_ASSERT(!def.shape_only, "CUDA backend: node '" + n.name + "' (" + def.name + ") reads only shapes but its "
                                "output is not a host value");
    kernel_[ni] = find_cuda_kernel(def);
    if (kernel_[ni]) continue;
    kernel_[ni] = &host_fallback_kernel();
    ++host_nodes_;
    const std::string op = def.domain.empty() ? def.name : def.domain + "." + def.name;
    if (("," + host_ops_ + ",").find("," + op + ",") == std::string::npos)
      host_ops_ += (host_ops_.empty() ? "" : ",") + op;
  }
}

void CudaBackend::execute(size_t ni, const BatchPlan& plan, int* error_flag) {
  const CudaKernelDef* k = kernel_[ni];
  if (!k) return;
  const Node& n = graph_.nodes[ni];
  CudaOpContext c{n, stream_.get(), cublas_.get(), {}, {}, plan.shapes, gemm_, error_flag, static_cast<int>(ni) + 1};
  c.in.resize(n.inputs.size());
  for (size_t q = 0; q < n.inputs.size(); ++q) {
    const int v = n.inputs[q];
    if (v < 0) continue;
    CudaTensor& t = c.in[q];
    t.dtype = graph_.values[static_cast<size_t>(v)].dtype;
    t.shape = &plan.shapes[static_cast<size_t>(v)];
    t.host = host_tensor(v, plan);
    if (!(k->host_inputs >> q & 1u)) t.data = data(v);
  }
  c.out.resize(n.outputs.size());
  for (size_t q = 0; q < n.outputs.size(); ++q) {
    const int v = n.outputs[q];
    if (v < 0) continue;
    CudaTensor& t = c.out[q];
    t.dtype = graph_.values[static_cast<size_t>(v)].dtype;
    t.shape = &plan.shapes[static_cast<size_t>(v)];
    if (q == 0) t.data = data(v);  // only output 0 is computed (prepare() refuses used others)
  }
  k->run(c);
}

void CudaBackend::check_errors(Lane& lane) const {
  int& code = *static_cast<int*>(lane.flag_host.get());
  if (code == 0) return;
  const int ni = code - 1;
  code = 0;
  const Node& n = graph_.nodes.at(static_cast<size_t>(ni));
  throw DataError("model " + graph_.source + ": node '" + n.name + "' (" + n.def->name +
                  "): an index in this batch's data is out of range for its axis (the CUDA backend refuses "
                  "it rather than clamp; the batch's outputs are not valid)");
}

}  // namespace mgi::cuda
