// A deep MLP for the pipeline-stage tests: `layers` x (MatMul w x w -> Add bias
// -> Relu), then Identity to "y"; random weights in [-scale, scale].
#pragma once
#include <cstdint>
#include <string>

#include "onnx_test_model.hpp"
#include "test_rng.hpp"

namespace mgi::test {

inline Graph deep_mlp(int layers, int64_t w, Rng& rng, float weight_scale, const std::string& source) {
  OnnxModel m;
  m.input("x", {-1, w});
  std::string prev = "x";
  for (int l = 0; l < layers; ++l) {
    const std::string s = std::to_string(l);
    m.init("W" + s, {w, w}, rng.uniform({w, w}, -weight_scale, weight_scale));
    m.init("b" + s, {w}, rng.uniform({w}, -0.1f, 0.1f));
    m.node("MatMul", {prev, "W" + s}, {"mm" + s});
    m.node("Add", {"mm" + s, "b" + s}, {"add" + s});
    m.node("Relu", {"add" + s}, {"h" + s});
    prev = "h" + s;
  }
  m.node("Identity", {prev}, {"y"});
  m.output("y");
  return m.load(source);
}

}  // namespace mgi::test
