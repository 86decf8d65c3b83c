// Backend interface: the CPU backend is the reference; the CUDA backend (kernels/)
// must match it within tolerance. A backend is prepared once per run and then
// runs many batches with buffers allocated in prepare().
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "graph.hpp"

namespace mgi {

class Backend {
 public:
  virtual ~Backend() = default;
  // One line for logs: "cpu (OpenBLAS, 2 threads)", "cuda:0 NVIDIA H100 (80 GiB)".
  virtual std::string describe() const = 0;
  // Converts/uploads weights and allocates work buffers for batches of up to
  // max_batch rows whose per-row input shapes are `input_rows` (one per graph input).
  virtual void prepare(const Graph& graph, const std::vector<Shape>& input_rows, int64_t max_batch) = 0;
  // Runs 1 <= rows <= max_batch rows. inputs[k]: rows x prod(input_rows[k]) floats, row-major.
  // outputs[k]: receives rows x (per-row size of graph output k) floats.
  // A row's result must not depend on the other rows in the batch or on `rows`
  // (CPU backend: bitwise).
  virtual void run(int64_t rows, const std::vector<const float*>& inputs,
                   const std::vector<float*>& outputs) = 0;
  // Like run(), for inputs whose dynamic (non-batch) dims change per batch
  // (padded ragged rows): input_shapes[k] is the full shape of inputs[k], batch
  // first; every dim at most the one prepared. Outputs are packed for these
  // shapes. The default throws: only the CPU backend implements it so far.
  virtual void run_shaped(const std::vector<Shape>& input_shapes, const std::vector<const float*>& inputs,
                          const std::vector<float*>& outputs);
};

std::unique_ptr<Backend> make_cpu_backend(int threads);

// CUDA side, implemented in kernels/ when built with CUDA, else by stubs.
bool cuda_compiled();
// Visible CUDA devices; 0 without a driver or device (never throws).
int cuda_device_count();
// "NVIDIA H100 80GB HBM3" etc.; empty when unavailable.
std::string cuda_device_name(int device);
std::unique_ptr<Backend> make_cuda_backend(int device);

}  // namespace mgi
