// Pipeline stages (runtime.pipeline_stages): a graph cut into K contiguous
// pieces of its topological order, each runnable alone by any Backend, so that
// K ranks can each hold one stage's weights and pass micro-batches on.
//
// What crosses a cut travels as a message of whole tensors, batch first: stage
// s receives the values listed in `receives` (stage 0: the graph inputs, in
// order) and sends `sends` on (the last stage: the graph outputs, in order).
// A value some later stage needs passes through the stages between (it is in
// both their receives and sends). Cuts are only placed where every crossing
// value is a computed (non-constant, non-host) value with the batch as its
// first dim, so that rows stay independent; host values (shape arithmetic) a
// stage needs are recomputed inside it from values it holds (a value whose
// shape such a chain reads is carried to it), and constants a stage uses are
// copied into its graph (weights shared by two stages are held by both).
// No cut separates nodes that fuse_graph() would fuse, so each stage fuses and
// computes exactly as the whole graph does: on the CPU backend the last
// stage's outputs are bitwise those of the whole graph.
// A stage graph's inputs are declared with dim 0 = -1 (a model whose inputs
// fix the batch: that batch) and -1 for every dim that varies with the graph's
// dynamic input dims (named after them in input_dim_names when they have a
// name). How the graph is cut: stage_split.cpp's header and docs/PIPELINE_SPLIT.md.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "graph.hpp"

namespace mgi {

struct PipelineStage {
  Graph graph;  // this stage's nodes and only the constants they use; runnable by any Backend
  // Full-graph value ids, in message order.
  std::vector<int> receives;  // from the previous stage (stage 0: the full graph's inputs, in order)
  std::vector<int> sends;     // to the next stage (last stage: the full graph's outputs, in order)
  // graph.inputs[k] is receives[input_from[k]] (a received value the stage only passes on is no input).
  std::vector<int> input_from;
  // Per-row shapes of graph.inputs at the sample shapes given to split_graph()
  // (the longest ragged row): what to give Backend::prepare() for this stage
  // (run_shaped() batches may be shorter in the dynamic dims, never longer).
  std::vector<Shape> input_rows;
  // sends[j] comes from graph.outputs[send_from[j]] when >= 0, or is
  // receives[-1 - send_from[j]] passed through unchanged when < 0.
  std::vector<int> send_from;
  int node_begin = 0, node_end = 0;  // [begin, end) in the full graph's node order
  int64_t weight_bytes = 0;          // constants held by this stage, in their types
  double flops_per_row = 0;          // estimate at the sample shapes given to split_graph()
  int64_t send_bytes_per_row = 0;    // one row of `sends`, at the sample shapes
};

struct PipelineSplit {
  std::vector<PipelineStage> stages;
  // One line per stage for the plan: "stage 1: nodes 0-132 (Gather ... LayerNormalization),
  // 416.2 KiB weights, 2.4 MFLOP/row, sends 3 values (12.2 KiB/row)" (last stage: "outputs ...").
  std::vector<std::string> describe() const;
};

// Cuts `graph` into `stages` stages balanced by weight bytes and FLOPs (each
// stage near 1/K of both), preferring cuts where few and small values cross.
// `input_rows`: per-row shapes of the graph inputs (longest ragged row) used
// for FLOPs and crossing sizes. Throws ModelError when the graph has fewer
// valid cut points than stages - 1 (naming how many stages it can make).
// `keep_stage` >= 0 (a rank that runs only that stage): the other stages'
// graphs hold their constants over 64 KiB as shells (dtype and shape, no
// bytes; Tensor::bytes() 0), so the rank never holds a second copy of weights
// it does not run; those graphs can still be planned (Graph::plan, the memory
// plan) but not run. Everything else, weight_bytes included, is as for -1.
// keep_stage >= stages: every stage holds shells (planning only: cheap for big models).
PipelineSplit split_graph(const Graph& graph, int stages, const std::vector<Shape>& input_rows,
                          int keep_stage = -1);

// Full shapes (batch first) of a stage's `sends` for one batch whose `receives`
// have `receive_shapes`: the shapes of the message it passes on (for
// run_shaped() batches, whose dynamic dims change per batch).
std::vector<Shape> send_shapes(const PipelineStage& stage, const std::vector<Shape>& receive_shapes);

}  // namespace mgi
