// Cast and CastLike, and the mapping between ONNX TensorProto data types and
// the tool's DTypes (used by Cast's `to` and by the loader for tensors).
#pragma once
#include <cstdint>

#include "dtype.hpp"

namespace mgi {

// The DType that holds values of ONNX data type `onnx_type` (a
// TensorProto::DataType number). float32/float16/bfloat16/int64/int32/int8/
// uint8/bool map to themselves; double maps to float32 (the tool computes in
// float32). Returns false for every other type (string, int16, uint16,
// uint32, uint64, complex, float8, 4-bit types): not representable.
bool dtype_from_onnx(int32_t onnx_type, DType& out);

// The ONNX data type number of a DType (TensorProto::FLOAT for f32, ...).
int32_t dtype_to_onnx(DType t);

}  // namespace mgi
