// split_graph(): cuts a graph into pipeline stages (stage_split.hpp).
//
// 1. Plans the graph at two batch sizes (2 and 3; the model's fixed batch when
//    it has one) and, per group of dynamic input dims (grouped by their
//    declared name), at a second size of those dims: which values are batch
//    first, which dims vary with which input dim.
// 2. Each computed value v (non-constant, non-host; graph inputs included)
//    is live over the cut positions prod(v) < c <= last(v): last(v) is the
//    last node that reads it, where a host node (shape arithmetic) counts as
//    reading at the last position its result is needed (a stage after the
//    cut recomputes the host chain and needs v's shape), and a graph output
//    is read at the end. The values live at a cut are what crosses it.
// 3. A cut position c (the boundary before node c) is valid when node c is a
//    runtime node (so every stage computes something) and every value live at
//    c is batch first with a batch-independent row shape, and is not one that
//    fuse_graph() folds into its reader (the intermediate of a Gemm+bias+act
//    or unary chain): so each stage fuses exactly as the whole graph does.
// 4. Balance: a stage's load is max(its share of the weight bytes, its share
//    of the FLOPs). The smallest achievable largest load L* over K stages is
//    found by bisection with a greedy feasibility test; then a DP over the
//    valid cuts picks, among the splits whose every stage load is at most
//    1.1 x L* and at least half an even share (1 / 2K; relaxed to a quarter,
//    then none, when no such split exists), the one with the fewest bytes per
//    row crossing (+ 256 bytes per crossing value, to prefer fewer values),
//    in O(K x cuts) with a sliding-window minimum; among splits that cross
//    equally, the one meeting the tightest cap of 1.0, 1.02, 1.05 x L*.
// 5. Each stage is built as a standalone Graph: its node range, preceded by
//    copies of the host nodes before it whose results it needs; only the
//    constants its nodes read; inputs = the received values it reads.
//
// Where each step lives (stage_split_internal.hpp declares what they share):
//   stage_analysis.cpp  analyse_graph(): 1 plan_samples, mark_varying_dims;
//                       2 mark_liveness; then mark_batch_first, mark_absorbed
//                       (the fusion rule's input), count_node_costs (loads);
//                       3 find_cut_positions()
//   stage_cuts.cpp      4 choose_cuts(): best_largest_load (bisection),
//                       least_crossing (the DP)
//   this file           5 build_stage(): stage_node_mask, stage_sends,
//                       declare_received, StageGraph; split_graph() runs 1-5.
#include "stage_split.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <utility>

#include "error.hpp"
#include "format.hpp"
#include "stage_split_internal.hpp"

