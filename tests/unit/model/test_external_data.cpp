// ONNX external data: weights in files beside the model (written here from C++
// with random values), read through load_onnx(bytes, source, folder); ranges,
// paths that leave the folder (absolute, "..", symlinks) and missing keys refused.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "cpu_backend.hpp"
#include "external_data.hpp"
#include "onnx_loader_test_util.hpp"
#include "test_rng.hpp"

namespace mgi {
namespace {

class ExternalDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mgi-extdata-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  void write(const std::string& name, const std::string& bytes) {
    std::ofstream f(dir_ + "/" + name, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  static std::string bytes_of(const std::vector<float>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  }
  // Points t at location[offset, offset + length) (length < 0: key left out).
  static void external(onnx::TensorProto* t, const std::string& location, int64_t offset, int64_t length) {
    t->clear_raw_data();
    t->clear_float_data();
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    auto kv = [&](const std::string& k, const std::string& v) {
      auto* e = t->add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    if (!location.empty()) kv("location", location);
    kv("offset", std::to_string(offset));
    if (length >= 0) kv("length", std::to_string(length));
    kv("checksum", "ignored");
  }
  // x[N, 4] -> MatMul(w1[4, 3]) + b1 -> MatMul(w2[3, 2]) -> y
  test::OnnxModel model() {
    test::OnnxModel m;
    m.input("x", {-1, 4});
    m.init("w1", {4, 3}, w1_);
    m.init("b1", {3}, b1_);
    m.init("w2", {3, 2}, w2_);
    m.node("MatMul", {"x", "w1"}, {"h"});
    m.node("Add", {"h", "b1"}, {"hb"});
    m.node("MatMul", {"hb", "w2"}, {"y"});
    m.output("y");
    return m;
  }
  onnx::TensorProto* init(test::OnnxModel& m, const std::string& name) {
    for (auto& t : *m.g->mutable_initializer())
      if (t.name() == name) return &t;
    return nullptr;
  }
  std::vector<float> run(const Graph& g, const std::vector<float>& x) {
    CpuBackend be(1);
    be.prepare(g, {{4}}, 2);
    std::vector<float> y(4);
    be.run(2, {x.data()}, {y.data()});
    return y;
  }

  test::Rng rng_;
  std::vector<float> w1_ = rng_.uniform({4, 3}), b1_ = rng_.uniform({3}), w2_ = rng_.uniform({3, 2});
  std::string dir_;
};

TEST_F(ExternalDataTest, TwoDataFilesGiveTheSameResultsAsInlineWeights) {
  SEED_TRACE(rng_);
  test::OnnxModel inline_model = model(), m = model();
  // w1 and b1 share one file (b1 after 16 bytes of padding), w2 has its own.
  write("weights_a.bin", bytes_of(w1_) + std::string(16, '\0') + bytes_of(b1_));
  write("sub_b.bin", bytes_of(w2_));
  external(init(m, "w1"), "weights_a.bin", 0, 48);
  external(init(m, "b1"), "weights_a.bin", 64, 12);
  external(init(m, "w2"), "sub_b.bin", 0, -1);  // no length: to the end of the file
  const Graph g = load_onnx(m.bytes(), dir_ + "/model.onnx", dir_);
  ASSERT_EQ(g.external_files.size(), 2u);
  EXPECT_EQ(g.external_files[0].location, "sub_b.bin");
  EXPECT_EQ(g.external_files[0].size, 24);
  EXPECT_EQ(g.external_files[1].location, "weights_a.bin");
  EXPECT_EQ(g.external_files[1].size, 76);
  EXPECT_GT(g.external_files[1].mtime_ns, 0);
  const std::vector<float> x = rng_.uniform({2, 4});
  EXPECT_EQ(run(g, x), run(inline_model.load(), x));  // bitwise
}

TEST_F(ExternalDataTest, RefusedWithoutAFolder) {
  test::OnnxModel m = model();
  write("w.bin", bytes_of(w1_));
  external(init(m, "w1"), "w.bin", 0, 48);
  EXPECT_HAS(model_error([&] { load_onnx(m.bytes(), "m.onnx"); }), "initializer 'w1': uses external data");
}

TEST_F(ExternalDataTest, RangesAreCheckedAgainstTheFileSize) {
  write("w.bin", bytes_of(w1_));  // 48 bytes
  {
    test::OnnxModel m = model();
    external(init(m, "w1"), "w.bin", 8, 48);
    EXPECT_HAS(model_error([&] { load_onnx(m.bytes(), "m.onnx", dir_); }),
               "model m.onnx: initializer 'w1': external data range [8, 8 + 48) runs past the end of file "
               "'w.bin' (48 bytes)");
  }
  {
    test::OnnxModel m = model();
    external(init(m, "w1"), "w.bin", 100, 4);
    EXPECT_HAS(model_error([&] { load_onnx(m.bytes(), "m.onnx", dir_); }), "offset 100 is past the end of file");
  }
  {
    test::OnnxModel m = model();
    external(init(m, "w1"), "w.bin", 4, 40);  // in range, but not the tensor's 48 bytes
    EXPECT_HAS(model_error([&] { load_onnx(m.bytes(), "m.onnx", dir_); }),
               "external data has 40 bytes but shape [4, 3] of float32 needs 12 x 4 bytes");
  }
  {
    test::OnnxModel m = model();
    external(init(m, "w1"), "w.bin", 0, 48);
    init(m, "w1")->mutable_external_data(1)->set_value("-4");
    EXPECT_HAS(model_error([&] { load_onnx(m.bytes(), "m.onnx", dir_); }), "offset '-4' is not a non-negative integer");
  }
  {
    test::OnnxModel m = model();
    external(init(m, "w1"), "", 0, 48);
    EXPECT_HAS(model_error([&] { load_onnx(m.bytes(), "m.onnx", dir_); }), "has no 'location' key");
  }
  {
    test::OnnxModel m = model();
    external(init(m, "w1"), "missing.bin", 0, 48);
    EXPECT_HAS(model_error([&] { load_onnx(m.bytes(), "m.onnx", dir_); }), "missing.bin' cannot be opened");
  }
}

TEST_F(ExternalDataTest, PathsLeavingTheModelFolderAreRefused) {
  const std::string outside = dir_ + "-outside.bin";
  {
    std::ofstream f(outside, std::ios::binary);
    const std::string b = bytes_of(w1_);
    f.write(b.data(), static_cast<std::streamsize>(b.size()));
  }
  mkdir((dir_ + "/m").c_str(), 0755);
  write("inside.bin", bytes_of(w1_));
  ASSERT_EQ(symlink(outside.c_str(), (dir_ + "/m/link.bin").c_str()), 0);
  ASSERT_EQ(symlink((dir_ + "/inside.bin").c_str(), (dir_ + "/m/up.bin").c_str()), 0);
  const std::string folder = dir_ + "/m";
  auto refuse = [&](const std::string& location, const std::string& why) {
    test::OnnxModel m = model();
    external(init(m, "w1"), location, 0, 48);
    EXPECT_HAS(model_error([&] { load_onnx(m.bytes(), "m.onnx", folder); }), why);
  };
  refuse(outside, "is an absolute path; it must be relative to the model's folder");
  refuse("../inside.bin", "leaves the model's folder ('..')");
  refuse("a/../../inside.bin", "leaves the model's folder ('..')");
  refuse("link.bin", "outside the model's folder");
  refuse("up.bin", "outside the model's folder");
  std::remove(outside.c_str());
}

TEST(ModelFile, FolderAndReading) {
  EXPECT_EQ(model_folder("model.onnx"), ".");
  EXPECT_EQ(model_folder("models/bert/model.onnx"), "models/bert");
  EXPECT_EQ(model_folder("/model.onnx"), "/");
  EXPECT_HAS(model_error([] { read_model_file("/nonexistent/model.onnx"); }), "model.file '/nonexistent/model.onnx': cannot read");
}

TEST(ModelFixedBatch, FromTheInputsFirstDims) {
  test::OnnxModel m;
  m.input("x", {1, 4});
  m.input("z", {-1, 4});
  m.node("Add", {"x", "z"}, {"y"});
  m.output("y");
  EXPECT_EQ(model_fixed_batch(m.load()), 1);
  test::OnnxModel d = mlp();
  EXPECT_EQ(model_fixed_batch(d.load()), 0);
  test::OnnxModel bad;
  bad.input("x", {2, 4});
  bad.input("z", {3, 4});
  bad.node("Add", {"x", "x"}, {"y"});
  bad.node("Add", {"z", "z"}, {"w"});
  bad.output("y");
  bad.output("w");
  EXPECT_HAS(model_error([&] { model_fixed_batch(bad.load()); }), "has batch 3 but input 'x' has batch 2");
}

// A fixed-batch model ([3, 4]) prepares only for that batch, and each of its
// rows gives the same result as in the dynamic-batch twin.
TEST(ModelFixedBatch, CpuBackendRunsTheFixedBatch) {
  test::Rng rng;
  SEED_TRACE(rng);
  const std::vector<float> w = rng.uniform({4, 2});
  auto make = [&](int64_t batch) {
    test::OnnxModel m;
    m.input("x", {batch, 4});
    m.init("w", {4, 2}, w);
    m.node("MatMul", {"x", "w"}, {"y"});
    m.output("y");
    return m.load();
  };
  const Graph fixed = make(3), dynamic = make(-1);
  CpuBackend be(1), ref(1);
  EXPECT_HAS(model_error([&] { be.prepare(fixed, {{4}}, 8); }), "its inputs fix the batch at 3 rows; prepared for 8");
  be.prepare(fixed, {{4}}, 3);
  ref.prepare(dynamic, {{4}}, 3);
  const std::vector<float> x = rng.uniform({3, 4});
  std::vector<float> a(6), b(6);
  be.run(3, {x.data()}, {a.data()});
  ref.run(3, {x.data()}, {b.data()});
  EXPECT_EQ(a, b);
  EXPECT_THROW(be.run(2, {x.data()}, {a.data()}), RuntimeError);
}

}  // namespace
}  // namespace mgi
