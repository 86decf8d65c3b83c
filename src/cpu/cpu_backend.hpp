// CPU reference backend: runs the graph's nodes (fused: graph_fuse.hpp) in
// order through their registered CPU kernels (op_registry.hpp), on typed
// buffers allocated once in prepare() (reused across run() calls, shared
// between values whose lifetimes do not overlap). Host values (shape
// arithmetic) come from Graph::plan(), cached per set of input shapes. GEMMs
// run on the packed-panel kernel of gemm_kernel.hpp with the weights packed in
// prepare(), so a row's output is bitwise identical for any batch size, thread
// count or neighbouring rows.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend.hpp"
#include "gemm_kernel.hpp"
#include "op_registry.hpp"

namespace mgi {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads, const BackendOptions& options = {});  // threads 0 = OpenMP default
  std::string describe() const override;
  void prepare(const Graph& graph, const std::vector<Shape>& input_rows, int64_t max_batch) override;
  void run(int64_t rows, const std::vector<const void*>& inputs, const std::vector<void*>& outputs) override;
  bool supports_shaped() const override { return true; }
  void run_shaped(const std::vector<Shape>& input_shapes, const std::vector<const void*>& inputs,
                  const std::vector<void*>& outputs) override;

  // Bytes of activation buffers allocated by prepare() (for reports and tests).
  int64_t buffer_bytes() const;
  // Bytes of the prepared graph's constants (weights) as prepare() found them.
  int64_t weight_bytes() const { return weight_bytes_; }
  // Host memory, bounded by BackendOptions::memory_limit when set: free =
  // min(host free, limit - weights - activation buffers held now).
  MemoryInfo memory_info() const override;

 private:
  ShapePlan plan_for(int64_t rows) const;
  const ShapePlan& plan_at(int64_t rows);
  void check_io(size_t inputs, size_t outputs) const;
  void execute(const ShapePlan& plan, const std::vector<const void*>& inputs, const std::vector<void*>& outputs);

  int threads_;
  BackendOptions options_;  // precision is only reported: the CPU backend computes in fp32
  bool profile_ = false;    // MGI_PROFILE_OPS: time every node (cpu_backend.cpp)
  Graph graph_;             // fused (graph_fuse.hpp) unless options_.fuse is off
  std::vector<Shape> input_rows_;
  int64_t max_batch_ = 0;
  int64_t fixed_batch_ = 0;                 // > 0: the batch the model's inputs fix (every run has it)
  int64_t weight_bytes_ = 0;                // constants of the prepared graph (memory_limit accounting)
  std::vector<cpu::ExecOptions> opts_;      // per node
  std::vector<std::unique_ptr<cpu::PackedB>> packed_;  // weights packed for the GEMM kernel
  std::vector<int> slot_;                   // per value: buffer slot, -1 for constants, inputs and host values
  std::vector<std::vector<uint64_t>> slots_;  // 8-byte aligned storage of any element type
  ShapePlan plan_max_, plan_cached_;
  int64_t cached_rows_ = -1;
  // run_shaped: plans by input shapes (ragged batches repeat a few hundred
  // (rows, length) pairs), so a batch allocates nothing; bounded.
  std::map<std::vector<Shape>, ShapePlan> shaped_;
  static constexpr size_t kShapedCacheEntries = 4096;
  // Per-run scratch kept to avoid reallocating.
  std::vector<const void*> ptr_;
  std::vector<char> host_node_;  // per node: computed by the plan, skipped at run time
};

}  // namespace mgi
