// The CUDA backend: one device, one non-blocking stream, cuBLAS bound to it.
// prepare() uploads the constants once and places every activation of a
// max_batch-row batch in one device arena (buffers whose lifetimes do not
// overlap share bytes; Flatten/Reshape/Identity alias their input); run()
// only copies inputs in, launches the nodes and copies outputs out.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "backend.hpp"
#include "cuda_handles.hpp"
#include "device_buffer.hpp"

namespace mgi::cuda {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string describe() const override;
  void prepare(const Graph& graph, const std::vector<Shape>& input_rows, int64_t max_batch) override;
  void run(int64_t rows, const std::vector<const float*>& inputs,
           const std::vector<float*>& outputs) override;

  // Bytes of device memory held for constants and for activations (after prepare()).
  size_t constant_bytes() const { return constants_.bytes(); }
  size_t arena_bytes() const { return arena_.bytes(); }

 private:
  // Selects the device before any other member touches CUDA.
  struct DeviceSelect {
    explicit DeviceSelect(int device);
  };
  enum class Home : uint8_t { none, constant, arena };
  struct Slot {  // where a value's storage lives (indexed by the owning value)
    Home home = Home::none;
    size_t offset = 0;
    size_t bytes = 0;
  };

  float* data(int value) const;
  const std::vector<Shape>& shapes_for(int64_t rows);
  void upload_constants(const std::vector<bool>& needed);
  void plan_activations(const std::vector<Shape>& max_shapes);
  void execute(const Node& node, const std::vector<Shape>& shapes);

  int device_;
  DeviceSelect select_;
  std::string description_;
  Stream stream_;
  CublasHandle cublas_;

  bool prepared_ = false;
  Graph graph_;  // ids, nodes and constant shapes (constant data dropped once uploaded)
  std::vector<Shape> input_rows_;
  int64_t max_batch_ = 0;
  std::vector<int> owner_;  // value id -> value id whose storage it uses (aliases)
  std::vector<Slot> slot_;  // by owner
  DeviceBuffer constants_;
  DeviceBuffer arena_;
  std::vector<PinnedBuffer> in_stage_, out_stage_;  // for callers' pageable host memory
  int64_t shapes_rows_ = -1;
  std::vector<Shape> shapes_;
};

}  // namespace mgi::cuda
