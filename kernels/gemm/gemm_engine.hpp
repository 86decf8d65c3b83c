// The CUDA backend's GEMMs: each Gemm/MatMul node (fused or not, see
// graph_fuse.hpp) goes to cuBLASLt with a bias / ReLU / GELU epilogue where
// epilogue_plan.hpp allows, else to cublasGemmEx; epilogue steps cuBLASLt does
// not cover follow in one elementwise pass. Computes in runtime.precision:
//   fp32  CUBLAS_COMPUTE_32F (no TF32): within fp32 rounding of the CPU backend
//   tf32  CUBLAS_COMPUTE_32F_FAST_TF32: fp32 operands rounded to TF32 inside cuBLAS
//   bf16 / fp16  operands converted (weights once in prepare(), activations before
//         each GEMM), products accumulated in fp32; output, bias and all other ops fp32.
// Owns the cuBLASLt handle and workspace, the cuBLASLt plans, the converted
// weights and the conversion scratch. The scratch is shared by all nodes, so
// the GEMMs of one engine must run in the order of one stream (the handle's).
// A product cuBLASLt rejects (no algorithm for its shape, epilogue or types)
// runs on cublasGemmEx with the epilogue as an elementwise pass: correct, but
// counted (fallback_calls()), and a rejection other than NOT_SUPPORTED is
// reported once on stderr.
#pragma once
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "backend.hpp"
#include "cuda_handles.hpp"
#include "cuda_kernels.hpp"
#include "device_buffer.hpp"
#include "gemm_plan_key.hpp"
#include "ops.hpp"

namespace mgi::cuda {

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
  // Runs one Gemm/MatMul node (c.node, float32 tensors c.in / c.out) on c.cublas's stream.
  void run(CudaOpContext& c);

  // The Conv im2col scratch (ops/conv.cu, conv_plan.hpp), sized in prepare()
  // for the largest batch (capped: a larger batch runs in chunks of images);
  // *bytes gets its size. nullptr when no Conv needs one.
  float* conv_scratch(size_t* bytes) const {
    *bytes = conv_scratch_.bytes();
    return conv_scratch_.f32();
  }
  size_t weight_bytes() const { return weights_.bytes(); }
  size_t scratch_bytes() const { return scratch_[0].bytes() + scratch_[1].bytes() + conv_scratch_.bytes(); }
  // cuBLASLt plans made since prepare() (one per distinct LtPlanKey, on first
  // use; counted, not the cache's size, which drops to 0 when full). The CUDA
  // backend's warm-up makes every plan a full batch needs; a plan made inside
  // a CUDA graph capture (a heuristic query there) fails the capture.
  size_t plan_count() const { return plans_made_; }
  // Since prepare(), per run() of a node route_gemm() sends to cuBLASLt: those
  // that ran through cublasLtMatmul, and those cuBLASLt rejected, which ran on
  // cublasGemmEx instead. Products routed to cublasGemmEx by design (batched,
  // scaled C) count in neither. CUDA graph replays do not call run().
  int64_t lt_calls() const { return lt_calls_; }
  int64_t fallback_calls() const { return fallback_calls_; }

  // Plans kept at most: n or k follow the batch in some layouts, so batches
  // of many sizes would grow the cache without bound. Full: cleared, and the
  // plans still in use are made again (one heuristic query each).
  static constexpr size_t kMaxPlans = 512;

 private:
  struct LtPlan;
  // cuBLASLt for one 2-D product; false when cuBLASLt has no algorithm for it.
  bool run_lt(const LtPlanKey& key, float alpha, const float* bias, const void* a, const void* b, float* y,
              cudaStream_t stream);
  const void* operand(const CudaOpContext& c, size_t k, cudaStream_t stream);

  Precision precision_;
  GemmTypes types_;
  CublasLtHandle lt_;
  DeviceBuffer workspace_;
  DeviceBuffer weights_;             // bf16/fp16 copies of constant GEMM operands
  std::map<int, size_t> weight_at_;  // value id -> byte offset in weights_
  DeviceBuffer scratch_[2];          // converted activations: operand A, operand B
  DeviceBuffer conv_scratch_;        // Conv im2col columns
  // By everything a plan fixes, not by node: nodes of one shape share a plan
  // (nothing node-specific stays in it; alpha and the bias pointer go with each call).
  std::map<LtPlanKey, std::unique_ptr<LtPlan>> plans_;
  size_t plans_made_ = 0;
  int64_t lt_calls_ = 0, fallback_calls_ = 0;
  bool rejection_reported_ = false;  // the stderr line for a rejection other than NOT_SUPPORTED
};

}  // namespace mgi::cuda
