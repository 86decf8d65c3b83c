#include "onnx_attrs.hpp"

#include <cstring>
#include <limits>
#include <string_view>

#include "error.hpp"
#include "external_data.hpp"

namespace mgi {

using onnx::AttributeProto;
using onnx::TensorProto;

void OnnxNode::fail(const std::string& what) const {
  throw ModelError("model " + source_ + ": node '" + name_ + "' (" + proto_.op_type() + "): " + what);
}

const AttributeProto* OnnxNode::find(const char* attr) const {
  for (const auto& a : proto_.attribute())
    if (a.name() == attr) return &a;
  return nullptr;
}

const AttributeProto& OnnxNode::typed(const char* attr, int type, const char* what) const {
  const AttributeProto* a = find(attr);
  if (a == nullptr) fail(std::string("missing required attribute '") + attr + "'");
  bool ok = a->type() == type;
  if (a->type() == AttributeProto::UNDEFINED) {  // very old writers leave the type unset
    switch (type) {
      case AttributeProto::FLOAT: ok = a->has_f(); break;
      case AttributeProto::INT: ok = a->has_i(); break;
      case AttributeProto::STRING: ok = a->has_s(); break;
      case AttributeProto::TENSOR: ok = a->has_t(); break;
      case AttributeProto::FLOATS: ok = true; break;
      case AttributeProto::INTS: ok = true; break;
      default: ok = false;
    }
  }
  if (!ok) fail(std::string("attribute '") + attr + "' must be " + what);
  return *a;
}

int64_t OnnxNode::get_int(const char* attr, int64_t def) const {
  return has(attr) ? typed(attr, AttributeProto::INT, "an int").i() : def;
}
int64_t OnnxNode::need_int(const char* attr) const { return typed(attr, AttributeProto::INT, "an int").i(); }
float OnnxNode::get_float(const char* attr, float def) const {
  return has(attr) ? typed(attr, AttributeProto::FLOAT, "a float").f() : def;
}
std::string OnnxNode::get_string(const char* attr, const std::string& def) const {
  return has(attr) ? typed(attr, AttributeProto::STRING, "a string").s() : def;
}
std::vector<int64_t> OnnxNode::get_ints(const char* attr) const {
  if (!has(attr)) return {};
  const auto& a = typed(attr, AttributeProto::INTS, "a list of ints");
  return {a.ints().begin(), a.ints().end()};
}
std::vector<float> OnnxNode::get_floats(const char* attr) const {
  if (!has(attr)) return {};
  const auto& a = typed(attr, AttributeProto::FLOATS, "a list of floats");
  return {a.floats().begin(), a.floats().end()};
}
const TensorProto* OnnxNode::get_tensor(const char* attr) const {
  return has(attr) ? &typed(attr, AttributeProto::TENSOR, "a tensor").t() : nullptr;
}

std::string onnx_type_name(int32_t t) {
  switch (t) {
    case TensorProto::FLOAT: return "float32";
    case TensorProto::UINT8: return "uint8";
    case TensorProto::INT8: return "int8";
    case TensorProto::UINT16: return "uint16";
    case TensorProto::INT16: return "int16";
    case TensorProto::INT32: return "int32";
    case TensorProto::INT64: return "int64";
    case TensorProto::STRING: return "string";
    case TensorProto::BOOL: return "bool";
    case TensorProto::FLOAT16: return "float16";
    case TensorProto::DOUBLE: return "float64";
    case TensorProto::UINT32: return "uint32";
    case TensorProto::UINT64: return "uint64";
    case TensorProto::COMPLEX64: return "complex64";
    case TensorProto::COMPLEX128: return "complex128";
    case TensorProto::BFLOAT16: return "bfloat16";
    default: return "type " + std::to_string(t);
  }
}

namespace {

// Bytes per element in raw_data, 0 when the type is not supported.
size_t raw_size(int32_t t) {
  switch (t) {
    case TensorProto::FLOAT:
    case TensorProto::INT32:
    case TensorProto::UINT32: return 4;
    case TensorProto::DOUBLE:
    case TensorProto::INT64:
    case TensorProto::UINT64: return 8;
    case TensorProto::FLOAT16:
    case TensorProto::BFLOAT16:
    case TensorProto::INT16:
    case TensorProto::UINT16: return 2;
    case TensorProto::INT8:
    case TensorProto::UINT8:
    case TensorProto::BOOL: return 1;
    default: return 0;
  }
}

template <class T>
T load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // ONNX raw_data is little-endian, as is every supported host
  return v;
}

double raw_element(int32_t t, const char* p) {
  switch (t) {
    case TensorProto::FLOAT: return load<float>(p);
    case TensorProto::DOUBLE: return load<double>(p);
    case TensorProto::FLOAT16: return half_to_float(load<uint16_t>(p));
    case TensorProto::BFLOAT16: return bf16_to_float(load<uint16_t>(p));
    default: return 0.0;
  }
}
int64_t raw_int(int32_t t, const char* p) {
  switch (t) {
    case TensorProto::INT32: return load<int32_t>(p);
    case TensorProto::UINT32: return load<uint32_t>(p);
    case TensorProto::INT64: return load<int64_t>(p);
    case TensorProto::UINT64: return static_cast<int64_t>(load<uint64_t>(p));
    case TensorProto::INT16: return load<int16_t>(p);
    case TensorProto::UINT16: return load<uint16_t>(p);
    case TensorProto::INT8: return load<int8_t>(p);
    case TensorProto::UINT8: return load<uint8_t>(p);
    case TensorProto::BOOL: return load<uint8_t>(p) != 0;
    default: return 0;
  }
}

bool is_float_type(int32_t t) {
  return t == TensorProto::FLOAT || t == TensorProto::DOUBLE || t == TensorProto::FLOAT16 ||
         t == TensorProto::BFLOAT16;
}

}  // namespace

