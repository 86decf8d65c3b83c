// split_graph()'s analysis of the whole graph (steps 1-3 of stage_split.cpp's
// header comment): sample plans, dynamic dims, liveness, the fusion rule, and
// the valid cut positions with what crosses each.
#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "error.hpp"
#include "graph_fuse.hpp"
#include "op_registry.hpp"
#include "stage_split_internal.hpp"

namespace mgi::stage_split {

namespace {

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

ShapePlan plan_rows(const Graph& g, const std::vector<Shape>& rows, int64_t b) {
  return g.plan(with_batch(rows, b));
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

// Step 1a. Value shapes at two batch sizes (the model's fixed batch twice when
// it has one): a value is batch first when its dim 0 follows the batch and its
// row does not change with it.
void plan_samples(Analysis& A, const std::vector<Shape>& input_rows) {
  const Graph& g = A.g;
  A.fixed = model_fixed_batch(g);
  if (A.fixed > 0) A.b_lo = A.b_hi = A.fixed;
  A.s_lo = plan_rows(g, input_rows, A.b_lo).shapes;
  A.s_hi = A.fixed > 0 ? A.s_lo : plan_rows(g, input_rows, A.b_hi).shapes;
}

// Step 1b. Which dims of each value vary with the graph's dynamic input dims
// (and with which, by declared name): a stage input declares those dims -1 so
// that run_shaped() batches of other lengths plan. Dims are grouped by name
// since inputs sharing a dim name must change together to plan at all.
void mark_varying_dims(Analysis& A, const std::vector<Shape>& input_rows) {
  const Graph& g = A.g;
  const size_t V = A.V;
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
}

// Step 2. Producers, host nodes, and the last position each value is needed:
// what is live at a cut is what crosses it. A host node's inputs count as read
// where its results are last needed, since a later stage recomputes the host
// chain and so needs the shapes it reads.
void mark_liveness(Analysis& A) {
  const Graph& g = A.g;
  const size_t N = A.N, V = A.V;
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
  for (size_t r = N; r-- > 0;) {
    const Node& n = g.nodes[r];
    int at = static_cast<int>(r);  // host nodes: last position their results are needed (at least their own)
    if (A.host_node[r])
      for (int id : n.outputs)
        if (id >= 0) at = std::max(at, need[static_cast<size_t>(id)]);
    for (int id : n.inputs)
      if (id >= 0) need[static_cast<size_t>(id)] = std::max(need[static_cast<size_t>(id)], at);
  }
  A.last = need;
}

// Batch-first rows (only those may cross a cut, so rows stay independent) and
// the bytes of a row (the crossing cost and the stages' send sizes).
void mark_batch_first(Analysis& A) {
  const Graph& g = A.g;
  A.batch_first.assign(A.V, 0);
  A.row_bytes.assign(A.V, 0);
  for (size_t v = 0; v < A.V; ++v) {
    if (!A.computed[v]) continue;
    const Shape &lo = A.s_lo[v], &hi = A.s_hi[v];
    const bool ok = !lo.empty() && lo.size() == hi.size() && lo[0] == A.b_lo && hi[0] == A.b_hi &&
                    row_shape(lo) == row_shape(hi) && !A.varies[v].empty() && !A.varies[v][0];
    A.batch_first[v] = ok;
    A.row_bytes[v] = static_cast<double>(shape_numel(lo)) * static_cast<double>(dtype_size(g.values[v].dtype)) /
                     static_cast<double>(A.b_lo);
  }
}

// The fusion rule's input: what fuse_graph() folds away (outputs of nodes that
// no fused node produces). No cut may cross such a value, so each stage fuses
// exactly as the whole graph does.
void mark_absorbed(Analysis& A, const std::vector<Shape>& input_rows) {
  const Graph& g = A.g;
  A.absorbed.assign(A.V, 0);
  const Graph fused = fuse_graph(shell_copy(g), input_rows);
  std::vector<char> produced(A.V, 0);
  for (const Node& n : fused.nodes)
    for (int id : n.outputs)
      if (id >= 0) produced[static_cast<size_t>(id)] = 1;
  for (const Node& n : g.nodes)
    for (int id : n.outputs)
      if (id >= 0 && !produced[static_cast<size_t>(id)]) A.absorbed[static_cast<size_t>(id)] = 1;
}

// Per-node FLOPs (per row) and weights (a constant counts at its first
// reader): the two loads step 4 balances.
void count_node_costs(Analysis& A) {
  const Graph& g = A.g;
  A.flops.assign(A.N, 0);
  A.weights.assign(A.N, 0);
  std::vector<char> seen(A.V, 0);
  for (size_t i = 0; i < A.N; ++i) {
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

}  // namespace

Value shell_of(const Value& v) {
  Value shell;
  shell.name = v.name;
  shell.dtype = v.dtype;
  shell.is_constant = true;
  shell.data.dtype = v.data.dtype;
  shell.data.shape = v.data.shape;
  return shell;
}

Analysis analyse_graph(const Graph& graph, const std::vector<Shape>& input_rows) {
  Analysis A(graph);
  A.N = graph.nodes.size();
  A.V = graph.values.size();
  plan_samples(A, input_rows);
  mark_varying_dims(A, input_rows);
  mark_liveness(A);
  mark_batch_first(A);
  mark_absorbed(A, input_rows);
  count_node_costs(A);
  return A;
}

// A value v crosses every cut position c with prod(v) < c <= last(v); a position
// is valid when node c is a runtime node after the first one (so every stage
// computes something) and every value crossing it is batch first and not
// absorbed by fusion. Difference arrays over (prod, last] make it O(N + V).
CutPositions find_cut_positions(const Analysis& A) {
  const size_t N = A.N, V = A.V;
  CutPositions out;
  std::vector<double>& cross = out.cross;
  cross.assign(N + 1, 0);
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
  for (size_t c = 1; c < N; ++c)
    if (!A.host_node[c] && static_cast<int>(c) > first_runtime && bad[c] == 0) out.valid.push_back(static_cast<int>(c));
  return out;
}

}  // namespace mgi::stage_split
