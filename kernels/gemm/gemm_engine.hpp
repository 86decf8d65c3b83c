// The CUDA backend's GEMMs: each Gemm/MatMul node (fused or not, see
// graph_fuse.hpp) goes to cuBLASLt with a bias / ReLU / GELU epilogue where
// epilogue_plan.hpp allows, else to cublasGemmEx; epilogue steps cuBLASLt does
// not cover follow in one elementwise pass. Computes in runtime.precision:
//   fp32  CUBLAS_COMPUTE_32F (no TF32): within fp32 rounding of the CPU backend
//   tf32  CUBLAS_COMPUTE_32F_FAST_TF32: fp32 operands rounded to TF32 inside cuBLAS
//   bf16 / fp16  operands converted (weights once in prepare(), activations before
//         each GEMM), products accumulated in fp32; output, bias and all other ops fp32.
// Owns the cuBLASLt handle and workspace, the converted weights and the
// conversion scratch. The scratch is shared by all nodes, so the GEMMs of one
// engine must run in the order of one stream (the handle's).
#pragma once
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "backend.hpp"
#include "cuda_handles.hpp"
#include "device_buffer.hpp"
#include "ops.hpp"

namespace mgi::cuda {

// The kernel op of one unary step (a unary node: unary_step(node); or a fused epilogue step).
UnaryOp unary_op(const UnaryStep& s);

GemmTypes gemm_types(Precision p);

class GemmEngine {
 public:
  // Device address of a value's fp32 data (constants and activations).
  using ValuePtr = std::function<float*(int value)>;

  explicit GemmEngine(Precision precision);
  ~GemmEngine();
  GemmEngine(const GemmEngine&) = delete;
  GemmEngine& operator=(const GemmEngine&) = delete;

  Precision precision() const { return precision_; }

  // After the graph's constants are on the device; `max_shapes`: every value's
  // shape at the largest batch. Converts GEMM weights and sizes the scratch.
  void prepare(const Graph& graph, const std::vector<Shape>& max_shapes, const ValuePtr& ptr, cudaStream_t stream);
  // Runs one Gemm/MatMul node on the handle's stream; `shapes`: this batch's value shapes.
  void run(cublasHandle_t handle, const Node& node, const std::vector<Shape>& shapes, const ValuePtr& ptr);

  size_t weight_bytes() const { return weights_.bytes(); }
  size_t scratch_bytes() const { return scratch_[0].bytes() + scratch_[1].bytes(); }
  // cuBLASLt plans made so far (one per node and row count, on first use).
  // The CUDA backend's warm-up makes every plan a full batch needs; a plan
  // made inside a CUDA graph capture (a heuristic query there) fails the capture.
  size_t plan_count() const { return plans_.size(); }

 private:
  struct LtPlan;
  // cuBLASLt for one 2-D product; false when cuBLASLt has no algorithm for it.
  bool run_lt(const Node& node, int64_t m, int64_t n, int64_t k, int epilogue, const float* bias,
              const void* a, const void* b, float* y, cudaStream_t stream);
  const void* operand(const Node& node, size_t k, const Shape& shape, const ValuePtr& ptr, cudaStream_t stream);

  Precision precision_;
  GemmTypes types_;
  CublasLtHandle lt_;
  DeviceBuffer workspace_;
  DeviceBuffer weights_;             // bf16/fp16 copies of constant GEMM operands
  std::map<int, size_t> weight_at_;  // value id -> byte offset in weights_
  DeviceBuffer scratch_[2];          // converted activations: operand A, operand B
  std::map<std::pair<const Node*, int64_t>, std::unique_ptr<LtPlan>> plans_;  // by node and m
};

}  // namespace mgi::cuda
