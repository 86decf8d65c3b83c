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
//    in O(K x cuts) with a sliding-window minimum.
// 5. Each stage is built as a standalone Graph: its node range, preceded by
//    copies of the host nodes before it whose results it needs; only the
//    constants its nodes read; inputs = the received values it reads.
#include "stage_split.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <limits>
#include <map>
#include <set>

#include "error.hpp"
#include "format.hpp"
#include "graph_fuse.hpp"
#include "op_registry.hpp"

namespace mgi {

namespace {

constexpr double kBalanceSlack = 1.10;      // near-balanced: every stage load <= 1.1 x the best largest load
constexpr int64_t kPerValueCost = 256;      // bytes a crossing value costs on top of its size (fewer values)
constexpr size_t kShapeOnlyAbove = 64 * 1024;  // split_graph(keep_stage): other stages' constants above this are shells

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

// Rough FLOPs of one node at the planned shapes: contractions count 2 per
// multiply-add, everything else one per element of its largest operand.
double node_flops(const Graph& g, const Node& n, const std::vector<Shape>& sh) {
  auto numel = [&](int id) -> double {
    return id < 0 ? 0.0 : static_cast<double>(shape_numel(sh[static_cast<size_t>(id)]));
  };
  const Shape* a = n.inputs.size() > 0 && n.inputs[0] >= 0 ? &sh[static_cast<size_t>(n.inputs[0])] : nullptr;
  const Shape* b = n.inputs.size() > 1 && n.inputs[1] >= 0 ? &sh[static_cast<size_t>(n.inputs[1])] : nullptr;
  const double out = n.outputs.empty() ? 0.0 : numel(n.outputs[0]);
  if ((n.is("MatMul") || n.is("Gemm")) && a && !a->empty()) {
    int64_t k = a->back();
    if (n.is("Gemm") && a->size() == 2) k = n.trans_a ? (*a)[0] : (*a)[1];
    return 2.0 * out * static_cast<double>(k);
  }
  if (n.is("Conv") && b && !b->empty() && (*b)[0] > 0)
    return 2.0 * out * static_cast<double>(shape_numel(*b) / (*b)[0]);
  if (n.is("ConvTranspose") && b && !b->empty() && (*b)[0] > 0)
    return 2.0 * numel(n.inputs[0]) * static_cast<double>(shape_numel(*b) / (*b)[0]);
  double m = 0;
  for (int id : n.inputs)
    if (id >= 0 && !g.values[static_cast<size_t>(id)].is_constant) m = std::max(m, numel(id));
  for (int id : n.outputs) m = std::max(m, numel(id));
  return m;
}

std::vector<Shape> with_batch(const std::vector<Shape>& rows, int64_t b) {
  std::vector<Shape> in = rows;
  for (Shape& s : in) s.insert(s.begin(), b);
  return in;
}

struct Analysis {
  const Graph& g;
  size_t N = 0, V = 0;
  int64_t fixed = 0;  // the model's fixed batch (0: dynamic)
  int64_t b_lo = 2, b_hi = 3;
  std::vector<Shape> s_lo, s_hi;                 // value shapes at the two batch sizes
  std::vector<std::vector<std::string>> dyn;     // per value, per dim: the dynamic dim groups it varies with ("" none; "?" unknown name)
  std::vector<std::vector<char>> varies;         // per value, per dim: varies with some dynamic input dim
  std::vector<int> prod;                         // producing node per value (-1: graph input or constant)
  std::vector<int> last;                         // last position the value is needed (-1: never)
  std::vector<char> computed;                    // non-constant, non-host
  std::vector<char> batch_first;                 // rows independent of the batch, batch first
  std::vector<char> absorbed;                    // fuse_graph folds it into its reader
  std::vector<double> row_bytes;                 // bytes of one row at the sample shapes
  std::vector<double> flops, weights;            // per node (weights: constants first read there)
  std::vector<char> host_node;