namespace mgi {

namespace {

using stage_split::Analysis;
using stage_split::kShapeOnlyAbove;
using stage_split::shell_of;

std::string flops_str(double f) {
  const char* unit[] = {"", "k", "M", "G", "T", "P"};
  int u = 0;
  while (f >= 1000 && u < 5) {
    f /= 1000;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f %sFLOP", f, unit[u]);
  return buf;
}

// Step 5a. The nodes a stage runs: its range [begin, end), preceded by the host
// nodes before it whose results it needs (found backwards): host values are
// recomputed in each stage that needs them, never sent.
std::vector<char> stage_node_mask(const Analysis& A, int begin, int end) {
  const Graph& g = A.g;
  std::vector<char> in_stage(A.N, 0);
  for (int i = begin; i < end; ++i) in_stage[static_cast<size_t>(i)] = 1;
  std::vector<char> wanted(A.V, 0);
  for (int i = end; i-- > 0;) {
    const Node& n = g.nodes[static_cast<size_t>(i)];
    if (i < begin) {
      bool used = false;
      for (int id : n.outputs) used = used || (id >= 0 && wanted[static_cast<size_t>(id)]);
      if (!A.host_node[static_cast<size_t>(i)] || !used) continue;
      in_stage[static_cast<size_t>(i)] = 1;
    }
    for (int id : n.inputs)
      if (id >= 0 && g.values[static_cast<size_t>(id)].host) wanted[static_cast<size_t>(id)] = 1;
  }
  return in_stage;
}

// Step 5b. What a stage sends: the graph outputs (last stage), else every value
// live across its end cut: graph inputs first, in input order, then the others
// in the order of their producers (a fixed message layout both ends agree on).
std::vector<int> stage_sends(const Analysis& A, int end, bool last_stage) {
  const Graph& g = A.g;
  if (last_stage) return g.outputs;
  std::vector<int> sends;
  std::vector<std::pair<int, int>> order;  // (producer position, value)
  const int c = end;
  for (size_t v = 0; v < A.V; ++v)
    if (A.computed[v] && A.prod[v] < c && A.last[v] >= c) order.push_back({A.prod[v], static_cast<int>(v)});
  std::sort(order.begin(), order.end());
  for (int in : g.inputs)
    for (const auto& o : order)
      if (o.second == in) sends.push_back(in);
  for (const auto& o : order)
    if (o.first >= 0) sends.push_back(o.second);
  return sends;
}

// Step 5c. The declared shape and dim names of a stage input for the received
// full-graph value v: a graph input keeps its declared form; any other has
// dim 0 = the batch (-1, or the model's fixed batch) and -1 for the dims that
// vary with the graph's dynamic input dims, named after them when known.
void declare_received(const Analysis& A, int v, Graph& sg) {
  const Graph& g = A.g;
  const auto gin = std::find(g.inputs.begin(), g.inputs.end(), v);
  if (gin != g.inputs.end()) {
    const size_t gk = static_cast<size_t>(gin - g.inputs.begin());
    sg.input_shapes.push_back(gk < g.input_shapes.size() ? g.input_shapes[gk] : A.s_lo[static_cast<size_t>(v)]);
    std::vector<std::string> names = gk < g.input_dim_names.size() ? g.input_dim_names[gk] : std::vector<std::string>{};
    names.resize(sg.input_shapes.back().size());
    sg.input_dim_names.push_back(names);
    return;
  }
  Shape decl = A.s_lo[static_cast<size_t>(v)];
  std::vector<std::string> names(decl.size(), "");
  const std::vector<std::string>& full_names = g.input_dim_names.empty() ? names : g.input_dim_names[0];
  if (!decl.empty()) {
    decl[0] = A.fixed > 0 ? A.fixed : -1;
    names[0] = A.fixed > 0 || full_names.empty() ? "" : full_names[0];
  }
  for (size_t d = 1; d < decl.size(); ++d)
    if (A.varies[static_cast<size_t>(v)][d]) {
      decl[d] = -1;
      const std::string& nm = A.dyn[static_cast<size_t>(v)][d];
      names[d] = nm == "?" ? "" : nm;
    }
  sg.input_shapes.push_back(decl);
  sg.input_dim_names.push_back(names);
}

// Step 5d. A stage's graph as it is filled: full-graph value ids map to stage
// ids in first-use order, and each constant is copied once (as a shell, dtype
// and shape only, when it is a large weight of a stage this rank does not run).
struct StageGraph {
  const Graph& g;
  PipelineStage& st;
  bool shells;  // this stage's constants over kShapeOnlyAbove are shells
  std::vector<int> id_of;

  StageGraph(const Graph& full, PipelineStage& stage, bool shell_weights)
      : g(full), st(stage), shells(shell_weights), id_of(full.values.size(), -1) {
    Graph& sg = st.graph;
    sg.opset = g.opset;
    sg.producer = g.producer;
    sg.source = g.source;
    sg.external_files = g.external_files;
  }
  int add_value(int v) {
    Graph& sg = st.graph;
    int& id = id_of[static_cast<size_t>(v)];
    if (id < 0) {
      id = static_cast<int>(sg.values.size());
      const Value& full = g.values[static_cast<size_t>(v)];
      if (full.is_constant && shells && full.data.bytes() > kShapeOnlyAbove) {
        sg.values.push_back(shell_of(full));  // another rank's weight: dtype and shape only
      } else {
        sg.values.push_back(full);
      }
      if (full.is_constant) {
        sg.parameter_count += full.data.numel();
        st.weight_bytes += static_cast<int64_t>(full.data.bytes());
      }
    }
    return id;
  }
};

// Step 5. Stage s of the split, nodes [begin, end), receiving `receives`: a
// standalone Graph (host-node copies, the constants it reads, inputs = the
// received values it reads) and how its message maps onto that graph.
PipelineStage build_stage(const Analysis& A, int s, int stages, int begin, int end, const std::vector<int>& receives,
                          int keep_stage, const std::string& where) {
  const Graph& g = A.g;
  const size_t N = A.N, V = A.V;
  PipelineStage st;
  st.node_begin = begin;
  st.node_end = end;
  st.receives = receives;
  const std::vector<char> in_stage = stage_node_mask(A, begin, end);
  // Values produced in the stage, and those it reads.
  std::vector<char> made(V, 0), read(V, 0);
  for (size_t i = 0; i < N; ++i) {
    if (!in_stage[i]) continue;
    for (int id : g.nodes[i].outputs)
      if (id >= 0) made[static_cast<size_t>(id)] = 1;
    for (int id : g.nodes[i].inputs)
      if (id >= 0) read[static_cast<size_t>(id)] = 1;
  }
  st.sends = stage_sends(A, end, s + 1 == stages);

  StageGraph b(g, st, keep_stage >= 0 && s != keep_stage);
  Graph& sg = st.graph;
  std::map<int, int> receive_index;
  for (size_t k = 0; k < st.receives.size(); ++k) receive_index.emplace(st.receives[k], static_cast<int>(k));
  // Inputs: received values the stage's nodes read, in receive order.
  for (size_t k = 0; k < st.receives.size(); ++k) {
    const int v = st.receives[k];
    if (!read[static_cast<size_t>(v)] || made[static_cast<size_t>(v)]) continue;
    st.input_from.push_back(static_cast<int>(k));
    sg.inputs.push_back(b.add_value(v));
    declare_received(A, v, sg);
  }
  // Nodes, in order; every value they read must be a constant, made here, or an input.
  for (size_t i = 0; i < N; ++i) {
    if (!in_stage[i]) continue;
    Node n = g.nodes[i];
    for (int& id : n.inputs) {
      if (id < 0) continue;
      const size_t v = static_cast<size_t>(id);
      if (!g.values[v].is_constant && !made[v] && b.id_of[v] < 0)
        throw ModelError(where + "internal error: pipeline stage " + std::to_string(s + 1) + " reads '" +
                         g.values[v].name + "', which it neither makes nor receives");
      id = b.add_value(id);
    }
    for (int& id : n.outputs)
      if (id >= 0) id = b.add_value(id);
    if (!A.host_node[i]) st.flops_per_row += A.flops[i];
    sg.nodes.push_back(std::move(n));
  }
  // Outputs and pass-throughs.
  for (int v : st.sends) {
    if (made[static_cast<size_t>(v)]) {
      const int id = b.add_value(v);
      auto it = std::find(sg.outputs.begin(), sg.outputs.end(), id);
      if (it == sg.outputs.end()) {
        st.send_from.push_back(static_cast<int>(sg.outputs.size()));
        sg.outputs.push_back(id);
      } else {
        st.send_from.push_back(static_cast<int>(it - sg.outputs.begin()));
      }
    } else {
      auto it = receive_index.find(v);
      if (it == receive_index.end()) {
        // A constant or host graph output: the last stage computes or holds it.
        const int id = b.add_value(v);
        st.send_from.push_back(static_cast<int>(sg.outputs.size()));
        sg.outputs.push_back(id);
      } else {
        st.send_from.push_back(-1 - it->second);
      }
    }
    st.send_bytes_per_row += static_cast<int64_t>(std::llround(A.row_bytes[static_cast<size_t>(v)]));
  }
  for (size_t k = 0; k < st.input_from.size(); ++k)
    st.input_rows.push_back(row_shape(A.s_lo[static_cast<size_t>(st.receives[static_cast<size_t>(st.input_from[k])])]));
  return st;
}

}  // namespace

std::vector<std::string> PipelineSplit::describe() const {
  std::vector<std::string> out;
  for (size_t s = 0; s < stages.size(); ++s) {
    const PipelineStage& st = stages[s];
    const Graph& g = st.graph;
    std::string first, last;
    for (const Node& n : g.nodes) {
      bool host = false;
      for (int id : n.outputs) host = host || (id >= 0 && g.values[static_cast<size_t>(id)].host);
      if (host) continue;
      if (first.empty()) first = n.op_type;
      last = n.op_type;
    }
    std::string line = "stage " + std::to_string(s + 1) + ": nodes " + std::to_string(st.node_begin) + "-" +
                       std::to_string(st.node_end - 1) + " (" + first + " ... " + last + "), " +
                       human_bytes(st.weight_bytes) + " weights, " +
                       flops_str(st.flops_per_row) + "/row, ";
    if (s + 1 == stages.size())
      line += "outputs " + std::to_string(st.sends.size()) + " value" + (st.sends.size() == 1 ? "" : "s");
    else
      line += "sends " + std::to_string(st.sends.size()) + " value" + (st.sends.size() == 1 ? "" : "s");
    line += " (" + human_bytes(st.send_bytes_per_row) + "/row)";
    out.push_back(line);
  }
  return out;
}

std::vector<Shape> send_shapes(const PipelineStage& stage, const std::vector<Shape>& receive_shapes) {
  if (receive_shapes.size() != stage.receives.size())
    throw ModelError("model " + stage.graph.source + ": stage got " + std::to_string(receive_shapes.size()) +
                     " received shapes for " + std::to_string(stage.receives.size()) + " received values");
  std::vector<Shape> in;
  for (int k : stage.input_from) in.push_back(receive_shapes[static_cast<size_t>(k)]);
  const ShapePlan p = stage.graph.plan(in);
  std::vector<Shape> out;
  for (int f : stage.send_from)
    out.push_back(f >= 0 ? p.shapes[static_cast<size_t>(stage.graph.outputs[static_cast<size_t>(f)])]
                         : receive_shapes[static_cast<size_t>(-1 - f)]);
  return out;
}

PipelineSplit split_graph(const Graph& graph, int stages, const std::vector<Shape>& input_rows, int keep_stage) {
  const std::string where = "model " + graph.source + ": ";
  if (stages < 1) throw ModelError(where + "pipeline stages must be >= 1, got " + std::to_string(stages));
  if (input_rows.size() != graph.inputs.size())
    throw ModelError(where + "has " + std::to_string(graph.inputs.size()) + " input(s) but " +
                     std::to_string(input_rows.size()) + " input shape(s) were given");
  const stage_split::Analysis A = stage_split::analyse_graph(graph, input_rows);   // steps 1-2
  const stage_split::CutPositions cuts = stage_split::find_cut_positions(A);       // step 3
  const std::vector<int> ends = stage_split::choose_cuts(A, cuts, stages, where);  // step 4: stage ends
  PipelineSplit split;  // step 5
  std::vector<int> prev_sends(graph.inputs.begin(), graph.inputs.end());
  for (int s = 0; s < stages; ++s) {
    const int begin = s == 0 ? 0 : ends[static_cast<size_t>(s) - 1];
    split.stages.push_back(
        build_stage(A, s, stages, begin, ends[static_cast<size_t>(s)], prev_sends, keep_stage, where));
    prev_sends = split.stages.back().sends;
  }
  return split;
}

}  // namespace mgi
