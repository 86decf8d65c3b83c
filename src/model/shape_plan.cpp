// Graph::plan(): every value's concrete shape for one set of input shapes, by
// each op's own inference (op_registry.hpp), and the host values (Shape ->
// Gather -> Concat -> ...) computed on the way by their CPU kernels, since a
// later node's shape may depend on them (a Reshape's target).
#include "error.hpp"
#include "graph.hpp"
#include "op_registry.hpp"

namespace mgi {

ShapePlan Graph::plan(const std::vector<Shape>& concrete_inputs) const {
  const std::string where = "model " + source + ": ";
  if (concrete_inputs.size() != inputs.size())
    throw ModelError(where + "expects " + std::to_string(inputs.size()) + " input(s), got " +
                     std::to_string(concrete_inputs.size()));
  ShapePlan p;
  p.shapes.resize(values.size());
  p.host.resize(values.size());
  for (size_t v = 0; v < values.size(); ++v)
    if (values[v].is_constant) p.shapes[v] = values[v].data.shape;
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
    p.shapes[static_cast<size_t>(inputs[k])] = got;
  }

  std::vector<OutInfo> info;
  const cpu::ExecOptions opt;
  for (const Node& n : nodes) {
    InferArgs a{n, source, {}, {}, {}};
    for (int id : n.inputs) {
      const size_t v = static_cast<size_t>(id);
      a.types.push_back(id >= 0 ? values[v].dtype : DType::f32);
      a.shapes.push_back(id >= 0 ? &p.shapes[v] : nullptr);
      a.values.push_back(id < 0 ? nullptr
                         : values[v].is_constant ? &values[v].data
                         : values[v].host        ? &p.host[v]
                                                 : nullptr);
    }
    info.assign(n.outputs.size(), OutInfo{});
    n.def->infer(a, info);
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      if (n.outputs[k] < 0) continue;
      try {
        shape_numel(info[k].shape);
      } catch (const ModelError& e) {
        throw ModelError(where + "node '" + n.name + "' (" + n.op_type + "): output " + e.what());
      }
      p.shapes[static_cast<size_t>(n.outputs[k])] = info[k].shape;
    }
    // A host node: any used output is a host value (all of a node's outputs are, or none; output 0 may be unused).
    bool host = false;
    for (int id : n.outputs) host = host || (id >= 0 && values[static_cast<size_t>(id)].host);
    if (!host) continue;
    KernelArgs args{n, {}, {}, opt};
    for (size_t k = 0; k < n.inputs.size(); ++k)
      args.in.push_back(n.inputs[k] < 0 ? In{} : In{a.types[k], a.shapes[k], a.values[k] ? a.values[k]->raw() : nullptr});
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      if (n.outputs[k] < 0) {
        args.out.push_back(Out{});
        continue;
      }
      Tensor& t = p.host[static_cast<size_t>(n.outputs[k])];
      t = Tensor(info[k].dtype, info[k].shape);
      args.out.push_back(Out{t.dtype, &t.shape, t.raw()});
    }
    n.def->cpu(args);
  }
  return p;
}

}  // namespace mgi