  explicit Analysis(const Graph& graph) : g(graph) {}
};

// `v` without the bytes of its constant: dtype and shape only.
Value shell_of(const Value& v) {
  Value shell;
  shell.name = v.name;
  shell.dtype = v.dtype;
  shell.is_constant = true;
  shell.data.dtype = v.data.dtype;
  shell.data.shape = v.data.shape;
  return shell;
}

// The graph with its constants over kShapeOnlyAbove as shells (fusion decisions
// read constants' shapes only), so analysing a big model copies no weights.
Graph shell_copy(const Graph& g) {
  Graph c;
  c.nodes = g.nodes;
  c.inputs = g.inputs;
  c.input_shapes = g.input_shapes;
  c.input_dim_names = g.input_dim_names;
  c.outputs = g.outputs;
  c.opset = g.opset;
  c.source = g.source;
  c.values.reserve(g.values.size());
  for (const Value& v : g.values)
    c.values.push_back(v.is_constant && v.data.bytes() > kShapeOnlyAbove ? shell_of(v) : v);
  return c;
}

ShapePlan plan_rows(const Graph& g, const std::vector<Shape>& rows, int64_t b) {
  return g.plan(with_batch(rows, b));
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
  const bool keep_all = keep_stage < 0;
  const std::string where = "model " + graph.source + ": ";
  if (stages < 1) throw ModelError(where + "pipeline stages must be >= 1, got " + std::to_string(stages));
  if (input_rows.size() != graph.inputs.size())
    throw ModelError(where + "has " + std::to_string(graph.inputs.size()) + " input(s) but " +
                     std::to_string(input_rows.size()) + " input shape(s) were given");
  Analysis A(graph);
  const Graph& g = graph;
  A.N = g.nodes.size();
  A.V = g.values.size();
  const size_t N = A.N, V = A.V;
  A.fixed = model_fixed_batch(g);
  if (A.fixed > 0) A.b_lo = A.b_hi = A.fixed;
  const ShapePlan p_lo = plan_rows(g, input_rows, A.b_lo);
  A.s_lo = p_lo.shapes;
  A.s_hi = A.fixed > 0 ? A.s_lo : plan_rows(g, input_rows, A.b_hi).shapes;

  // Dynamic input dims, grouped by declared name (unnamed ones each alone).
  std::map<std::string, std::vector<std::pair<size_t, size_t>>> groups;  // name -> (input, dim >= 1)
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    const Shape& decl = k < g.input_shapes.size() ? g.input_shapes[k] : Shape{};
    for (size_t d = 1; d < decl.size(); ++d) {
      if (decl[d] >= 0) continue;
      std::string name = k < g.input_dim_names.size() && d < g.input_dim_names[k].size() ? g.input_dim_names[k][d] : "";
      if (name.empty()) name = "\x01" + std::to_string(k) + "." + std::to_string(d);  // unnamed: its own group
      groups[name].push_back({k, d});
    }
  }
  A.varies.assign(V, {});
  A.dyn.assign(V, {});
  for (size_t v = 0; v < V; ++v) {
    A.varies[v].assign(A.s_lo[v].size(), 0);
    A.dyn[v].assign(A.s_lo[v].size(), "");
  }
  for (const auto& [name, dims] : groups) {
    std::vector<Shape> shapes;
    bool planned = false;
    for (int attempt = 0; attempt < 3 && !planned; ++attempt) {
      std::vector<Shape> rows = input_rows;
      for (const auto& [k, d] : dims) {
        int64_t& x = rows[k][d - 1];
        x = attempt == 0 ? (x > 1 ? x - 1 : x + 1) : attempt == 1 ? x + 1 : std::max<int64_t>(1, x / 2);
      }
      try {
        shapes = plan_rows(g, rows, A.b_lo).shapes;
        planned = true;
      } catch (const Error&) {
      }
    }
    const std::string label = name[0] == '\x01' ? std::string() : name;
    for (size_t v = 0; v < V; ++v) {
      if (!planned) {
        // Cannot vary it: every dim of a computed value may depend on it, except dims that the
        // batch-size plan already shows are fixed (we cannot tell): assume the declared form.
        continue;
      }
      if (shapes[v].size() != A.s_lo[v].size()) {
        for (size_t d = 0; d < A.varies[v].size(); ++d) A.varies[v][d] = 1;  // rank changes: unusable
        A.dyn[v].assign(A.s_lo[v].size(), "?");
        continue;
      }
      for (size_t d = 0; d < shapes[v].size(); ++d)
        if (shapes[v][d] != A.s_lo[v][d]) {
          A.dyn[v][d] = A.varies[v][d] ? "?" : label;
          A.varies[v][d] = 1;
        }
    }
  }
  // Graph inputs: their declared dynamic dims vary whether or not the sample showed it.
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    const size_t v = static_cast<size_t>(g.inputs[k]);
    const Shape& decl = k < g.input_shapes.size() ? g.input_shapes[k] : Shape{};
    for (size_t d = 1; d < decl.size() && d < A.varies[v].size(); ++d)
      if (decl[d] < 0) {
        A.varies[v][d] = 1;
        const std::string name =
            k < g.input_dim_names.size() && d < g.input_dim_names[k].size() ? g.input_dim_names[k][d] : "";
        A.dyn[v][d] = name;
      }
  }

