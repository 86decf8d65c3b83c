#include "graph_fuse.hpp"

#include "error.hpp"
#include "op_registry.hpp"
#include "unary.hpp"

namespace mgi {

namespace {

struct Fuser {
  Graph& g;
  std::vector<Shape> s1, s2;     // value shapes at batch 1 and 2
  std::vector<int> readers;      // nodes reading each value (a node reading twice counts twice)
  std::vector<int> reader_of;    // the (last) node reading each value
  std::vector<char> is_output;
  std::vector<char> consumed;    // node already folded into an earlier one
  FuseStats st;

  // The single node reading `v`, when `v` may disappear into its producer.
  int sole_reader(int v) const {
    const size_t i = static_cast<size_t>(v);
    if (is_output[i] || readers[i] != 1 || consumed[static_cast<size_t>(reader_of[i])]) return -1;
    return reader_of[i];
  }

  bool same_shape(int a, int b) const {
    const size_t x = static_cast<size_t>(a), y = static_cast<size_t>(b);
    return s1[x] == s1[y] && s2[x] == s2[y];
  }

  // `add` = Add(y, bias) or Add(bias, y) with bias a float constant [n] / [1, n].
  // Returns the bias value id, or -1.
  int row_bias(const Node& add, int y, int64_t n) const {
    if (!add.is("Add") || add.inputs.size() != 2) return -1;
    const int other = add.inputs[0] == y ? add.inputs[1] : add.inputs[1] == y ? add.inputs[0] : -1;
    if (other < 0 || other == y) return -1;
    const Value& b = g.values[static_cast<size_t>(other)];
    if (!b.is_constant || b.data.dtype != DType::f32) return -1;
    const Shape& s = b.data.shape;
    const bool row = (s.size() == 1 && s[0] == n) || (s.size() == 2 && s[0] == 1 && s[1] == n);
    if (!row || b.data.numel() != n) return -1;
    // The Add must not broadcast y to a larger shape (e.g. a [n]-shaped y and a [1, n] bias).
    if (!same_shape(add.outputs[0], y)) return -1;
    return other;
  }

  // Appends the unary ops that read `y` one after another; returns the last output.
  int take_unary_chain(Node& into, int y, int* counter) {
    while (into.epilogue.size() < kMaxEpilogue) {
      const int r = sole_reader(y);
      if (r < 0) break;
      const Node& u = g.nodes[static_cast<size_t>(r)];
      if (!is_unary_node(u) || u.inputs.size() != 1 || u.outputs.size() != 1) break;
      into.epilogue.push_back(unary_step(u));
      into.name += "+" + u.name;
      consumed[static_cast<size_t>(r)] = 1;
      ++*counter;
      y = u.outputs[0];
    }
    return y;
  }

  void fuse_gemm(Node& n) {
    const int y0 = n.outputs[0];
    const size_t a = static_cast<size_t>(n.inputs[0]), b = static_cast<size_t>(n.inputs[1]);
    int64_t cols = 0;
    if (n.is("Gemm")) {
      if (s1[b].size() != 2) return;
      cols = n.trans_b ? s1[b][0] : s1[b][1];
    } else {
      // 2-D weights only, and an A of rank >= 2 (its leading dims fold into the GEMM's rows).
      if (n.inputs.size() != 2 || s1[b].size() != 2 || s1[a].size() < 2) return;
      cols = s1[b][1];
    }
    int y = y0;
    const bool has_c = n.is("Gemm") && n.inputs.size() > 2 && n.inputs[2] >= 0 && n.beta != 0.0f;
    if (!has_c) {
      const int r = sole_reader(y);
      const int bias = r >= 0 ? row_bias(g.nodes[static_cast<size_t>(r)], y, cols) : -1;
      if (bias >= 0) {
        const Node& add = g.nodes[static_cast<size_t>(r)];
        n.inputs.resize(2);
        n.inputs.push_back(bias);
        if (n.is("Gemm")) n.beta = 1.0f;  // y + bias, as the Add computed it
        n.name += "+" + add.name;
        consumed[static_cast<size_t>(r)] = 1;
        ++st.gemm_bias;
        y = add.outputs[0];
      }
    }
    y = take_unary_chain(n, y, &st.gemm_unary);
    n.outputs[0] = y;
  }
};

}  // namespace

Graph fuse_graph(Graph g, const std::vector<Shape>& input_rows, FuseStats* stats) {
  Fuser f{g, {}, {}, {}, {}, {}, {}, {}};
  f.st.nodes_before = f.st.nodes_after = static_cast<int>(g.nodes.size());
  if (stats) *stats = f.st;
  if (input_rows.size() != g.inputs.size()) return g;
  try {
    std::vector<Shape> in1, in2;
    for (const Shape& r : input_rows) {
      Shape s = r;
      s.insert(s.begin(), 1);
      in1.push_back(s);
      s[0] = 2;
      in2.push_back(s);
    }
    f.s1 = g.infer_shapes(in1);
    f.s2 = g.infer_shapes(in2);
  } catch (const Error&) {
    return g;
  }
  const size_t nv = g.values.size();
  f.readers.assign(nv, 0);
  f.reader_of.assign(nv, -1);
  f.is_output.assign(nv, 0);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!n.epilogue.empty()) return g;  // already fused
    for (int v : n.inputs)
      if (v >= 0) {
        ++f.readers[static_cast<size_t>(v)];
        f.reader_of[static_cast<size_t>(v)] = static_cast<int>(i);
      }
  }
  for (int v : g.outputs) f.is_output[static_cast<size_t>(v)] = 1;
  f.consumed.assign(g.nodes.size(), 0);

  std::vector<Node> out;
  out.reserve(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (f.consumed[i]) continue;
    Node n = g.nodes[i];
    f.consumed[i] = 1;  // never its own reader
    const bool f32 = n.outputs.size() == 1 && g.values[static_cast<size_t>(n.outputs[0])].dtype == DType::f32 &&
                     !g.values[static_cast<size_t>(n.outputs[0])].host;
    if (f32 && (n.is("Gemm") || n.is("MatMul"))) {
      f.fuse_gemm(n);
    } else if (f32 && n.is("Conv")) {
      // The Conv kernel applies the epilogue to each finished output element (both paths).
      n.outputs[0] = f.take_unary_chain(n, n.outputs[0], &f.st.conv_unary);
    } else if (f32 && n.inputs.size() == 1 && is_unary_node(n)) {
      n.outputs[0] = f.take_unary_chain(n, n.outputs[0], &f.st.chain_unary);
    }
    out.push_back(std::move(n));
  }
  g.nodes = std::move(out);
  f.st.nodes_after = static_cast<int>(g.nodes.size());
  if (stats) *stats = f.st;
  return g;
}

}  // namespace mgi
