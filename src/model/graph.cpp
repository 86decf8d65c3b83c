// Shape inference: one rule per op, shared by the loader (checks at load
// time), the backends (buffer sizes) and the run plan (per-row sizes).
#include "graph.hpp"

#include <algorithm>

#include "broadcast.hpp"
#include "error.hpp"

namespace mgi {

const char* op_name(OpKind k) {
  switch (k) {
    case OpKind::Gemm: return "Gemm";
    case OpKind::MatMul: return "MatMul";
    case OpKind::Add: return "Add";
    case OpKind::Sub: return "Sub";
    case OpKind::Mul: return "Mul";
    case OpKind::Div: return "Div";
    case OpKind::Relu: return "Relu";
    case OpKind::LeakyRelu: return "LeakyRelu";
    case OpKind::Sigmoid: return "Sigmoid";
    case OpKind::Tanh: return "Tanh";
    case OpKind::Erf: return "Erf";
    case OpKind::Gelu: return "Gelu";
    case OpKind::Exp: return "Exp";
    case OpKind::Log: return "Log";
    case OpKind::Sqrt: return "Sqrt";
    case OpKind::Neg: return "Neg";
    case OpKind::Abs: return "Abs";
    case OpKind::Pow: return "Pow";
    case OpKind::Softmax: return "Softmax";
    case OpKind::LogSoftmax: return "LogSoftmax";
    case OpKind::Flatten: return "Flatten";
    case OpKind::Reshape: return "Reshape";
    case OpKind::Identity: return "Identity";
    case OpKind::Transpose: return "Transpose";
    case OpKind::BatchNormalization: return "BatchNormalization";
    case OpKind::LayerNormalization: return "LayerNormalization";
    case OpKind::TestWork: return "mgi.test.Work";
  }
  return "?";
}

bool is_unary_op(OpKind k) {
  switch (k) {
    case OpKind::Relu:
    case OpKind::LeakyRelu:
    case OpKind::Sigmoid:
    case OpKind::Tanh:
    case OpKind::Erf:
    case OpKind::Gelu:
    case OpKind::Exp:
    case OpKind::Log:
    case OpKind::Sqrt:
    case OpKind::Neg:
    case OpKind::Abs: return true;
    default: return false;
  }
}

UnaryStep unary_step(const Node& n) {
  UnaryStep s;
  s.op = n.op;
  s.alpha = n.alpha;
  s.gelu_tanh = n.gelu_tanh;
  return s;
}

namespace {

struct NodeCheck {
  const Node& n;
  const std::vector<Shape>& in;
  const std::string& source;

  [[noreturn]] void fail(const std::string& what) const {
    throw ModelError("model " + source + ": node '" + n.name + "' (" +
                     (n.op_type.empty() ? op_name(n.op) : n.op_type) + "): " + what);
  }
  bool has(size_t k) const { return k < n.inputs.size() && n.inputs[k] >= 0; }
  const Shape& at(size_t k) const {
    if (!has(k) || k >= in.size()) fail("missing input " + std::to_string(k));
    return in[k];
  }
  void want_inputs(size_t lo, size_t hi) const {
    if (n.inputs.size() < lo || n.inputs.size() > hi || in.size() != n.inputs.size())
      fail("expects " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)) +
           " inputs, has " + std::to_string(n.inputs.size()));
    for (size_t k = 0; k < lo; ++k)
      if (!has(k)) fail("required input " + std::to_string(k) + " is missing");
  }
  // Normalizes an axis in [-rank, rank + extra) (Flatten allows axis == rank).
  int64_t axis(int64_t a, size_t rank, int64_t extra, const char* what) const {
    const int64_t r = static_cast<int64_t>(rank);
    if (a < -r || a >= r + extra)
      fail(std::string(what) + " " + std::to_string(a) + " is out of range for an input of rank " +
           std::to_string(r));
    return a < 0 ? a + r : a;
  }
};

int64_t prod(const Shape& s, size_t from, size_t to) {
  Shape part(s.begin() + static_cast<std::ptrdiff_t>(from), s.begin() + static_cast<std::ptrdiff_t>(to));
  return shape_numel(part);
}