  // Producers, kinds, liveness.
  A.prod.assign(V, -1);
  A.host_node.assign(N, 0);
  for (size_t i = 0; i < N; ++i)
    for (int id : g.nodes[i].outputs)
      if (id >= 0) {
        A.prod[static_cast<size_t>(id)] = static_cast<int>(i);
        if (g.values[static_cast<size_t>(id)].host) A.host_node[i] = 1;
      }
  A.computed.assign(V, 0);
  for (size_t v = 0; v < V; ++v) A.computed[v] = !g.values[v].is_constant && !g.values[v].host;
  std::vector<int> need(V, -1);  // last position a value's result is needed (host values: through their readers)
  for (int id : g.outputs) need[static_cast<size_t>(id)] = static_cast<int>(N);
  std::vector<int> node_need(N, 0);  // host nodes: last position their results are needed (at least their own)
  for (size_t r = N; r-- > 0;) {
    const Node& n = g.nodes[r];
    int at = static_cast<int>(r);
    if (A.host_node[r])
      for (int id : n.outputs)
        if (id >= 0) at = std::max(at, need[static_cast<size_t>(id)]);
    node_need[r] = at;
    for (int id : n.inputs)
      if (id >= 0) need[static_cast<size_t>(id)] = std::max(need[static_cast<size_t>(id)], at);
  }
  A.last = need;

  // Batch-first rows and the bytes of a row.
  A.batch_first.assign(V, 0);
  A.row_bytes.assign(V, 0);
  for (size_t v = 0; v < V; ++v) {
    if (!A.computed[v]) continue;
    const Shape &lo = A.s_lo[v], &hi = A.s_hi[v];
    const bool ok = !lo.empty() && lo.size() == hi.size() && lo[0] == A.b_lo && hi[0] == A.b_hi &&
                    row_shape(lo) == row_shape(hi) && !A.varies[v].empty() && !A.varies[v][0];
    A.batch_first[v] = ok;
    A.row_bytes[v] = static_cast<double>(shape_numel(lo)) * static_cast<double>(dtype_size(g.values[v].dtype)) /
                     static_cast<double>(A.b_lo);
  }

  // What fuse_graph() folds away: outputs of nodes that no fused node produces.
  A.absorbed.assign(V, 0);
  {
    const Graph fused = fuse_graph(shell_copy(g), input_rows);
    std::vector<char> produced(V, 0);
    for (const Node& n : fused.nodes)
      for (int id : n.outputs)
        if (id >= 0) produced[static_cast<size_t>(id)] = 1;
    for (const Node& n : g.nodes)
      for (int id : n.outputs)
        if (id >= 0 && !produced[static_cast<size_t>(id)]) A.absorbed[static_cast<size_t>(id)] = 1;
  }

  // Per-node FLOPs (per row) and weights (a constant counts at its first reader).
  A.flops.assign(N, 0);
  A.weights.assign(N, 0);
  {
    std::vector<char> seen(V, 0);
    for (size_t i = 0; i < N; ++i) {
      const Node& n = g.nodes[i];
      if (!A.host_node[i]) {
        double f = node_flops(g, n, A.s_lo);
        if (A.fixed == 0) f = std::max(0.0, node_flops(g, n, A.s_hi) - f);  // one more row
        else f /= static_cast<double>(A.fixed);
        A.flops[i] = f;
      }
      for (int id : n.inputs)
        if (id >= 0 && g.values[static_cast<size_t>(id)].is_constant && !seen[static_cast<size_t>(id)]) {
          seen[static_cast<size_t>(id)] = 1;
          A.weights[i] += static_cast<double>(g.values[static_cast<size_t>(id)].data.bytes());
        }
    }
  }

