// The ONNX loader's Loader class, shared by its files: onnx_loader.cpp (the
// graph: header, initializers, inputs, outputs, pruning) and
// onnx_loader_nodes.cpp (each node: its op definition from the registry,
// folded when its inputs are constants, else a runtime or host node).
#pragma once
#include <onnx/onnx_pb.h>

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "error.hpp"
#include "graph.hpp"
#include "external_data.hpp"
#include "onnx_attrs.hpp"

namespace mgi::onnx_load {

using onnx::NodeProto;
using onnx::TensorProto;

class Loader {
 public:
  Loader(const onnx::ModelProto& m, const std::string& source, ExternalData* external = nullptr)
      : m_(m), external_(external) {
    g_.source = source;
  }

  Graph load();

 private:
  std::string where() const { return "model " + g_.source + ": "; }
  [[noreturn]] void fail(const std::string& m) const { throw ModelError(where() + m); }

  int add_value(const std::string& name, DType dtype, bool constant, Tensor data = {});
  bool is_const(int id) const { return id >= 0 && g_.values[static_cast<size_t>(id)].is_constant; }
  bool is_host(int id) const { return id >= 0 && g_.values[static_cast<size_t>(id)].host; }
  const Tensor& const_data(int id) const { return g_.values[static_cast<size_t>(id)].data; }

  // onnx_loader.cpp
  void check_header();
  void load_initializers();
  void load_inputs();
  void mark_needed();
  void check_supported() const;
  void bind_outputs();
  void prune();
  void check_shapes() const;

  // onnx_loader_nodes.cpp
  int resolve(const OnnxNode& on, const std::string& name) const;
  void process(const NodeProto& np, int index);
  void check_extra_outputs(const OnnxNode& on, size_t produced) const;
  std::vector<Tensor> fold(const OnnxNode& on, const Node& n) const;

  const onnx::ModelProto& m_;
  ExternalData* external_ = nullptr;  // reads initializers stored in files beside the model
  Graph g_;
  std::unordered_map<std::string, int> ids_;          // value name -> id, as defined so far
  std::unordered_map<std::string, int> producer_;     // value name -> ONNX node index
  std::unordered_set<std::string> used_;              // names the graph outputs depend on
  std::unordered_set<std::string> input_names_;
  std::vector<char> needed_;
};

}  // namespace mgi::onnx_load
