// Load-time evaluation of ONNX ops whose inputs are all constants and which
// have no runtime kernel: the shape arithmetic exporters emit around Reshape
// (Shape -> Gather -> Unsqueeze -> Concat), Constant-like ops, and int64 math.
// Float ops that have kernels are folded by the loader with the CPU kernels.
#pragma once
#include <vector>

#include "onnx_attrs.hpp"
#include "tensor.hpp"

namespace mgi {

// Evaluates `node` on constant inputs (nullptr where an optional input is
// absent) into `out` (one tensor per ONNX output). Returns false when the op
// is not one this folder knows. A value equal to kBatchDim (a batch size known
// only at run time) may be moved around (Gather, Concat, Slice, ...), but any
// arithmetic on it fails with a ModelError naming the node.
bool fold_constant_node(const OnnxNode& node, int64_t opset, const std::vector<const Tensor*>& in,
                        std::vector<Tensor>& out);

// int64 1-D tensor [rank] holding `shape` (dims may be kBatchDim), sliced to
// [start, end) as ONNX Shape-15 does.
Tensor shape_tensor(const Shape& shape, int64_t start, int64_t end);

}  // namespace mgi
