// Helpers shared by the ONNX loader tests (test_onnx_loader*.cpp): model_error(), EXPECT_HAS
// (error_test_util.hpp) and a small MLP model.
#pragma once
#include <gtest/gtest.h>

#include <exception>
#include <string>

#include "error.hpp"
#include "error_test_util.hpp"
#include "graph.hpp"
#include "onnx_test_model.hpp"

namespace mgi {
namespace {

using test::OnnxModel;

template <class F>
inline std::string model_error(F&& f) {
  try {
    f();
  } catch (const ModelError& e) {
    EXPECT_EQ(e.exit_code(), 4);
    return e.what();
  } catch (const std::exception& e) {
    return std::string("unexpected exception type: ") + e.what();
  }
  return "no error";
}

// x[N, 4] -> Gemm(W1[4,3], b1) -> Relu -> Gemm(W2[3,2]) -> y[N, 2]
inline OnnxModel mlp() {
  OnnxModel m;
  m.input("x", {-1, 4});
  m.init("w1", {4, 3}, {0.1f, -0.2f, 0.3f, 0.4f, 0.5f, -0.6f, 0.7f, 0.8f, 0.9f, -1.0f, 1.1f, 1.2f});
  m.init("b1", {3}, {0.01f, 0.02f, -0.03f});
  m.init("w2", {3, 2}, {1.0f, -1.0f, 0.5f, 0.25f, -0.75f, 2.0f}, false);
  m.node("Gemm", {"x", "w1", "b1"}, {"h"}, "fc1");
  m.node("Relu", {"h"}, {"hr"}, "act");
  m.node("Gemm", {"hr", "w2"}, {"y"}, "fc2");
  m.output("y");
  return m;
}

}  // namespace
}  // namespace mgi
