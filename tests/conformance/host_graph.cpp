// The two ways a conformance case runs: the whole graph on host tensors by
// the registry's CPU kernels (any shapes), and through a Backend (the batch
// contract: inputs share their first dim, outputs follow it).
#include <cstring>
#include <stdexcept>

#include "conformance.hpp"
#include "error.hpp"
#include "op_registry.hpp"

namespace mgi::conformance {

std::vector<Tensor> to_input_types(const Graph& g, const std::vector<Tensor>& inputs) {
  if (inputs.size() != g.inputs.size())
    throw std::runtime_error("the data set has " + std::to_string(inputs.size()) + " input(s), the model " +
                             std::to_string(g.inputs.size()));
  std::vector<Tensor> out;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const DType want = g.input_type(k);
    if (inputs[k].dtype == want) out.push_back(inputs[k]);
    else if (inputs[k].dtype == DType::f32 && is_float(want)) out.push_back(inputs[k].cast(want));
    else
      throw std::runtime_error("input '" + g.input_name(k) + "' is " + dtype_name(inputs[k].dtype) +
                               " in the data set but " + dtype_name(want) + " in the model");
  }
  return out;
}

std::vector<Tensor> run_graph_on_host(const Graph& g, const std::vector<Tensor>& inputs) {
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.shape);
  const ShapePlan p = g.plan(shapes);
  const size_t nv = g.values.size();
  std::vector<Tensor> owned(nv);
  std::vector<const void*> ptr(nv, nullptr);
  for (size_t v = 0; v < nv; ++v) {
    if (g.values[v].is_constant) ptr[v] = g.values[v].data.raw();
    else if (g.values[v].host) ptr[v] = p.host[v].raw();
  }
  for (size_t k = 0; k < inputs.size(); ++k) ptr[static_cast<size_t>(g.inputs[k])] = inputs[k].raw();

  const cpu::ExecOptions opt;  // one thread
  for (const Node& n : g.nodes) {
    if (!n.outputs.empty() && n.outputs[0] >= 0 && g.values[static_cast<size_t>(n.outputs[0])].host)
      continue;  // computed by the plan
    KernelArgs args{n, {}, {}, opt};
    for (int id : n.inputs) {
      if (id < 0) {
        args.in.push_back(In{});
        continue;
      }
      const size_t v = static_cast<size_t>(id);
      args.in.push_back(In{g.values[v].dtype, &p.shapes[v], ptr[v]});
    }
    for (int id : n.outputs) {
      if (id < 0) {
        args.out.push_back(Out{});
        continue;
      }
      const size_t v = static_cast<size_t>(id);
      owned[v] = Tensor(g.values[v].dtype, p.shapes[v]);
      ptr[v] = owned[v].raw();
      args.out.push_back(Out{g.values[v].dtype, &p.shapes[v], owned[v].raw()});
    }
    n.def->cpu(args);
  }
  std::vector<Tensor> out;
  for (int id : g.outputs) {
    const size_t v = static_cast<size_t>(id);
    Tensor t(g.values[v].dtype, p.shapes[v]);
    if (t.bytes() > 0) std::memcpy(t.raw(), ptr[v], t.bytes());
    out.push_back(std::move(t));
  }
  return out;
}

std::string batch_misfit(const Graph& g, const std::vector<Tensor>& inputs) {
  if (inputs.empty()) return "no inputs";
  int64_t n = -1;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Shape& s = inputs[k].shape;
    if (s.empty()) return "input '" + g.input_name(k) + "' is a scalar";
    if (n >= 0 && s[0] != n)
      return "the inputs' first dims differ ('" + g.input_name(0) + "' " + shape_str(inputs[0].shape) + ", '" +
             g.input_name(k) + "' " + shape_str(s) + ")";
    n = s[0];
  }
  if (n < 1) return "the first dim is 0";
  auto plan_at = [&](int64_t rows) {
    std::vector<Shape> shapes;
    for (const Tensor& t : inputs) {
      Shape s = t.shape;
      s[0] = rows;
      shapes.push_back(std::move(s));
    }
    return g.plan(shapes).shapes;
  };
  try {
    const std::vector<Shape> s1 = plan_at(1), s2 = plan_at(2), sn = plan_at(n);
    for (size_t k = 0; k < g.outputs.size(); ++k) {
      const size_t v = static_cast<size_t>(g.outputs[k]);
      const Shape &a = s1[v], &b = s2[v], &c = sn[v];
      if (a.empty() || a[0] != 1 || b[0] != 2 || c[0] != n || row_shape(a) != row_shape(b) ||
          row_shape(a) != row_shape(c))
        return "output '" + g.output_name(k) + "' is " + shape_str(b) + " for 2 rows, " + shape_str(c) + " for " +
               std::to_string(n) + " (not a batch of rows)";
    }
  } catch (const ModelError& e) {
    return std::string("the graph does not plan at other batch sizes: ") + e.what();
  }
  return "";
}

std::vector<Tensor> run_on_backend(Backend& backend, const Graph& g, const std::vector<Tensor>& inputs) {
  const int64_t n = inputs.at(0).shape.at(0);
  std::vector<Shape> rows, full;
  std::vector<const void*> in;
  for (const Tensor& t : inputs) {
    rows.push_back(row_shape(t.shape));
    full.push_back(t.shape);
    in.push_back(t.raw());
  }
  backend.prepare(g, rows, n);
  const std::vector<Shape> shapes = g.plan(full).shapes;
  std::vector<Tensor> out;
  std::vector<void*> outp;
  for (size_t k = 0; k < g.outputs.size(); ++k)
    out.emplace_back(g.output_type(k), shapes[static_cast<size_t>(g.outputs[k])]);
  for (Tensor& t : out) outp.push_back(t.raw());
  backend.run(n, in, outp);
  return out;
}

}  // namespace mgi::conformance
