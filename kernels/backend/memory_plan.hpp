// Static placement of activation buffers in one device arena. Plain host code
// (no CUDA), planned once in prepare() for the largest batch.
#pragma once
#include <cstddef>
#include <vector>

namespace mgi::cuda {

// One executed node, in terms of buffers (not values: aliased values share one buffer).
struct PlanStep {
  std::vector<int> reads;
  std::vector<int> writes;
};

struct ArenaPlan {
  std::vector<size_t> offset;  // per buffer, in bytes, aligned
  size_t bytes = 0;            // arena size (peak)
};

// Buffer b (bytes[b] long) lives from the step that writes it (from the start
// when no step does, e.g. graph inputs) through the last step that reads it;
// `pinned` buffers (graph inputs and outputs) live to the end. Buffers alive
// at the same time never overlap; a step's writes never overlap its reads.
ArenaPlan plan_arena(const std::vector<size_t>& bytes, const std::vector<PlanStep>& steps,
                     const std::vector<bool>& pinned, size_t alignment = 256);

}  // namespace mgi::cuda
