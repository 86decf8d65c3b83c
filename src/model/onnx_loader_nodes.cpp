// ONNX loader, one node at a time: its definition from the registry parses the
// attributes; a node whose inputs are all constants is evaluated now by its
// CPU kernel; a node computable from shapes and constants alone (Shape and
// what follows it) becomes a host node; everything else a runtime node.
#include <algorithm>

#include "onnx_loader_internal.hpp"
#include "op_registry.hpp"

namespace mgi::onnx_load {

int Loader::resolve(const OnnxNode& on, const std::string& name) const {
  auto it = ids_.find(name);
  if (it != ids_.end()) return it->second;
  if (producer_.count(name))
    on.fail("uses '" + name + "' before it is produced (nodes are not in topological order)");
  on.fail("input '" + name + "' is not a graph input, an initializer or the output of any node");
}

void Loader::process(const NodeProto& np, int index) {
  const std::string name = np.name().empty() ? np.op_type() + "_" + std::to_string(index) : np.name();
  const OnnxNode on(np, name, g_.source);
  const OpDef* def = OpRegistry::get().find(np.domain(), np.op_type(), g_.opset);
  if (!def) on.fail("unsupported op");  // check_supported() named it already; not reached
  if (np.output_size() == 0) on.fail("has no outputs");

  Node n;
  n.def = def;
  n.name = name;
  n.op_type = np.op_type();
  n.opset = g_.opset;
  for (const std::string& s : np.input()) n.inputs.push_back(s.empty() ? -1 : resolve(on, s));
  while (!n.inputs.empty() && n.inputs.back() < 0) n.inputs.pop_back();  // trailing optional inputs left out
  const int nin = static_cast<int>(n.inputs.size());
  if (nin < def->min_inputs || nin > def->max_inputs)
    on.fail("expects " +
            (def->min_inputs == def->max_inputs ? std::to_string(def->min_inputs)
                                                : std::to_string(def->min_inputs) + " to " + std::to_string(def->max_inputs)) +
            " inputs, has " + std::to_string(nin));
  for (int k = 0; k < def->min_inputs; ++k)
    if (n.inputs[static_cast<size_t>(k)] < 0) on.fail("required input " + std::to_string(k) + " is missing");
  if (def->parse) def->parse(on, n);

  const size_t produced = std::min<size_t>(static_cast<size_t>(np.output_size()), static_cast<size_t>(def->max_outputs));
  check_extra_outputs(on, produced);
  std::vector<DType> in_types;
  bool all_const = true, all_known = true;
  for (int id : n.inputs) {
    in_types.push_back(id >= 0 ? g_.values[static_cast<size_t>(id)].dtype : DType::f32);
    all_const = all_const && (id < 0 || is_const(id));
    all_known = all_known && (id < 0 || is_const(id) || is_host(id));
  }

  if (all_const && !def->no_fold) {
    std::vector<Tensor> out = fold(on, n);
    for (size_t k = 0; k < produced && k < out.size(); ++k)
      if (!np.output(static_cast<int>(k)).empty())
        add_value(np.output(static_cast<int>(k)), out[k].dtype, true, std::move(out[k]));
    return;
  }
  if (all_const) on.fail("needs a runtime input (a test op is never folded)");

  // Host values: everything a Shape leads to before it meets runtime data.
  const bool host = def->shape_only || all_known;
  for (size_t k = 0; k < produced; ++k) {
    const std::string& out = np.output(static_cast<int>(k));
    if (out.empty()) {
      n.outputs.push_back(-1);
      continue;
    }
    const DType t = def->type ? def->type(n, in_types, k) : (in_types.empty() ? DType::f32 : in_types[0]);
    const int id = add_value(out, t, false);
    g_.values[static_cast<size_t>(id)].host = host;
    n.outputs.push_back(id);
  }
  g_.nodes.push_back(std::move(n));
}

// Outputs beyond the ones the op produces (Dropout mask, BatchNormalization
// running stats, LayerNormalization mean) must not be consumed.
void Loader::check_extra_outputs(const OnnxNode& on, size_t produced) const {
  const auto& outs = on.proto().output();
  for (int k = static_cast<int>(produced); k < outs.size(); ++k)
    if (!outs.Get(k).empty() && used_.count(outs.Get(k)))
      on.fail("output " + std::to_string(k) + " ('" + outs.Get(k) + "') is used, but only " +
              (produced == 1 ? std::string("output 0 is") : "outputs 0.." + std::to_string(produced - 1) + " are") +
              " supported");
}

// A node on constant inputs, run by its CPU kernel. The outputs' sizes are
// checked before they are allocated: a tiny model must not allocate GiBs.
std::vector<Tensor> Loader::fold(const OnnxNode& on, const Node& n) const {
  std::vector<const Tensor*> in;
  InferArgs a{n, g_.source, {}, {}, {}};
  for (int id : n.inputs) {
    const Tensor* t = id >= 0 ? &const_data(id) : nullptr;
    in.push_back(t);
    a.types.push_back(t ? t->dtype : DType::f32);
    a.shapes.push_back(t ? &t->shape : nullptr);
    a.values.push_back(t);
  }
  std::vector<OutInfo> info(std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(on.proto().output_size()),
                                                                  static_cast<size_t>(n.def->max_outputs))));
  n.def->infer(a, info);
  for (const OutInfo& o : info) {
    int64_t count = 1;
    for (int64_t d : o.shape) {
      if (d < 0) on.fail("would produce a tensor of negative dimension " + shape_str(o.shape));
      if (d != 0 && count > kMaxFoldedElements / d) on.fail("folded constant " + shape_str(o.shape) + " is too large");
      count *= d;
    }
  }
  std::vector<Tensor> out;
  for (const OutInfo& o : info) out.emplace_back(o.dtype, o.shape);
  cpu::ExecOptions opt;
  KernelArgs args{n, {}, {}, opt};
  for (const Tensor* t : in) args.in.push_back(t ? In{t->dtype, &t->shape, t->raw()} : In{});
  for (Tensor& t : out) args.out.push_back(Out{t.dtype, &t.shape, t.raw()});
  n.def->cpu(args);
  return out;
}

}  // namespace mgi::onnx_load
