// Builds small ONNX models in tests with the protobuf API (no files, no Python).
#pragma once
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "graph.hpp"

namespace mgi::test {

class OnnxModel {
 public:
  explicit OnnxModel(int64_t opset = 17) {
    m.set_ir_version(8);
    m.set_producer_name("unit-test");
    m.set_producer_version("1.0");
    auto* o = m.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    g = m.mutable_graph();
    g->set_name("g");
  }

  // dims < 0 become a named (dynamic) dim.
  onnx::ValueInfoProto* input(const std::string& name, const std::vector<int64_t>& dims,
                              int elem = onnx::TensorProto::FLOAT) {
    auto* vi = g->add_input();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* sh = tt->mutable_shape();
    for (int64_t d : dims) {
      auto* dim = sh->add_dim();
      if (d >= 0) dim->set_dim_value(d);
      else dim->set_dim_param("N");
    }
    return vi;
  }
  void output(const std::string& name) {
    auto* vi = g->add_output();
    vi->set_name(name);
    vi->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  }
  onnx::TensorProto* init(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& v,
                          bool raw = true) {
    auto* t = g->add_initializer();
    fill(t, name, dims, v, raw);
    return t;
  }
  onnx::TensorProto* init_i64(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<int64_t>& v) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    for (int64_t d : dims) t->add_dims(d);
    for (int64_t x : v) t->add_int64_data(x);
    return t;
  }
  static void fill(onnx::TensorProto* t, const std::string& name, const std::vector<int64_t>& dims,
                   const std::vector<float>& v, bool raw = true) {
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    if (raw) t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    else
      for (float x : v) t->add_float_data(x);
  }
  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& in,
                        const std::vector<std::string>& out, const std::string& name = "") {
    auto* n = g->add_node();
    n->set_op_type(op);
    if (!name.empty()) n->set_name(name);
    for (const auto& s : in) n->add_input(s);
    for (const auto& s : out) n->add_output(s);
    return n;
  }
  static onnx::AttributeProto* attr(onnx::NodeProto* n, const std::string& name) {
    auto* a = n->add_attribute();
    a->set_name(name);
    return a;
  }
  static void attr_i(onnx::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = attr(n, name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr_f(onnx::NodeProto* n, const std::string& name, float v) {
    auto* a = attr(n, name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void attr_s(onnx::NodeProto* n, const std::string& name, const std::string& v) {
    auto* a = attr(n, name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  }
  static void attr_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = attr(n, name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static onnx::TensorProto* attr_t(onnx::NodeProto* n, const std::string& name) {
    auto* a = attr(n, name);
    a->set_type(onnx::AttributeProto::TENSOR);
    return a->mutable_t();
  }

  std::string bytes() const {
    std::string s;
    m.SerializeToString(&s);
    return s;
  }
  Graph load(const std::string& source = "test.onnx") const { return load_onnx(bytes(), source); }

  onnx::ModelProto m;
  onnx::GraphProto* g;
};

}  // namespace mgi::test
