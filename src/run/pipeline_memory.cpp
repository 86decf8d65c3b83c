#include "pipeline_memory.hpp"

#include <algorithm>
#include <climits>

#include "error.hpp"
#include "format.hpp"

namespace mgi {

namespace {

constexpr double kUsable = 0.9;  // the headroom rule (pipeline_memory.hpp)

int64_t rows_bytes(const Graph& g, const std::vector<Shape>& rows) {
  int64_t b = 0;
  for (size_t k = 0; k < rows.size() && k < g.inputs.size(); ++k)
    b += shape_numel(rows[k]) * static_cast<int64_t>(dtype_size(g.input_type(k)));
  return b;
}

std::string budget_source(const PipelinePlan& p) {
  return std::string("90% of ") + (p.by_limit ? "runtime.memory_limit " : "free memory ") +
         human_bytes(p.available_bytes);
}

std::string need_detail(const StageMemory& m, int64_t batch) {
  std::string s = "weights " + human_bytes(m.weight_bytes) + ", activations " + human_bytes(m.activation_bytes);
  if (m.message_bytes > 0) s += ", messages " + human_bytes(m.message_bytes);
  return s + " at batch " + std::to_string(batch);
}

// Budget and the memory of one K; ModelError when the graph cannot be cut into K stages.
PipelinePlan evaluate(const Graph& g, const std::vector<Shape>& rows, int k, const PipelineMemoryInput& in) {
  PipelinePlan p;
  p.stages = k;
  p.available_bytes = std::max<int64_t>(0, in.free_bytes);
  if (in.memory_limit > 0 && in.memory_limit < p.available_bytes) {
    p.available_bytes = in.memory_limit;
    p.by_limit = true;
  }
  p.budget_bytes = static_cast<int64_t>(kUsable * static_cast<double>(p.available_bytes));
  p.split = split_graph(g, k, rows, INT_MAX);  // weights as shells: planning copies no weights
  p.memory = stage_memory(g, rows, p.split, in.batch, in.in_flight);
  p.fits = true;
  for (size_t s = 0; s < p.memory.size(); ++s) {
    if (p.memory[s].total() > p.memory[static_cast<size_t>(p.largest)].total()) p.largest = static_cast<int>(s);
    p.fits = p.fits && p.memory[s].total() <= p.budget_bytes;
  }
  return p;
}

int64_t largest_need(const PipelinePlan& p) { return p.memory[static_cast<size_t>(p.largest)].total(); }

// The fewest K in [from, max_stages] that fits (0: none, or the graph cannot be cut that far).
int first_fit(const Graph& g, const std::vector<Shape>& rows, int from, const PipelineMemoryInput& in) {
  for (int k = std::max(1, from); k <= in.max_stages; ++k) {
    try {
      if (evaluate(g, rows, k, in).fits) return k;
    } catch (const ModelError&) {
      return 0;
    }
  }
  return 0;
}

int64_t graph_weight_bytes(const Graph& g) {
  std::vector<char> seen(g.values.size(), 0);
  int64_t w = 0;
  for (const Node& n : g.nodes)
    for (int id : n.inputs)
      if (id >= 0 && g.values[static_cast<size_t>(id)].is_constant && !seen[static_cast<size_t>(id)]) {
        seen[static_cast<size_t>(id)] = 1;
        w += static_cast<int64_t>(g.values[static_cast<size_t>(id)].data.bytes());
      }
  return w;
}

}  // namespace

int64_t peak_activation_bytes(const Graph& g, const std::vector<Shape>& input_rows, int64_t batch) {
  const int64_t fixed = model_fixed_batch(g);
  std::vector<Shape> in = input_rows;
  for (Shape& s : in) s.insert(s.begin(), fixed > 0 ? fixed : batch);
  const ShapePlan plan = g.plan(in);
  const size_t N = g.nodes.size();
  std::vector<size_t> last(g.values.size(), 0);
  for (size_t i = 0; i < N; ++i)
    for (int id : g.nodes[i].inputs)
      if (id >= 0) last[static_cast<size_t>(id)] = i;
  for (int id : g.outputs) last[static_cast<size_t>(id)] = SIZE_MAX;
  std::vector<char> slot(g.values.size(), 0);
  int64_t live = 0, peak = 0;
  for (size_t i = 0; i < N; ++i) {
    const Node& n = g.nodes[i];
    for (int id : n.outputs) {
      if (id < 0) continue;
      const size_t v = static_cast<size_t>(id);
      if (g.values[v].host || g.values[v].is_constant) continue;
      slot[v] = 1;
      live += shape_numel(plan.shapes[v]) * static_cast<int64_t>(dtype_size(g.values[v].dtype));
    }
    peak = std::max(peak, live);
    for (int id : n.inputs) {
      if (id < 0) continue;
      const size_t v = static_cast<size_t>(id);
      if (slot[v] && last[v] == i) {
        slot[v] = 0;
        live -= shape_numel(plan.shapes[v]) * static_cast<int64_t>(dtype_size(g.values[v].dtype));
      }
    }
  }
  return peak;
}

std::vector<StageMemory> stage_memory(const Graph& graph, const std::vector<Shape>& input_rows,
                                      const PipelineSplit& split, int64_t batch, int in_flight) {
  std::vector<StageMemory> out;
  const size_t K = split.stages.size();
  const int64_t b = std::max<int64_t>(batch, 1);
  for (size_t s = 0; s < K; ++s) {
    const PipelineStage& st = split.stages[s];
    StageMemory m;
    m.weight_bytes = st.weight_bytes;
    m.activation_bytes = peak_activation_bytes(st.graph, st.input_rows, b);
    if (K > 1) {
      const int64_t recv = s == 0 ? rows_bytes(graph, input_rows) : split.stages[s - 1].send_bytes_per_row;
      m.message_bytes = static_cast<int64_t>(std::max(in_flight, 1)) * b * (recv + st.send_bytes_per_row);
    }
    out.push_back(m);
  }
  return out;
}

PipelinePlan choose_pipeline_stages(const Graph& graph, const std::vector<Shape>& input_rows,
                                    const PipelineMemoryInput& in) {
  const int max_k = std::max(1, in.max_stages);
  // Each stage holds at least its share of the weights: no K below weights / budget can fit.
  PipelinePlan one = evaluate(graph, input_rows, 1, in);
  int k0 = 1;
  if (!one.fits && one.budget_bytes > 0)
    k0 = static_cast<int>(std::min<int64_t>(max_k, std::max<int64_t>(2, graph_weight_bytes(graph) / one.budget_bytes)));
  PipelinePlan best = one;
  for (int k = k0; k <= max_k && !one.fits; ++k) {
    PipelinePlan p;
    try {
      p = evaluate(graph, input_rows, k, in);
    } catch (const ModelError&) {
      break;  // the graph cannot be cut into more stages
    }
    const bool fits = p.fits;
    if (fits || largest_need(p) < largest_need(best)) best = std::move(p);
    if (fits) break;
  }
  // What one stage fewer would need, for the reason.
  PipelinePlan prev;
  bool have_prev = false;
  if (best.fits && best.stages > 1) {
    try {
      prev = best.stages == 2 ? one : evaluate(graph, input_rows, best.stages - 1, in);
      have_prev = true;
    } catch (const ModelError&) {
    }
  }
  const StageMemory& m = best.memory[static_cast<size_t>(best.largest)];
  if (best.fits) {
    best.reason = "runtime.pipeline_stages auto: " + std::to_string(best.stages) +
                  (best.stages == 1 ? " stage, the model needs " : " stages, the largest needs ") +
                  human_bytes(m.total()) + " (" + need_detail(m, in.batch) + ") of " + human_bytes(best.budget_bytes) +
                  " usable (" + budget_source(best) + ")";
    if (best.stages > 1 && have_prev && prev.stages == best.stages - 1)
      best.reason += "; " + std::to_string(prev.stages) + (prev.stages == 1 ? " stage would need " : " stages would need ") +
                     human_bytes(largest_need(prev));
  } else {
    best.reason = "runtime.pipeline_stages auto: no number of stages up to " + std::to_string(max_k) +
                  " fits; the best, " + std::to_string(best.stages) + ", needs " + human_bytes(m.total()) + " (" +
                  need_detail(m, in.batch) + ") in its largest stage, rank has " + human_bytes(best.budget_bytes) +
                  " (" + budget_source(best) + "; lower runtime.batch_size or use more ranks)";
  }
  return best;
}

PipelinePlan plan_pipeline_stages(const Graph& graph, const std::vector<Shape>& input_rows, int stages,
                                  const PipelineMemoryInput& in) {
  PipelinePlan p = evaluate(graph, input_rows, stages, in);
  const StageMemory& m = p.memory[static_cast<size_t>(p.largest)];
  const std::string has = ", rank has " + human_bytes(p.budget_bytes) + " (" + budget_source(p) + ")";
  if (p.fits) {
    p.reason = "runtime.pipeline_stages " + std::to_string(stages) + ": the largest stage needs " +
               human_bytes(m.total()) + " (" + need_detail(m, in.batch) + ") of " + human_bytes(p.budget_bytes) +
               " usable (" + budget_source(p) + ")";
    return p;
  }
  p.would_fit = first_fit(graph, input_rows, stages + 1, in);
  p.reason = (stages == 1 ? "model needs " : "stage " + std::to_string(p.largest + 1) + " of " +
                                                 std::to_string(stages) + " needs ") +
             human_bytes(m.total()) + has + "; " +
             (p.would_fit > 0 ? "runtime.pipeline_stages: " + std::to_string(p.would_fit) + " would fit"
                              : "no runtime.pipeline_stages up to " + std::to_string(std::max(1, in.max_stages)) +
                                    " fits (lower runtime.batch_size)");
  return p;
}

std::vector<std::string> describe_stage_memory(const std::vector<StageMemory>& memory) {
  std::vector<std::string> out;
  for (size_t s = 0; s < memory.size(); ++s) {
    const StageMemory& m = memory[s];
    std::string line = "stage " + std::to_string(s + 1) + ": weights " + human_bytes(m.weight_bytes) +
                       ", activations " + human_bytes(m.activation_bytes);
    if (m.message_bytes > 0) line += ", messages " + human_bytes(m.message_bytes);
    out.push_back(line + " (total " + human_bytes(m.total()) + ")");
  }
  return out;
}

}  // namespace mgi
