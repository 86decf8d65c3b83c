// TEMPORARY stand-in for split_graph() until the split lands (branch
// pipeline-split): cuts evenly by node count where every crossing value is a
// computed value; every stage keeps all of the graph's values (so its weight
// bytes are only those its nodes use, but the Graph holds every constant).
#include <algorithm>
#include <set>

#include "error.hpp"
#include "stage_split.hpp"

namespace mgi {

std::vector<std::string> PipelineSplit::describe() const {
  std::vector<std::string> out;
  for (size_t s = 0; s < stages.size(); ++s) {
    const PipelineStage& st = stages[s];
    out.push_back("stage " + std::to_string(s + 1) + ": nodes " + std::to_string(st.node_begin) + "-" +
                  std::to_string(st.node_end - 1) + ", " + std::to_string(st.weight_bytes) + " B weights, sends " +
                  std::to_string(st.sends.size()) + " value(s)");
  }
  return out;
}

PipelineSplit split_graph(const Graph& g, int stages, const std::vector<Shape>& input_rows) {
  (void)input_rows;
  const int n = static_cast<int>(g.nodes.size());
  std::vector<int> def(g.values.size(), -2), last(g.values.size(), -1);
  for (int v : g.inputs) def[v] = -1;
  for (int i = 0; i < n; ++i) {
    for (int v : g.nodes[i].outputs)
      if (v >= 0) def[v] = i;
    for (int v : g.nodes[i].inputs)
      if (v >= 0) last[v] = std::max(last[v], i);
  }
  for (int v : g.outputs) last[v] = n;
  auto crossing = [&](int c) {
    std::vector<int> x;
    for (size_t v = 0; v < g.values.size(); ++v)
      if (def[v] >= -1 && def[v] < c && last[v] >= c && !g.values[v].is_constant) x.push_back(static_cast<int>(v));
    return x;
  };
  auto valid = [&](int c) {
    for (size_t v = 0; v < g.values.size(); ++v)
      if (def[v] >= -1 && def[v] < c && last[v] >= c && def[v] >= 0 && g.values[v].host) return false;
    return !crossing(c).empty();
  };
  std::vector<int> cands;
  for (int c = 1; c < n; ++c)
    if (valid(c)) cands.push_back(c);
  if (static_cast<int>(cands.size()) < stages - 1)
    throw ModelError("model " + g.source + ": only " + std::to_string(cands.size() + 1) + " pipeline stage(s) possible");
  std::vector<int> cuts{0};
  for (int s = 1; s < stages; ++s) {
    const int want = n * s / stages;
    int best = -1;
    for (int c : cands)
      if (c > cuts.back() && (best < 0 || std::abs(c - want) < std::abs(best - want))) best = c;
    cuts.push_back(best);
  }
  cuts.push_back(n);
  PipelineSplit split;
  for (int s = 0; s < stages; ++s) {
    PipelineStage st;
    st.node_begin = cuts[s];
    st.node_end = cuts[s + 1];
    st.receives = s == 0 ? g.inputs : crossing(cuts[s]);
    st.sends = s == stages - 1 ? g.outputs : crossing(cuts[s + 1]);
    Graph& sg = st.graph;
    sg.values = g.values;
    sg.opset = g.opset;
    sg.source = g.source;
    sg.producer = g.producer;
    std::set<int> used, made;
    for (int i = st.node_begin; i < st.node_end; ++i) {
      sg.nodes.push_back(g.nodes[i]);
      for (int v : g.nodes[i].inputs)
        if (v >= 0) used.insert(v);
      for (int v : g.nodes[i].outputs)
        if (v >= 0) made.insert(v);
    }
    for (size_t k = 0; k < st.receives.size(); ++k) {
      const int v = st.receives[k];
      if (!used.count(v)) continue;
      sg.inputs.push_back(v);
      st.input_from.push_back(static_cast<int>(k));
    }
    for (int v : st.sends) {
      if (made.count(v)) {
        auto it = std::find(sg.outputs.begin(), sg.outputs.end(), v);
        if (it == sg.outputs.end()) {
          sg.outputs.push_back(v);
          it = sg.outputs.end() - 1;
        }
        st.send_from.push_back(static_cast<int>(it - sg.outputs.begin()));
      } else {
        const auto it = std::find(st.receives.begin(), st.receives.end(), v);
        MGI_ASSERT(it != st.receives.end(), "stub split: a sent value is neither made nor received");
        st.send_from.push_back(-1 - static_cast<int>(it - st.receives.begin()));
      }
    }
    for (int v : used)
      if (g.values[v].is_constant) st.weight_bytes += static_cast<int64_t>(g.values[v].data.bytes());
    split.stages.push_back(std::move(st));
  }
  return split;
}

}  // namespace mgi