  // Crossing cost and validity per cut position c in [1, N): difference arrays over (prod, last].
  std::vector<double> cross(N + 1, 0);
  std::vector<int> bad(N + 2, 0);
  {
    std::vector<double> dcross(N + 2, 0);
    std::vector<int> dbad(N + 2, 0);
    for (size_t v = 0; v < V; ++v) {
      if (!A.computed[v] || A.last[v] < 0) continue;
      const int lo = A.prod[v] + 1, hi = std::min<int>(A.last[v], static_cast<int>(N));  // crosses c in [lo, hi]
      if (lo > hi) continue;
      dcross[static_cast<size_t>(lo)] += A.row_bytes[v] + kPerValueCost;
      dcross[static_cast<size_t>(hi) + 1] -= A.row_bytes[v] + kPerValueCost;
      if (!A.batch_first[v] || A.absorbed[v]) {
        ++dbad[static_cast<size_t>(lo)];
        --dbad[static_cast<size_t>(hi) + 1];
      }
    }
    double c = 0;
    int b = 0;
    for (size_t i = 0; i <= N; ++i) {
      c += dcross[i];
      b += dbad[i];
      cross[i] = c;
      bad[i] = b;
    }
  }
  int first_runtime = -1;
  for (size_t i = 0; i < N && first_runtime < 0; ++i)
    if (!A.host_node[i]) first_runtime = static_cast<int>(i);
  std::vector<int> cuts;  // valid cut positions, ascending
  for (size_t c = 1; c < N; ++c)
    if (!A.host_node[c] && static_cast<int>(c) > first_runtime && bad[c] == 0) cuts.push_back(static_cast<int>(c));
  if (static_cast<int>(cuts.size()) < stages - 1)
    throw ModelError(where + "cannot be cut into " + std::to_string(stages) + " pipeline stages: it has " +
                     std::to_string(cuts.size()) + " place" + (cuts.size() == 1 ? "" : "s") +
                     " where only batch-first values cross (at most " + std::to_string(cuts.size() + 1) +
                     " stage" + (cuts.size() == 0 ? "" : "s") + "; runtime.pipeline_stages)");

  // Balance: prefix sums of weight and FLOP shares.
  std::vector<double> W(N + 1, 0), F(N + 1, 0);
  for (size_t i = 0; i < N; ++i) {
    W[i + 1] = W[i] + A.weights[i];
    F[i + 1] = F[i] + A.flops[i];
  }
  const double Wt = W[N] > 0 ? W[N] : 1, Ft = F[N] > 0 ? F[N] : 1;
  auto load = [&](int a, int b) {
    return std::max((W[static_cast<size_t>(b)] - W[static_cast<size_t>(a)]) / Wt,
                    (F[static_cast<size_t>(b)] - F[static_cast<size_t>(a)]) / Ft);
  };
  // Points: 0, the valid cuts, N.
  std::vector<int> pts;
  pts.push_back(0);
  pts.insert(pts.end(), cuts.begin(), cuts.end());
  pts.push_back(static_cast<int>(N));
  const size_t P = pts.size();
  // Fewest stages whose loads are all <= cap (greedy furthest reach); large when impossible.
  auto min_stages = [&](double cap) {
    int count = 0;
    size_t at = 0;
    while (at + 1 < P) {
      size_t nxt = at;
      while (nxt + 1 < P && load(pts[at], pts[nxt + 1]) <= cap) ++nxt;
      if (nxt == at) return std::numeric_limits<int>::max();
      at = nxt;
      ++count;
    }
    return count;
  };
  double lo = 0, hi = 1.0 + 1e-9;
  for (int it = 0; it < 60; ++it) {
    const double mid = 0.5 * (lo + hi);
    if (min_stages(mid) <= stages) hi = mid;
    else lo = mid;
  }
  const double best = hi;