Tensor tensor_from_onnx(const TensorProto& t, const std::string& what) { return tensor_from_onnx(t, what, nullptr); }

Tensor tensor_from_onnx(const TensorProto& t, const std::string& what, ExternalData* external) {
  auto fail = [&](const std::string& m) -> void { throw ModelError(what + ": " + m); };
  const bool is_external = t.data_location() == TensorProto::EXTERNAL || t.external_data_size() > 0;
  if (is_external && !external)
    fail("uses external data (external data not supported here: save the model with its weights inside "
         "the .onnx file)");
  if (t.has_segment()) fail("is a segmented tensor (not supported)");
  Tensor out;
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0) fail("has a negative dimension " + std::to_string(d));
    if (d != 0 && n > kMaxTensorElements / d)
      fail("has dims whose product exceeds 2^34 elements (corrupt or unsupported tensor)");
    n *= d;
    out.shape.push_back(d);
  }
  const int32_t type = t.data_type();
  const size_t esize = raw_size(type);
  if (esize == 0)
    fail("has data type " + onnx_type_name(type) + "; supported: float32/64, float16, bfloat16, integer and bool");
  const bool as_float = is_float_type(type);
  // Float types compute as float32; integer types keep their width where the
  // tool has it (int64, int32, int8, uint8, bool) and widen to int64 otherwise.
  DType dtype = DType::f32;
  if (!as_float) {
    switch (type) {
      case TensorProto::INT32: dtype = DType::i32; break;
      case TensorProto::INT8: dtype = DType::i8; break;
      case TensorProto::UINT8: dtype = DType::u8; break;
      case TensorProto::BOOL: dtype = DType::b8; break;
      default: dtype = DType::i64; break;
    }
  }
  const size_t count = static_cast<size_t>(n);

  // Exactly one storage field must hold exactly n elements.
  int64_t typed_count = 0;
  switch (type) {
    case TensorProto::FLOAT: typed_count = t.float_data_size(); break;
    case TensorProto::DOUBLE: typed_count = t.double_data_size(); break;
    case TensorProto::INT64: typed_count = t.int64_data_size(); break;
    case TensorProto::UINT32:
    case TensorProto::UINT64: typed_count = t.uint64_data_size(); break;
    default: typed_count = t.int32_data_size(); break;  // int32, int16, int8, uint*, bool, float16, bfloat16
  }
  std::string_view raw = t.raw_data();
  const bool use_raw = t.has_raw_data() || is_external;
  if (is_external) {
    if (t.has_raw_data() || typed_count != 0) fail("has external data and data inside the model at once");
    // `what` is "model <source>: initializer 'x'"; the reader adds the model itself.
    const size_t colon = what.find(": ");
    raw = external->bytes(t, colon == std::string::npos ? what : what.substr(colon + 2));
  }
  if (use_raw) {
    if (raw.size() / esize != count || raw.size() % esize != 0)
      fail(std::string(is_external ? "external data has " : "raw_data has ") + std::to_string(raw.size()) + " bytes but shape " + shape_str(out.shape) + " of " +
           onnx_type_name(type) + " needs " + std::to_string(n) + " x " + std::to_string(esize) + " bytes");
  } else if (typed_count != n) {
    fail("holds " + std::to_string(typed_count) + " values but shape " + shape_str(out.shape) + " needs " +
         std::to_string(n));
  }

  Shape shape = out.shape;
  out = Tensor(dtype, std::move(shape));
  // Integers go through int64 and are narrowed to their own type (values fit by construction).
  std::vector<int64_t> ints(as_float ? 0 : count);
  float* f = as_float ? out.data<float>() : nullptr;
  auto narrow = [&] {
    if (!as_float) convert_elements(DType::i64, ints.data(), dtype, out.raw(), n);
  };
  if (use_raw) {
    const char* p = raw.data();
    if (type == TensorProto::FLOAT) {
      if (count) std::memcpy(f, p, count * 4);
    } else if (as_float) {
      for (size_t k = 0; k < count; ++k) f[k] = static_cast<float>(raw_element(type, p + k * esize));
    } else {
      for (size_t k = 0; k < count; ++k) ints[k] = raw_int(type, p + k * esize);
    }
    narrow();
    return out;
  }
  for (size_t k = 0; k < count; ++k) {
    const int kk = static_cast<int>(k);
    switch (type) {
      case TensorProto::FLOAT: f[k] = t.float_data(kk); break;
      case TensorProto::DOUBLE: f[k] = static_cast<float>(t.double_data(kk)); break;
      case TensorProto::FLOAT16: f[k] = half_to_float(static_cast<uint16_t>(t.int32_data(kk))); break;
      case TensorProto::BFLOAT16: f[k] = bf16_to_float(static_cast<uint16_t>(t.int32_data(kk))); break;
      case TensorProto::INT64: ints[k] = t.int64_data(kk); break;
      case TensorProto::UINT32:
      case TensorProto::UINT64: ints[k] = static_cast<int64_t>(t.uint64_data(kk)); break;
      case TensorProto::BOOL: ints[k] = t.int32_data(kk) != 0; break;
      default: ints[k] = t.int32_data(kk); break;
    }
  }
  narrow();
  return out;
}

}  // namespace mgi
