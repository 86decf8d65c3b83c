// ONNX loader on untrusted bytes: garbage, truncated and bit-flipped models,
// malformed tensors (sizes, dims, external data) and missing header fields.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backend.hpp"
#include "error.hpp"
#include "graph.hpp"
#include "onnx_loader_test_util.hpp"
#include "onnx_test_model.hpp"

namespace mgi {
namespace {

TEST(OnnxLoader, GarbageBytes) {
  const std::string bad(64, '\xff');
  const std::string msg = model_error([&] { load_onnx(bad, "junk.onnx"); });
  EXPECT_HAS(msg, "junk.onnx: not a valid ONNX model");
  EXPECT_HAS(model_error([&] { load_onnx("", "empty.onnx"); }), "empty.onnx: not a valid ONNX model");
  EXPECT_HAS(model_error([&] { load_onnx("hello, this is not a model", "text.onnx"); }), "text.onnx");
}

TEST(OnnxLoader, TruncatedModelNeverCrashes) {
  const std::string full = mlp().bytes();
  // Every prefix either fails cleanly with a ModelError or (rarely) parses.
  for (size_t len = 0; len < full.size(); len += 3) {
    try {
      load_onnx(full.substr(0, len), "cut.onnx");
    } catch (const ModelError& e) {
      EXPECT_HAS(e.what(), "cut.onnx");
    }
  }
  EXPECT_HAS(model_error([&] { load_onnx(full.substr(0, full.size() / 2), "cut.onnx"); }), "cut.onnx");
}

// x[N, 2, 3] -> Shape/Gather/Unsqueeze/Concat -> Reshape [N, 6] -> Gemm -> Softmax
OnnxModel folding_model() {
  OnnxModel m(13);
  m.input("x", {-1, 2, 3});
  m.init_i64("zero", {}, {0});
  m.init_i64("axes0", {1}, {0});
  m.init_i64("minus1", {1}, {-1});
  m.init("w", {6, 3}, std::vector<float>(18, 0.5f));
  m.node("Shape", {"x"}, {"s"});
  m.node("Gather", {"s", "zero"}, {"b"});
  m.node("Unsqueeze", {"b", "axes0"}, {"b1"});
  auto* cat = m.node("Concat", {"b1", "minus1"}, {"shape"});
  OnnxModel::attr_i(cat, "axis", 0);
  m.node("Reshape", {"x", "shape"}, {"flat"});
  m.node("MatMul", {"flat", "w"}, {"z"});
  m.node("Softmax", {"z"}, {"y"});
  m.output("y");
  return m;
}

// Single-byte corruptions anywhere in a model: the loader, shape inference and
// the backend either work or throw a typed Error; never crash.
TEST(OnnxLoader, FlippedBytesNeverCrash) {
  for (const std::string& full : {mlp().bytes(), folding_model().bytes()})
    for (size_t pos = 0; pos < full.size(); ++pos)
      for (char mask : {'\x5a', '\x01', '\x80'}) {
        std::string b = full;
        b[pos] = static_cast<char>(b[pos] ^ mask);
        try {
          const Graph g = load_onnx(b, "flip.onnx");
          if (g.inputs.size() != 1 || g.input_shapes[0].size() < 2) continue;
          Shape row = row_shape(g.input_shapes[0]);
          bool small = true;
          for (int64_t& d : row) {
            if (d < 0) d = 3;
            small = small && d <= 64;
          }
          if (!small) continue;
          Shape in = row;
          in.insert(in.begin(), 2);
          // 8 bytes per element: room for any input or output type.
          std::vector<uint64_t> x(static_cast<size_t>(shape_numel(in)), 0);
          const auto shapes = g.infer_shapes({in});
          std::vector<std::vector<uint64_t>> ys;
          std::vector<void*> outs;
          for (int id : g.outputs) ys.emplace_back(static_cast<size_t>(shape_numel(shapes[static_cast<size_t>(id)])));
          for (auto& y : ys) outs.push_back(y.data());
          auto be = make_cpu_backend(1);
          be->prepare(g, {row}, 2);
          be->run(2, {x.data()}, outs);
        } catch (const Error&) {
        }
      }
}

TEST(OnnxLoader, RawDataSizeMismatch) {
  OnnxModel m = mlp();
  m.g->mutable_initializer(0)->mutable_raw_data()->resize(20);
  const std::string msg = model_error([&] { m.load(); });
  EXPECT_HAS(msg, "initializer 'w1'");
  EXPECT_HAS(msg, "raw_data has 20 bytes");
}

TEST(OnnxLoader, FloatDataCountMismatch) {
  OnnxModel m = mlp();
  m.g->mutable_initializer(2)->add_float_data(1.0f);  // w2 stored as float_data
  EXPECT_HAS(model_error([&] { m.load(); }), "initializer 'w2'");
}

TEST(OnnxLoader, OverflowingAndNegativeDims) {
  {
    OnnxModel m = mlp();
    auto* t = m.g->mutable_initializer(0);
    t->clear_dims();
    t->add_dims(int64_t{1} << 40);
    t->add_dims(int64_t{1} << 40);
    const std::string msg = model_error([&] { m.load(); });
    EXPECT_HAS(msg, "initializer 'w1'");
    EXPECT_HAS(msg, "2^34");
  }
  {
    OnnxModel m = mlp();
    auto* t = m.g->mutable_initializer(0);
    t->clear_dims();
    t->add_dims(-4);
    t->add_dims(-3);
    const std::string msg = model_error([&] { m.load(); });
    EXPECT_HAS(msg, "initializer 'w1'");
    EXPECT_HAS(msg, "negative");
  }
  {  // individually fine dims whose product overflows int64
    OnnxModel m = mlp();
    auto* t = m.g->mutable_initializer(0);
    t->clear_dims();
    for (int k = 0; k < 4; ++k) t->add_dims(int64_t{1} << 20);
    EXPECT_HAS(model_error([&] { m.load(); }), "initializer 'w1'");
  }
}

TEST(OnnxLoader, ExternalDataRejected) {
  OnnxModel m = mlp();
  auto* t = m.g->mutable_initializer(0);
  t->clear_raw_data();
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* e = t->add_external_data();
  e->set_key("location");
  e->set_value("weights.bin");
  const std::string msg = model_error([&] { m.load(); });
  EXPECT_HAS(msg, "initializer 'w1'");
  EXPECT_HAS(msg, "external data not supported");
}

TEST(OnnxLoader, HeaderChecks) {
  {
    OnnxModel m = mlp();
    m.m.clear_ir_version();
    EXPECT_HAS(model_error([&] { m.load(); }), "ir_version");
  }
  {
    OnnxModel m = mlp();
    m.m.clear_opset_import();
    EXPECT_HAS(model_error([&] { m.load(); }), "opset");
  }
  {
    OnnxModel m = mlp();
    m.g->clear_output();
    EXPECT_HAS(model_error([&] { m.load(); }), "no graph outputs");
  }
}

}  // namespace
}  // namespace mgi
