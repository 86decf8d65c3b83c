// The ops the CUDA backend has kernels for, as registry keys (domain, name),
// for docs/OPS.md's CUDA column and `mgi-mpi inspect`. No CUDA headers here:
// the docs generator and CPU-only builds include it (cuda_stub.cpp returns none).
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace mgi {

// Every (domain, op name) with a CUDA kernel or run without one (alias ops),
// sorted; domain "" is ai.onnx. Empty in a build without CUDA.
std::vector<std::pair<std::string, std::string>> cuda_op_keys();

}  // namespace mgi