Shape gemm_shape(const NodeCheck& c) {
  c.want_inputs(2, 3);
  const Shape& a = c.at(0);
  const Shape& b = c.at(1);
  if (a.size() != 2) c.fail("input A has shape " + shape_str(a) + "; Gemm needs a 2-D A");
  if (b.size() != 2) c.fail("input B has shape " + shape_str(b) + "; Gemm needs a 2-D B");
  const int64_t m = c.n.trans_a ? a[1] : a[0], ka = c.n.trans_a ? a[0] : a[1];
  const int64_t kb = c.n.trans_b ? b[1] : b[0], n = c.n.trans_b ? b[0] : b[1];
  if (ka != kb)
    c.fail("input A has shape " + shape_str(a) + " but B has shape " + shape_str(b) + " (transA=" +
           std::to_string(c.n.trans_a) + ", transB=" + std::to_string(c.n.trans_b) +
           "): inner dimensions differ");
  if (c.has(2)) {
    const Shape& cs = c.at(2);
    bool ok = cs.size() <= 2;
    for (size_t k = 0; ok && k < cs.size(); ++k) {
      const int64_t want = (cs.size() == 2 && k == 0) ? m : n;
      ok = cs[k] == 1 || cs[k] == want;
    }
    if (!ok)
      c.fail("input C has shape " + shape_str(cs) + ", which does not broadcast to the output [" +
             std::to_string(m) + ", " + std::to_string(n) + "]");
  }
  return {m, n};
}

Shape matmul_shape(const NodeCheck& c) {
  c.want_inputs(2, 3);
  Shape a = c.at(0), b = c.at(1);
  if (a.empty() || b.empty())
    c.fail("inputs have shapes " + shape_str(a) + " and " + shape_str(b) + "; MatMul needs rank >= 1");
  const bool a1 = a.size() == 1, b1 = b.size() == 1;
  if (a1) a.insert(a.begin(), 1);
  if (b1) b.push_back(1);
  const int64_t m = a[a.size() - 2], ka = a.back(), kb = b[b.size() - 2], n = b.back();
  if (ka != kb)
    c.fail("input A has shape " + shape_str(c.at(0)) + " but B has shape " + shape_str(c.at(1)) +
           ": inner dimensions differ (" + std::to_string(ka) + " vs " + std::to_string(kb) + ")");
  Shape out;
  try {
    out = broadcast_shapes(Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2)).out;
  } catch (const ModelError&) {
    c.fail("input A has shape " + shape_str(c.at(0)) + " but B has shape " + shape_str(c.at(1)) +
           ": batch dimensions do not broadcast");
  }
  if (!a1) out.push_back(m);
  if (!b1) out.push_back(n);
  if (c.has(2)) {  // fused bias (graph_fuse.cpp): a row vector over 2-D weights
    const Shape& bias = c.at(2);
    const bool row = (bias.size() == 1 && bias[0] == n) || (bias.size() == 2 && bias[0] == 1 && bias[1] == n);
    if (b.size() != 2 || b1 || out.size() < bias.size() || !row)
      c.fail("fused bias has shape " + shape_str(bias) + " for A " + shape_str(c.at(0)) + " x B " +
             shape_str(c.at(1)) + "; expected [" + std::to_string(n) + "] or [1, " + std::to_string(n) +
             "] with a 2-D B");
  }
  return out;
}

Shape binary_shape(const NodeCheck& c) {
  c.want_inputs(2, 2);
  try {
    return broadcast_shapes(c.at(0), c.at(1)).out;
  } catch (const ModelError&) {
    c.fail("inputs have shapes " + shape_str(c.at(0)) + " and " + shape_str(c.at(1)) +
           ", which do not broadcast");
  }
}

