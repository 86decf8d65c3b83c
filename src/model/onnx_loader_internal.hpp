// The ONNX loader's Loader class, shared by its files: onnx_loader.cpp (the
// graph: header, initializers, inputs, outputs, pruning), onnx_loader_nodes.cpp
// (each node: runtime op or folded constant, load-time shapes) and
// onnx_loader_ops.cpp (a node's inputs and attributes per op kind).
#pragma once
#include <onnx/onnx_pb.h>

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "error.hpp"
#include "graph.hpp"
#include "onnx_attrs.hpp"

namespace mgi::onnx_load {

using onnx::NodeProto;
using onnx::TensorProto;

inline bool default_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

class Loader {
 public:
  Loader(const onnx::ModelProto& m, const std::string& source) : m_(m) { g_.source = source; }

  Graph load();

 private:
  std::string where() const { return "model " + g_.source + ": "; }
  [[noreturn]] void fail(const std::string& m) const { throw ModelError(where() + m); }

  [[noreturn]] void unsupported(const OnnxNode& on, const std::string& why = "") const {
    const std::string& d = on.proto().domain();
    fail("unsupported ONNX op '" + on.op_type() + "' (node '" + on.name() + "', domain " +
         (d.empty() ? std::string("ai.onnx") : d) + ")" + why);
  }

  int add_value(const std::string& name, bool constant, Tensor data = {});
  bool is_const(int id) const { return id >= 0 && g_.values[static_cast<size_t>(id)].is_constant; }
  const Tensor& const_data(int id) const { return g_.values[static_cast<size_t>(id)].data; }

  // onnx_loader.cpp
  void check_header();
  void load_initializers();
  void load_inputs();
  void mark_needed();
  void bind_outputs();
  void prune();

  // onnx_loader_nodes.cpp
  int resolve(const OnnxNode& on, const std::string& name) const;
  void process(const NodeProto& np, int index);
  void check_extra_outputs(const OnnxNode& on, size_t produced) const;
  Tensor constant_value(const OnnxNode& on) const;
  Shape symbolic_shape(const OnnxNode& on, int id) const;
  void track_shapes(const Node& n);
  Tensor fold_with_kernel(const OnnxNode& on, const Node& n) const;

  // onnx_loader_ops.cpp
  void want_inputs(const OnnxNode& on, const std::vector<int>& in, size_t lo, size_t hi) const;
  std::vector<int64_t> const_ints(const OnnxNode& on, int id, const char* what) const;
  Node build_node(const OnnxNode& on, OpKind kind, const std::vector<int>& in) const;
  const Tensor& const_ints_tensor(const OnnxNode& on, int id) const;

  const onnx::ModelProto& m_;
  Graph g_;
  std::unordered_map<std::string, int> ids_;          // value name -> id, as defined so far
  std::unordered_map<std::string, int> producer_;     // value name -> ONNX node index
  std::unordered_set<std::string> used_;              // names the graph outputs depend on
  std::unordered_set<std::string> input_names_;
  std::vector<char> needed_;
  // Per value: shape at batch 1 and 2 (when known), for Shape folding and load-time checks.
  std::vector<Shape> s1_, s2_;
  std::vector<char> known1_, known2_;
};

}  // namespace mgi::onnx_load
