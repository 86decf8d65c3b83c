// model_ops(): the ops a model uses and whether the registry has each, read
// straight from the ModelProto without loading it (no folding, no shapes), so
// `mgi-mpi inspect` can list a model the loader would refuse.
#include <onnx/onnx_pb.h>

#include <unordered_map>

#include "error.hpp"
#include "graph.hpp"
#include "op_registry.hpp"

namespace mgi {

std::vector<OpUse> model_ops(const std::string& bytes, const std::string& source) {
  onnx::ModelProto model;
  if (bytes.empty() || !model.ParseFromString(bytes))
    throw ModelError("model " + source + ": not a valid ONNX model (protobuf parse failed)");
  if (!model.has_graph()) throw ModelError("model " + source + ": not a valid ONNX model (no graph)");
  int64_t opset = 0;
  for (const auto& o : model.opset_import())
    if (default_domain(o.domain())) opset = o.version();
  if (opset <= 0) throw ModelError("model " + source + ": no opset_import for the default ONNX domain");

  std::vector<OpUse> uses;
  std::unordered_map<std::string, size_t> index;  // qualified op -> position in `uses`
  for (const onnx::NodeProto& np : model.graph().node()) {
    const std::string op = default_domain(np.domain()) ? np.op_type() : np.domain() + "." + np.op_type();
    auto it = index.find(op);
    if (it == index.end()) {
      OpUse u;
      u.op = op;
      u.supported = OpRegistry::get().find(np.domain(), np.op_type(), opset) != nullptr;
      it = index.emplace(op, uses.size()).first;
      uses.push_back(std::move(u));
    }
    uses[it->second].count++;
  }
  return uses;
}

}  // namespace mgi
