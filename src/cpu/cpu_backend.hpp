// CPU reference backend: runs the graph's nodes (fused: graph_fuse.hpp) in order on float32 buffers
// allocated once in prepare() (reused across run() calls, shared between
// values whose lifetimes do not overlap). GEMMs run on the packed-panel kernel
// of cpu_gemm_kernel.hpp with the weights packed in prepare(), so a row's
// output is bitwise identical for any batch size, thread count or neighbouring
// rows.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend.hpp"
#include "cpu_gemm_kernel.hpp"
#include "cpu_ops.hpp"

namespace mgi {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads, const BackendOptions& options = {});  // threads 0 = OpenMP default
  std::string describe() const override;
  void prepare(const Graph& graph, const std::vector<Shape>& input_rows, int64_t max_batch) override;
  void run(int64_t rows, const std::vector<const float*>& inputs, const std::vector<float*>& outputs) override;
  void run_shaped(const std::vector<Shape>& input_shapes, const std::vector<const float*>& inputs,
                  const std::vector<float*>& outputs) override;

  // Bytes of activation buffers allocated by prepare() (for reports and tests).
  int64_t buffer_bytes() const;

 private:
  std::vector<Shape> shapes_for(int64_t rows) const;
  const std::vector<Shape>& shapes_at(int64_t rows);
  void check_io(size_t inputs, size_t outputs) const;
  void execute(const std::vector<Shape>& shapes, const std::vector<const float*>& inputs,
               const std::vector<float*>& outputs);

  int threads_;
  BackendOptions options_;  // precision is only reported: the CPU backend computes in fp32
  Graph graph_;             // fused (graph_fuse.hpp) unless options_.fuse is off
  std::vector<Shape> input_rows_;
  int64_t max_batch_ = 0;
  std::vector<cpu::ExecOptions> opts_;      // per node
  std::vector<std::unique_ptr<cpu::PackedB>> packed_;  // weights packed for the GEMM kernel
  std::vector<int> slot_;                   // per value: buffer slot, -1 for constants and inputs
  std::vector<std::vector<float>> slots_;
  std::vector<Shape> shapes_max_, shapes_cached_;
  int64_t cached_rows_ = -1;
  // run_shaped: inferred shapes by input shapes (ragged batches repeat a few
  // hundred (rows, length) pairs), so a batch allocates nothing; bounded.
  std::map<std::vector<Shape>, std::vector<Shape>> shaped_;
  static constexpr size_t kShapedCacheEntries = 4096;
  // Per-run scratch kept to avoid reallocating.
  std::vector<const float*> ptr_;
  std::vector<Shape> in_shapes_;
  std::vector<const float*> in_ptrs_;
};

}  // namespace mgi
