#include "op_registry.hpp"

#include <algorithm>
#include <tuple>

#include "broadcast.hpp"
#include "error.hpp"
#include "onnx_attrs.hpp"

namespace mgi {

const OpRegistry& OpRegistry::get() {
  static const OpRegistry r = [] {
    OpRegistry reg;
    register_gemm_ops(reg);
    register_unary_ops(reg);
    register_binary_ops(reg);
    register_math_ops(reg);
    register_softmax_ops(reg);
    register_normalization_ops(reg);
    register_layout_ops(reg);
    register_slice_concat_ops(reg);
    register_shape_ops(reg);
    register_index_ops(reg);
    register_reduce_ops(reg);
    register_along_axis_ops(reg);
    register_gather_scatter_ops(reg);
    register_einsum_ops(reg);
    register_logic_ops(reg);
    register_cast_ops(reg);
    register_constant_ops(reg);
    register_conv_ops(reg);
    register_pool_ops(reg);
    register_resize_ops(reg);
    register_pad_space_ops(reg);
    register_test_ops(reg);
    std::sort(reg.defs_.begin(), reg.defs_.end(), [](const OpDef& a, const OpDef& b) {
      return std::tie(a.domain, a.name, a.since) < std::tie(b.domain, b.name, b.since);
    });
    return reg;
  }();
  return r;
}

void OpRegistry::add(OpDef def) {
  MGI_ASSERT(def.infer && def.cpu, "op " + def.name + " registered without inference or CPU kernel");
  for (const OpDef& d : defs_)
    MGI_ASSERT(!(d.domain == def.domain && d.name == def.name &&
                 (d.until == 0 || d.until >= def.since) && (def.until == 0 || def.until >= d.since)),
               "op " + def.name + " registered twice for overlapping opsets");
  defs_.push_back(std::move(def));
}

const OpDef* OpRegistry::find(const std::string& domain, const std::string& name, int64_t opset) const {
  const std::string dom = default_domain(domain) ? "" : domain;
  for (const OpDef& d : defs_) {
    if (d.domain != dom || d.name != name) continue;
    // Opsets of other domains are not tracked: their ops match whatever the ai.onnx opset.
    if (!dom.empty() || (opset >= d.since && (d.until == 0 || opset <= d.until))) return &d;
  }
  return nullptr;
}

Node make_node(const std::string& op, std::vector<int> inputs, std::vector<int> outputs, int64_t opset,
               const std::string& domain) {
  Node n;
  n.def = OpRegistry::get().find(domain, op, opset);
  if (!n.def) throw ModelError("no op '" + op + "' for opset " + std::to_string(opset));
  n.name = op + "_node";
  n.op_type = op;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.opset = opset;
  onnx::NodeProto proto;  // no attributes: the parse sets every ONNX default
  proto.set_op_type(op);
  proto.set_domain(domain);
  static const std::string source = "(graph rewrite)";
  if (n.def->parse) n.def->parse(OnnxNode(proto, n.name, source), n);
  return n;
}

bool Node::is(const char* op) const { return def && def->name == op; }

UnaryStep unary_step(const Node& n) {
  UnaryStep s;
  s.fn = n.unary;
  s.alpha = n.alpha;
  s.beta = n.beta;
  s.gelu_tanh = n.gelu_tanh;
  return s;
}

const Shape& InferArgs::shape(size_t k) const {
  if (!has(k)) fail("missing input " + std::to_string(k));
  return *shapes[k];
}

const Tensor& InferArgs::value(size_t k, const char* what) const {
  if (k >= values.size() || !values[k])
    fail(std::string("input ") + std::to_string(k) + " ('" + what +
         "') must be known before the batch runs: a constant, or computed from shapes and constants");
  return *values[k];
}

void InferArgs::fail(const std::string& what) const {
  throw ModelError("model " + source + ": node '" + node.name + "' (" +
                   (node.op_type.empty() ? (node.def ? node.def->name : std::string("?")) : node.op_type) +
                   "): " + what);
}

int64_t InferArgs::axis(int64_t a, size_t rank, int64_t extra, const char* what) const {
  const int64_t r = static_cast<int64_t>(rank);
  if (a < -r || a >= r + extra)
    fail(std::string(what) + " " + std::to_string(a) + " is out of range for an input of rank " + std::to_string(r));
  return a < 0 ? a + r : a;
}

Shape InferArgs::broadcast(const Shape& a, const Shape& b) const {
  try {
    return broadcast_shapes(a, b).out;
  } catch (const ModelError&) {
    fail("inputs have shapes " + shape_str(a) + " and " + shape_str(b) + ", which do not broadcast");
  }
}

void InferArgs::want_type(size_t k, DType t) const {
  if (has(k) && types[k] != t)
    fail("input " + std::to_string(k) + " has type " + dtype_name(types[k]) + "; expected " + dtype_name(t));
}

std::vector<Tensor> run_cpu_node(const Node& node, const std::vector<const Tensor*>& inputs,
                                 const std::string& source) {
  InferArgs ia{node, source, {}, {}, {}};
  for (const Tensor* t : inputs) {
    ia.types.push_back(t ? t->dtype : DType::f32);
    ia.shapes.push_back(t ? &t->shape : nullptr);
    ia.values.push_back(t);
  }
  std::vector<OutInfo> info(node.outputs.empty() ? 1 : node.outputs.size());
  node.def->infer(ia, info);
  std::vector<Tensor> out;
  for (const OutInfo& o : info) out.emplace_back(o.dtype, o.shape);
  cpu::ExecOptions opt;
  KernelArgs args{node, {}, {}, opt};
  for (const Tensor* t : inputs)
    args.in.push_back(t ? In{t->dtype, &t->shape, t->raw()} : In{DType::f32, nullptr, nullptr});
  for (Tensor& t : out) args.out.push_back(Out{t.dtype, &t.shape, t.raw()});
  node.def->cpu(args);
  return out;
}

}  // namespace mgi