  // DP: dp[k][j] = least crossing cost of k stages covering [0, pts[j]) with every
  // load in [floor, cap]. For a fixed j the stages [pts[i], pts[j]) allowed form a
  // window lo(j) <= i <= hi(j), both ends moving forward with j (loads grow with
  // the stage): a sliding-window minimum over dp[k-1].
  const double inf = std::numeric_limits<double>::infinity();
  auto solve = [&](double cap, double floor) {
    std::vector<std::vector<double>> dp(static_cast<size_t>(stages) + 1, std::vector<double>(P, inf));
    std::vector<std::vector<int>> from(static_cast<size_t>(stages) + 1, std::vector<int>(P, -1));
    dp[0][0] = 0;
    for (size_t k = 1; k <= static_cast<size_t>(stages); ++k) {
      std::deque<size_t> win;  // admitted i, increasing dp[k-1][i]
      size_t lo_i = 0, next_i = 0;
      for (size_t j = 1; j < P; ++j) {
        while (next_i < j && load(pts[next_i], pts[j]) >= floor) {  // admit i = next_i
          if (dp[k - 1][next_i] < inf) {
            while (!win.empty() && dp[k - 1][win.back()] >= dp[k - 1][next_i]) win.pop_back();
            win.push_back(next_i);
          }
          ++next_i;
        }
        while (lo_i < j && load(pts[lo_i], pts[j]) > cap) ++lo_i;
        while (!win.empty() && win.front() < lo_i) win.pop_front();
        if (win.empty()) continue;
        const size_t i = win.front();
        const double c = (j + 1 < P) ? cross[static_cast<size_t>(pts[j])] : 0.0;
        dp[k][j] = dp[k - 1][i] + c;
        from[k][j] = static_cast<int>(i);
      }
    }
    std::vector<int> ends;
    if (dp[static_cast<size_t>(stages)][P - 1] == inf) return ends;
    size_t j = P - 1;
    for (size_t k = static_cast<size_t>(stages); k > 0; --k) {
      ends.push_back(pts[j]);
      j = static_cast<size_t>(from[k][j]);
    }
    std::reverse(ends.begin(), ends.end());
    return ends;
  };
  // Near-balanced first (largest load within 1.1x the best), then no stage
  // below half (a quarter, any) of an even share.
  std::vector<int> chosen;
  for (double slack = kBalanceSlack; chosen.empty(); slack += 0.1) {
    for (double share : {0.5, 0.25, 0.0}) {
      chosen = solve(best * slack + 1e-12, share / stages);
      if (!chosen.empty()) break;
    }
    if (chosen.empty() && slack > 100) throw ModelError(where + "internal error: no pipeline split found");
  }