Shape reshape_shape(const NodeCheck& c, int64_t batch) {
  c.want_inputs(1, 1);
  const Shape& in = c.at(0);
  const int64_t total = shape_numel(in);
  Shape out = c.n.target_shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t k = 0; k < out.size(); ++k) {
    int64_t& d = out[k];
    if (d == kBatchDim) {
      if (batch < 0) c.fail("target shape depends on the batch size but the input is a constant");
      d = batch;
    } else if (d == 0 && !c.n.allowzero) {
      if (k >= in.size())
        c.fail("target shape " + shape_str(c.n.target_shape) + " copies dim " + std::to_string(k) +
               " (0) but the input " + shape_str(in) + " has rank " + std::to_string(in.size()));
      d = in[k];
    } else if (d == -1) {
      if (infer >= 0) c.fail("target shape " + shape_str(c.n.target_shape) + " has more than one -1");
      infer = static_cast<int>(k);
      continue;
    } else if (d < 0) {
      c.fail("target shape has invalid dimension " + std::to_string(d));
    }
    if (d != 0 && known > std::numeric_limits<int64_t>::max() / d) c.fail("target shape overflows");
    known *= d;
  }
  if (infer >= 0) {
    if (known == 0 || total % known != 0)
      c.fail("cannot reshape input " + shape_str(in) + " (" + std::to_string(total) + " elements) to " +
             shape_str(out) + " with -1");
    out[static_cast<size_t>(infer)] = total / known;
  } else if (known != total) {
    c.fail("cannot reshape input " + shape_str(in) + " (" + std::to_string(total) + " elements) to " +
           shape_str(out) + " (" + std::to_string(known) + " elements)");
  }
  return out;
}

Shape transpose_shape(const NodeCheck& c) {
  c.want_inputs(1, 1);
  const Shape& in = c.at(0);
  std::vector<int64_t> perm = c.n.perm;
  if (perm.empty())
    for (size_t k = 0; k < in.size(); ++k) perm.push_back(static_cast<int64_t>(in.size() - 1 - k));
  if (perm.size() != in.size())
    c.fail("perm has " + std::to_string(perm.size()) + " entries but the input " + shape_str(in) +
           " has rank " + std::to_string(in.size()));
  std::vector<bool> seen(in.size(), false);
  Shape out(in.size());
  for (size_t k = 0; k < perm.size(); ++k) {
    const int64_t p = perm[k];
    if (p < 0 || p >= static_cast<int64_t>(in.size()) || seen[static_cast<size_t>(p)])
      c.fail("perm " + shape_str(perm) + " is not a permutation of the input's " +
             std::to_string(in.size()) + " axes");
    seen[static_cast<size_t>(p)] = true;
    out[k] = in[static_cast<size_t>(p)];
  }
  return out;
}

Shape batchnorm_shape(const NodeCheck& c) {
  c.want_inputs(5, 5);
  const Shape& x = c.at(0);
  if (x.size() < 2) c.fail("input X has shape " + shape_str(x) + "; expected [N, C, ...]");
  static const char* names[] = {"X", "scale", "B", "mean", "var"};
  for (size_t k = 1; k < 5; ++k) {
    const Shape& p = c.at(k);
    if (p.size() != 1 || p[0] != x[1])
      c.fail("input " + std::string(names[k]) + " has shape " + shape_str(p) + " but X " + shape_str(x) +
             " has " + std::to_string(x[1]) + " channels; expected [" + std::to_string(x[1]) + "]");
  }
  return x;
}

Shape layernorm_shape(const NodeCheck& c) {
  c.want_inputs(2, 3);
  const Shape& x = c.at(0);
  if (x.empty()) c.fail("input X is a scalar; LayerNormalization needs rank >= 1");
  const size_t ax = static_cast<size_t>(c.axis(c.n.axis, x.size(), 0, "axis"));
  const Shape norm(x.begin() + static_cast<std::ptrdiff_t>(ax), x.end());
  const int64_t d = shape_numel(norm);
  for (size_t k = 1; k < 3; ++k) {
    if (!c.has(k)) continue;
    const Shape& p = c.at(k);
    // Scale/bias cover the normalized dims (leading 1s allowed) or are one element.
    Shape stripped = p;
    while (stripped.size() > norm.size() && stripped.front() == 1) stripped.erase(stripped.begin());
    Shape tail = norm;
    while (tail.size() > stripped.size()) tail.erase(tail.begin());
    bool ok = shape_numel(p) == 1 || (shape_numel(p) == d && stripped == tail && stripped.size() == norm.size());
    if (!ok)
      c.fail(std::string("input ") + (k == 1 ? "Scale" : "B") + " has shape " + shape_str(p) +
             " but the normalized dims of X " + shape_str(x) + " (axis " + std::to_string(c.n.axis) +
             ") are " + shape_str(norm));
  }
  return x;
}

}  // namespace

