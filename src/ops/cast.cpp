// Cast and CastLike between every DType (ONNX Cast semantics through
// convert_elements), and the ONNX data type <-> DType mapping.
#include "cast.hpp"

#include "error.hpp"
#include "layout.hpp"
#include "onnx_attrs.hpp"
#include "op_registry.hpp"

namespace mgi {

bool dtype_from_onnx(int32_t onnx_type, DType& out) {
  using onnx::TensorProto;
  switch (onnx_type) {
    case TensorProto::FLOAT:
    case TensorProto::DOUBLE: out = DType::f32; return true;
    case TensorProto::FLOAT16: out = DType::f16; return true;
    case TensorProto::BFLOAT16: out = DType::bf16; return true;
    case TensorProto::INT64: out = DType::i64; return true;
    case TensorProto::INT32: out = DType::i32; return true;
    case TensorProto::INT8: out = DType::i8; return true;
    case TensorProto::UINT8: out = DType::u8; return true;
    case TensorProto::BOOL: out = DType::b8; return true;
    default: return false;
  }
}

int32_t dtype_to_onnx(DType t) {
  using onnx::TensorProto;
  switch (t) {
    case DType::f32: return TensorProto::FLOAT;
    case DType::f16: return TensorProto::FLOAT16;
    case DType::bf16: return TensorProto::BFLOAT16;
    case DType::i64: return TensorProto::INT64;
    case DType::i32: return TensorProto::INT32;
    case DType::i8: return TensorProto::INT8;
    case DType::u8: return TensorProto::UINT8;
    case DType::b8: return TensorProto::BOOL;
  }
  return TensorProto::UNDEFINED;
}

namespace {

void parse_cast(const OnnxNode& on, Node& n) {
  const int64_t to = on.need_int("to");
  if (to != static_cast<int32_t>(to) || !dtype_from_onnx(static_cast<int32_t>(to), n.to))
    on.fail("Cast to " + onnx_type_name(static_cast<int32_t>(to)) +
            " is not supported (supported: float32, float64 (computed as float32), float16, bfloat16, int64, "
            "int32, int8, uint8, bool)");
}

void infer_cast(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  out[0] = {a.node.to, a.shape(0)};
}

void infer_cast_like(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  out[0] = {a.type(1), a.shape(0)};
}

DType type_cast(const Node& n, const std::vector<DType>&, size_t) { return n.to; }
DType type_cast_like(const Node&, const std::vector<DType>& in, size_t) { return in.at(1); }

void cpu_cast(const KernelArgs& k) {
  convert_elements(k.in[0].dtype, k.in[0].data, k.out[0].dtype, k.out[0].data, k.out[0].numel());
}

}  // namespace

void register_cast_ops(OpRegistry& r) {
  OpDef cast;
  cast.name = "Cast";
  cast.since = 6;
  cast.parse = parse_cast;
  cast.infer = infer_cast;
  cast.cpu = cpu_cast;
  cast.type = type_cast;
  cast.types = "T1, T2: float32, float16, bfloat16, int64, int32, int8, uint8, bool";
  cast.notes =
      "`to` = DOUBLE gives float32 (the tool computes in float32); string, int16, uint16, uint32, uint64, "
      "complex and float8/4-bit targets are refused. Float to integer truncates toward zero and saturates at "
      "the target's range (NaN gives 0); to bool is x != 0; to float16/bfloat16 rounds to nearest even. "
      "Opset 19's `saturate` (float8 only) is ignored.";
  r.add(cast);

  OpDef like;
  like.name = "CastLike";
  like.since = 15;
  like.min_inputs = like.max_inputs = 2;
  like.infer = infer_cast_like;
  like.cpu = cpu_cast;
  like.type = type_cast_like;
  like.types = "T1, T2: float32, float16, bfloat16, int64, int32, int8, uint8, bool";
  like.notes = "Output type = input 1's type (only its type is read); conversions as Cast.";
  r.add(like);
}

}  // namespace mgi
