// Memory of pipeline stages (runtime.pipeline_stages) and the choice of how
// many stages a model needs (`pipeline_stages: auto`). Pure arithmetic on the
// graph and its split (stage_split.hpp), so it is tested without a device;
// the caller measures free memory (Backend::memory_info) and picks the batch.
//
// A stage needs, at a batch of B rows:
//   weights      the constants its graph holds (stage_split.hpp weight_bytes);
//   activations  the peak of the bytes of its computed values alive at once
//                while it runs node by node (values freed after their last
//                reader, outputs kept), the way the CPU backend's buffer plan
//                reuses memory;
//   messages     in_flight x B x (bytes of one received row + one sent row):
//                the micro-batches it holds on their way in and out (none
//                with one stage).
// Headroom rule: a stage fits when weights + activations + messages <=
// 90% of min(free memory, runtime.memory_limit) (the other 10%: allocator
// slack, GEMM workspaces, the estimate's error).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "graph.hpp"
#include "stage_split.hpp"

namespace mgi {

struct StageMemory {
  int64_t weight_bytes = 0, activation_bytes = 0, message_bytes = 0;
  int64_t total() const { return weight_bytes + activation_bytes + message_bytes; }
};

// Peak bytes of computed values alive at once for batches of `batch` rows
// (inputs excluded: they are the caller's buffers; host values excluded).
int64_t peak_activation_bytes(const Graph& graph, const std::vector<Shape>& input_rows, int64_t batch);

// Per stage of `split` (of the graph whose per-row input shapes are `input_rows`).
std::vector<StageMemory> stage_memory(const Graph& graph, const std::vector<Shape>& input_rows,
                                      const PipelineSplit& split, int64_t batch, int in_flight);

struct PipelineMemoryInput {
  int64_t free_bytes = 0;    // free memory of the rank's backend (memory_info), its share when ranks share it
  int64_t memory_limit = 0;  // runtime.memory_limit (0: none)
  int64_t batch = 1;         // rows per micro-batch
  int in_flight = 2;         // micro-batches a stage holds messages for at once
  int max_stages = 64;       // largest K considered (e.g. the ranks there are)
};

struct PipelinePlan {
  int stages = 1;
  bool fits = false;              // every stage fits the budget
  int64_t available_bytes = 0;    // min(free, memory_limit)
  int64_t budget_bytes = 0;       // 90% of available_bytes
  bool by_limit = false;          // available_bytes is runtime.memory_limit
  // The split at `stages` (one stage: the whole graph), for the plan's lines; its
  // graphs hold big weights as shells (split_graph keep_stage): a rank runs
  // split_graph(graph, stages, input_rows, its_stage) for the graph it runs.
  PipelineSplit split;
  std::vector<StageMemory> memory;  // per stage
  int largest = 0;                // index of the stage needing the most
  int would_fit = 0;              // when !fits: the fewest K that would fit (0: none up to max_stages)
  std::string reason;             // one line for the plan / the error
};

// runtime.pipeline_stages: auto. The fewest K (1..max_stages) whose every stage
// fits; reason: "runtime.pipeline_stages auto: 3 stages, the largest needs 410.2 MiB
// (weights 400.0 MiB, activations 8.2 MiB, messages 2.0 MiB at batch 64) of 460.8 MiB
// usable (90% of runtime.memory_limit 512.0 MiB); 2 stages would need 610.2 MiB".
// When none fits: fits = false, stages = the K whose largest stage is smallest,
// and the reason says so.
PipelinePlan choose_pipeline_stages(const Graph& graph, const std::vector<Shape>& input_rows,
                                    const PipelineMemoryInput& in);

// A given K (runtime.pipeline_stages: K). When a stage does not fit, reason is
// (K = 1) "model needs X, rank has Y (90% of runtime.memory_limit Z); runtime.pipeline_stages: K' would fit"
// (K > 1) "stage s of K needs X, rank has Y (...); runtime.pipeline_stages: K' would fit"
// (or "...; no runtime.pipeline_stages up to N fits (lower runtime.batch_size)").
// Throws ModelError when the graph cannot be cut into K stages.
PipelinePlan plan_pipeline_stages(const Graph& graph, const std::vector<Shape>& input_rows, int stages,
                                  const PipelineMemoryInput& in);

// One line per stage for the plan and the end-of-run summary:
// "stage 2: weights 12.0 MiB, activations 3.1 MiB, messages 1.0 MiB (total 16.1 MiB)".
std::vector<std::string> describe_stage_memory(const std::vector<StageMemory>& memory);

}  // namespace mgi