Shape infer_node_shape(const Node& node, const std::vector<Shape>& inputs, const std::string& source,
                       int64_t batch) {
  const NodeCheck c{node, inputs, source};
  switch (node.op) {
    case OpKind::Gemm: return gemm_shape(c);
    case OpKind::MatMul: return matmul_shape(c);
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div:
    case OpKind::Pow: return binary_shape(c);
    case OpKind::Relu:
    case OpKind::LeakyRelu:
    case OpKind::Sigmoid:
    case OpKind::Tanh:
    case OpKind::Erf:
    case OpKind::Gelu:
    case OpKind::Exp:
    case OpKind::Log:
    case OpKind::Sqrt:
    case OpKind::Neg:
    case OpKind::Abs:
    case OpKind::Identity: c.want_inputs(1, 1); return c.at(0);
    case OpKind::Softmax:
    case OpKind::LogSoftmax: {
      c.want_inputs(1, 1);
      const Shape& x = c.at(0);
      if (x.empty()) c.fail("input is a scalar; expected rank >= 1");
      c.axis(node.axis, x.size(), 0, "axis");
      return x;
    }
    case OpKind::Flatten: {
      c.want_inputs(1, 1);
      const Shape& x = c.at(0);
      const size_t ax = static_cast<size_t>(c.axis(node.axis, x.size(), 1, "axis"));
      return {prod(x, 0, ax), prod(x, ax, x.size())};
    }
    case OpKind::Reshape: return reshape_shape(c, batch);
    case OpKind::Transpose: return transpose_shape(c);
    case OpKind::BatchNormalization: return batchnorm_shape(c);
    case OpKind::LayerNormalization: return layernorm_shape(c);
    case OpKind::TestWork: {  // identity; x[:, 0] is each row's length
      c.want_inputs(1, 1);
      const Shape& x = c.at(0);
      if (x.size() != 2 || x[1] < 1) c.fail("input has shape " + shape_str(x) + "; expected [batch, d] with d >= 1");
      return x;
    }
  }
  c.fail("unknown op kind");
}

std::vector<Shape> Graph::infer_shapes(const std::vector<Shape>& concrete_inputs) const {
  const std::string where = "model " + source + ": ";
  if (concrete_inputs.size() != inputs.size())
    throw ModelError(where + "expects " + std::to_string(inputs.size()) + " input(s), got " +
                     std::to_string(concrete_inputs.size()));
  std::vector<Shape> shapes(values.size());
  for (size_t v = 0; v < values.size(); ++v)
    if (values[v].is_constant) shapes[v] = values[v].data.shape;
  int64_t batch = -1;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Shape& got = concrete_inputs[k];
    const Shape& want = k < input_shapes.size() ? input_shapes[k] : got;
    bool ok = got.size() == want.size() && !got.empty();
    for (size_t d = 0; ok && d < got.size(); ++d) ok = got[d] >= 0 && (d == 0 || want[d] < 0 || want[d] == got[d]);
    if (!ok)
      throw ModelError(where + "input '" + input_name(k) + "' expects shape " + shape_str(want) +
                       " (first dim = batch) but got " + shape_str(got));
    if (batch >= 0 && got[0] != batch)
      throw ModelError(where + "input '" + input_name(k) + "' has batch " + std::to_string(got[0]) +
                       " but input '" + input_name(0) + "' has batch " + std::to_string(batch));
    batch = got[0];
    shape_numel(got);  // rejects overflowing dims
    shapes[static_cast<size_t>(inputs[k])] = got;
  }
  std::vector<Shape> in;
  for (const Node& n : nodes) {
    in.clear();
    for (int id : n.inputs) in.push_back(id >= 0 ? shapes[static_cast<size_t>(id)] : Shape{});
    Shape out = infer_node_shape(n, in, source, batch);
    try {
      shape_numel(out);
    } catch (const ModelError& e) {
      throw ModelError("model " + source + ": node '" + n.name + "' (" + n.op_type + "): output " + e.what());
    }
    for (int id : n.outputs) shapes[static_cast<size_t>(id)] = out;
  }
  return shapes;
}

}  // namespace mgi
