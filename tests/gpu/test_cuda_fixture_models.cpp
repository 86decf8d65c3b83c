// The fixture models (tests/fixtures/models: a ResNet, a U-Net, a 1-D CNN and
// a BERT encoder exported by PyTorch) on the CUDA backend against the CPU
// backend, on fresh random inputs (seed printed): a full batch, a single row
// and a tail batch. Float outputs within a relative 1e-4 (cuBLAS sums GEMMs
// and convs in another order, through several layers); integer outputs
// (U-Net's ArgMax labels) may differ only where two logits nearly tie.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "gpu_typed_util.hpp"

namespace mgi::gputest {
namespace {

Graph load_fixture(const std::string& name) {
  const std::string path = std::string(MGI_FIXTURE_MODELS) + "/" + name;
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << path;
  std::stringstream ss;
  ss << f.rdbuf();
  return load_onnx(ss.str(), path);
}

// Compares float outputs by tolerance and counts differing integer elements (<= 1 in 500 allowed).
void compare_model(const std::string& name, const std::vector<Shape>& rows, const std::vector<InputGen>& gen,
                   int64_t max_batch, double tol) {
  const Graph g = load_fixture(name);
  Rng rng(test_seed());
  TypedBatch in;
  for (size_t k = 0; k < rows.size(); ++k) {
    Shape full{max_batch};
    full.insert(full.end(), rows[k].begin(), rows[k].end());
    in.push_back(k < gen.size() && gen[k] ? gen[k](rng, full) : uniform_tensor(rng, DType::f32, full, -2, 2));
  }
  auto cpu = make_cpu_backend(1);
  auto gpu = make_cuda_backend(0, {});
  cpu->prepare(g, rows, max_batch);
  gpu->prepare(g, rows, max_batch);
  std::printf("[ backend  ] %s: %s\n", name.c_str(), gpu->describe().c_str());
  const int64_t tail = std::max<int64_t>(1, max_batch / 3);
  for (const auto& [first, n] : std::vector<std::pair<int64_t, int64_t>>{{0, max_batch}, {max_batch - 1, 1}, {1, tail}}) {
    const std::string what = name + " rows [" + std::to_string(first) + "," + std::to_string(first + n) + ")";
    const TypedBatch ref = run_typed(*cpu, g, rows, in, first, n);
    const TypedBatch got = run_typed(*gpu, g, rows, in, first, n);
    ASSERT_EQ(ref.size(), got.size());
    for (size_t k = 0; k < ref.size(); ++k) {
      if (is_float(ref[k].dtype)) {
        expect_typed_close({ref[k]}, {got[k]}, tol, what + " '" + g.output_name(k) + "'");
        continue;
      }
      ASSERT_EQ(ref[k].shape, got[k].shape) << what;
      int64_t differ = 0;
      for (int64_t j = 0; j < ref[k].numel(); ++j) differ += ref[k].double_at(j) != got[k].double_at(j);
      std::printf("[ compare  ] %s '%s': %lld of %lld elements differ\n", what.c_str(), g.output_name(k).c_str(),
                  static_cast<long long>(differ), static_cast<long long>(ref[k].numel()));
      EXPECT_LE(differ * 500, ref[k].numel()) << what << " '" << g.output_name(k) << "'";
    }
  }
}

TEST(FixtureModels, ResNet) {
  MGI_REQUIRE_CUDA_DEVICE();
  compare_model("resnet.onnx", {{3, 32, 32}}, {}, 13, 1e-4);
}

TEST(FixtureModels, UNet) {
  MGI_REQUIRE_CUDA_DEVICE();
  compare_model("unet.onnx", {{1, 32, 32}}, {}, 7, 1e-4);
}

TEST(FixtureModels, Conv1d) {
  MGI_REQUIRE_CUDA_DEVICE();
  compare_model("conv1d.onnx", {{2, 128}}, {}, 19, 1e-4);
}

TEST(FixtureModels, BertTs) {
  MGI_REQUIRE_CUDA_DEVICE();
  const int64_t seq = 24;
  // Token ids in [1, 1000) (the fixture's vocabulary); the mask: a random-length prefix of ones.
  InputGen ids = [](Rng& rng, const Shape& s) { return uniform_tensor(rng, DType::i64, s, 1, 999); };
  InputGen mask = [](Rng& rng, const Shape& s) {
    Tensor t(DType::i64, s);
    for (int64_t r = 0; r < s[0]; ++r) {
      const int64_t len = rng.integer(1, s[1]);
      for (int64_t j = 0; j < s[1]; ++j) t.data<int64_t>()[r * s[1] + j] = j < len ? 1 : 0;
    }
    return t;
  };
  compare_model("bert_ts.onnx", {{seq}, {seq}}, {ids, mask}, 9, 1e-4);
}

}  // namespace
}  // namespace mgi::gputest
