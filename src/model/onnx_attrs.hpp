// Typed, validated access to ONNX node attributes and tensors. Every failure is
// a ModelError that names the model, the node (or tensor) and what was wrong.
#pragma once
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tensor.hpp"

namespace mgi {

// Largest tensor the loader accepts (elements): an initializer, a Constant
// node or a folded constant. Guards allocations driven by untrusted sizes.
constexpr int64_t kMaxTensorElements = int64_t{1} << 34;
constexpr int64_t kMaxFoldedElements = int64_t{1} << 24;  // 128 MiB as int64: a tiny model must not allocate GiBs

class OnnxNode {
 public:
  OnnxNode(const onnx::NodeProto& proto, std::string name, const std::string& source)
      : proto_(proto), name_(std::move(name)), source_(source) {}

  const onnx::NodeProto& proto() const { return proto_; }
  const std::string& name() const { return name_; }
  const std::string& op_type() const { return proto_.op_type(); }
  const std::string& source() const { return source_; }

  // "model <source>: node '<name>' (<op>): <what>"
  [[noreturn]] void fail(const std::string& what) const;

  bool has(const char* attr) const { return find(attr) != nullptr; }
  int64_t get_int(const char* attr, int64_t def) const;
  int64_t need_int(const char* attr) const;
  float get_float(const char* attr, float def) const;
  std::string get_string(const char* attr, const std::string& def) const;
  std::vector<int64_t> get_ints(const char* attr) const;  // empty when absent
  std::vector<float> get_floats(const char* attr) const;
  const onnx::TensorProto* get_tensor(const char* attr) const;  // nullptr when absent

 private:
  const onnx::AttributeProto* find(const char* attr) const;
  const onnx::AttributeProto& typed(const char* attr, int type, const char* what) const;

  const onnx::NodeProto& proto_;
  std::string name_;
  const std::string& source_;
};

// Converts an ONNX tensor to a Tensor: float/double/float16/bfloat16 -> f32;
// int64, int32, int8, uint8 and bool keep their type; other integer types ->
// int64. Checks dims, element count
// and byte count before copying. `what` prefixes errors, e.g.
// "model m.onnx: initializer 'fc1.weight'".
// Tensors with external data are read through `external` (null: refused).
class ExternalData;
Tensor tensor_from_onnx(const onnx::TensorProto& t, const std::string& what);
Tensor tensor_from_onnx(const onnx::TensorProto& t, const std::string& what, ExternalData* external);

// Name used for ONNX data types in messages ("float32", "int64", ...).
std::string onnx_type_name(int32_t data_type);

}  // namespace mgi