  // Build the stages.
  PipelineSplit split;
  std::vector<int> bounds;
  bounds.push_back(0);
  bounds.insert(bounds.end(), chosen.begin(), chosen.end());
  std::vector<int> prev_sends(g.inputs.begin(), g.inputs.end());
  for (int s = 0; s < stages; ++s) {
    PipelineStage st;
    st.node_begin = bounds[static_cast<size_t>(s)];
    st.node_end = bounds[static_cast<size_t>(s) + 1];
    st.receives = prev_sends;
    const bool last_stage = s + 1 == stages;
    // Host nodes before the range whose results the stage needs, found backwards.
    std::vector<char> in_stage(N, 0);
    for (int i = st.node_begin; i < st.node_end; ++i) in_stage[static_cast<size_t>(i)] = 1;
    std::vector<char> wanted(V, 0);
    for (int i = st.node_end; i-- > 0;) {
      const Node& n = g.nodes[static_cast<size_t>(i)];
      if (i < st.node_begin) {
        bool used = false;
        for (int id : n.outputs) used = used || (id >= 0 && wanted[static_cast<size_t>(id)]);
        if (!A.host_node[static_cast<size_t>(i)] || !used) continue;
        in_stage[static_cast<size_t>(i)] = 1;
      }
      for (int id : n.inputs)
        if (id >= 0 && g.values[static_cast<size_t>(id)].host) wanted[static_cast<size_t>(id)] = 1;
    }
    // Values produced in the stage, and those it reads.
    std::vector<char> made(V, 0), read(V, 0);
    for (size_t i = 0; i < N; ++i) {
      if (!in_stage[i]) continue;
      for (int id : g.nodes[i].outputs)
        if (id >= 0) made[static_cast<size_t>(id)] = 1;
      for (int id : g.nodes[i].inputs)
        if (id >= 0) read[static_cast<size_t>(id)] = 1;
    }
    // Sends: the graph outputs (last stage), else every value live across the end cut.
    if (last_stage) {
      st.sends = g.outputs;
    } else {
      std::vector<std::pair<int, int>> order;  // (producer position, value)
      const int c = st.node_end;
      for (size_t v = 0; v < V; ++v)
        if (A.computed[v] && A.prod[v] < c && A.last[v] >= c) order.push_back({A.prod[v], static_cast<int>(v)});
      std::sort(order.begin(), order.end());
      // Graph inputs first, in input order.
      for (int in : g.inputs)
        for (const auto& o : order)
          if (o.second == in) st.sends.push_back(in);
      for (const auto& o : order)
        if (o.first >= 0) st.sends.push_back(o.second);
    }

    // The stage graph.
    Graph& sg = st.graph;
    sg.opset = g.opset;
    sg.producer = g.producer;
    sg.source = g.source;
    sg.external_files = g.external_files;
    std::vector<int> id_of(V, -1);
    auto add_value = [&](int v) {
      int& id = id_of[static_cast<size_t>(v)];
      if (id < 0) {
        id = static_cast<int>(sg.values.size());
        const Value& full = g.values[static_cast<size_t>(v)];
        if (full.is_constant && !keep_all && s != keep_stage && full.data.bytes() > kShapeOnlyAbove) {
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
    };
    std::map<int, int> receive_index;
    for (size_t k = 0; k < st.receives.size(); ++k) receive_index.emplace(st.receives[k], static_cast<int>(k));
    // Inputs: received values the stage's nodes read, in receive order.
    for (size_t k = 0; k < st.receives.size(); ++k) {
      const int v = st.receives[k];
      if (!read[static_cast<size_t>(v)] || made[static_cast<size_t>(v)]) continue;
      st.input_from.push_back(static_cast<int>(k));
      sg.inputs.push_back(add_value(v));
      const auto gin = std::find(g.inputs.begin(), g.inputs.end(), v);
      if (gin != g.inputs.end()) {  // a graph input keeps its declared form
        const size_t gk = static_cast<size_t>(gin - g.inputs.begin());
        sg.input_shapes.push_back(gk < g.input_shapes.size() ? g.input_shapes[gk] : A.s_lo[static_cast<size_t>(v)]);
        std::vector<std::string> names = gk < g.input_dim_names.size() ? g.input_dim_names[gk] : std::vector<std::string>{};
        names.resize(sg.input_shapes.back().size());
        sg.input_dim_names.push_back(names);
        continue;
      }
      Shape decl = A.s_lo[static_cast<size_t>(v)];
      std::vector<std::string> names(decl.size(), "");
      const std::vector<std::string>& full_names =
          g.input_dim_names.empty() ? names : g.input_dim_names[0];
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
    // Nodes, in order; every value they read must be a constant, made here, or an input.
    for (size_t i = 0; i < N; ++i) {
      if (!in_stage[i]) continue;
      Node n = g.nodes[i];
      for (int& id : n.inputs) {
        if (id < 0) continue;
        const size_t v = static_cast<size_t>(id);
        if (!g.values[v].is_constant && !made[v] && id_of[v] < 0)
          throw ModelError(where + "internal error: pipeline stage " + std::to_string(s + 1) + " reads '" +
                           g.values[v].name + "', which it neither makes nor receives");
        id = add_value(id);
      }
      for (int& id : n.outputs)
        if (id >= 0) id = add_value(id);
      if (!A.host_node[i]) st.flops_per_row += A.flops[i];
      sg.nodes.push_back(std::move(n));
    }
    // Outputs and pass-throughs.
    for (int v : st.sends) {
      if (made[static_cast<size_t>(v)]) {
        const int id = add_value(v);
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
          const int id = add_value(v);
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
    prev_sends = st.sends;
    split.stages.push_back(std::move(st));
  }
  return split;
}

}  // namespace mgi
