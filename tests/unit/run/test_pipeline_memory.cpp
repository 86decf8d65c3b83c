// Pipeline stage memory (pipeline_memory.hpp): per-stage weights, activations
// and message buffers; `pipeline_stages: auto` picks the fewest stages that fit
// 90% of min(free, runtime.memory_limit); a fixed K that does not fit names the
// K that would. And the CPU backend's runtime.memory_limit (BackendOptions).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "backend.hpp"
#include "cpu_backend.hpp"
#include "error.hpp"
#include "format.hpp"
#include "deep_mlp_model.hpp"
#include "onnx_test_model.hpp"
#include "pipeline_memory.hpp"
#include "test_rng.hpp"

namespace mgi {
namespace {

using test::Rng;

constexpr int64_t GiB = int64_t(1) << 30;

Graph mlp(int layers, int64_t w, Rng& rng) { return test::deep_mlp(layers, w, rng, 0.1f, "deep.onnx"); }

int64_t weights_of(const Graph& g) {
  int64_t w = 0;
  for (const Value& v : g.values)
    if (v.is_constant) w += static_cast<int64_t>(v.data.bytes());
  return w;
}

TEST(PipelineMemory, PeakActivationsAndStageTotals) {
  Rng rng;
  SEED_TRACE(rng);
  const Graph g = mlp(4, 64, rng);
  // At most two [batch, 64] floats alive at once (a node's input and output).
  EXPECT_EQ(peak_activation_bytes(g, {{64}}, 5), 2 * 5 * 64 * 4);
  const PipelineSplit split = split_graph(g, 2, {{64}});
  const std::vector<StageMemory> mem = stage_memory(g, {{64}}, split, 5, 2);
  ASSERT_EQ(mem.size(), 2u);
  for (size_t s = 0; s < 2; ++s) {
    EXPECT_EQ(mem[s].weight_bytes, split.stages[s].weight_bytes);
    EXPECT_EQ(mem[s].activation_bytes, 2 * 5 * 64 * 4);
    EXPECT_EQ(mem[s].message_bytes, 2 * 5 * (64 * 4 + 64 * 4));  // 2 in flight x 5 rows x (in + out row)
  }
  EXPECT_EQ(mem[0].weight_bytes + mem[1].weight_bytes, weights_of(g));
  const std::vector<std::string> lines = describe_stage_memory(mem);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("stage 1: weights ", 0), 0u) << lines[0];
}

TEST(PipelineMemory, AutoPicksFewestStagesThatFitTheLimit) {
  Rng rng;
  SEED_TRACE(rng);
  const Graph g = mlp(12, 128, rng);  // 12 x 64 KiB of weights
  const int64_t w = weights_of(g);
  PipelineMemoryInput in;
  in.free_bytes = 64 * GiB;
  in.memory_limit = w / 3;  // the weights are 3x the limit
  in.batch = 8;
  in.max_stages = 16;
  const PipelinePlan p = choose_pipeline_stages(g, {{128}}, in);
  std::printf("%s\n", p.reason.c_str());
  for (const std::string& line : describe_stage_memory(p.memory)) std::printf("  %s\n", line.c_str());
  ASSERT_TRUE(p.fits) << p.reason;
  EXPECT_GE(p.stages, 3);
  EXPECT_TRUE(p.by_limit);
  EXPECT_EQ(p.available_bytes, w / 3);
  EXPECT_EQ(p.budget_bytes, static_cast<int64_t>(0.9 * static_cast<double>(w / 3)));
  for (const StageMemory& m : p.memory) EXPECT_LE(m.total(), p.budget_bytes);
  // The fewest: one stage fewer does not fit.
  const PipelinePlan fewer = plan_pipeline_stages(g, {{128}}, p.stages - 1, in);
  EXPECT_FALSE(fewer.fits);
  EXPECT_EQ(fewer.would_fit, p.stages);
  EXPECT_EQ(p.reason.rfind("runtime.pipeline_stages auto: " + std::to_string(p.stages) + " stages, the largest needs ", 0),
            0u)
      << p.reason;
  EXPECT_NE(p.reason.find("usable (90% of runtime.memory_limit " + human_bytes(w / 3) + ")"), std::string::npos)
      << p.reason;
  EXPECT_NE(p.reason.find(std::to_string(p.stages - 1) + " stages would need "), std::string::npos) << p.reason;

  // Without a limit, plenty of free memory: one stage.
  in.memory_limit = 0;
  const PipelinePlan one = choose_pipeline_stages(g, {{128}}, in);
  EXPECT_TRUE(one.fits);
  EXPECT_EQ(one.stages, 1);
  EXPECT_FALSE(one.by_limit);
  EXPECT_EQ(one.reason.rfind("runtime.pipeline_stages auto: 1 stage, the model needs ", 0), 0u) << one.reason;
}

TEST(PipelineMemory, OneStageThatDoesNotFitNamesTheKThatWould) {
  Rng rng;
  SEED_TRACE(rng);
  const Graph g = mlp(12, 128, rng);
  const int64_t w = weights_of(g);
  PipelineMemoryInput in;
  in.free_bytes = 64 * GiB;
  in.memory_limit = w / 3;
  in.batch = 8;
  in.max_stages = 16;
  const PipelinePlan p = plan_pipeline_stages(g, {{128}}, 1, in);
  std::printf("%s\n", p.reason.c_str());
  EXPECT_FALSE(p.fits);
  const PipelinePlan chosen = choose_pipeline_stages(g, {{128}}, in);
  EXPECT_EQ(p.would_fit, chosen.stages);
  EXPECT_EQ(p.reason, "model needs " + human_bytes(p.memory[0].total()) + ", rank has " + human_bytes(p.budget_bytes) +
                          " (90% of runtime.memory_limit " + human_bytes(w / 3) + "); runtime.pipeline_stages: " +
                          std::to_string(chosen.stages) + " would fit");
  // A limit nothing fits under: said so.
  in.memory_limit = 4096;
  const PipelinePlan none = plan_pipeline_stages(g, {{128}}, 1, in);
  std::printf("%s\n", none.reason.c_str());
  EXPECT_FALSE(none.fits);
  EXPECT_EQ(none.would_fit, 0);
  EXPECT_NE(none.reason.find("no runtime.pipeline_stages up to 16 fits (lower runtime.batch_size)"), std::string::npos)
      << none.reason;
  EXPECT_FALSE(choose_pipeline_stages(g, {{128}}, in).fits);
}

// The plan agrees with the CPU backend under the same runtime.memory_limit: the whole model is
// refused, each stage of the K that auto picks prepares, and runs bitwise like the whole graph.
TEST(PipelineMemory, ChosenStagesPrepareUnderTheLimit) {
  Rng rng;
  SEED_TRACE(rng);
  const Graph g = mlp(12, 128, rng);
  PipelineMemoryInput in;
  in.free_bytes = 64 * GiB;
  in.memory_limit = weights_of(g) / 3;
  in.batch = 8;
  in.max_stages = 16;
  const PipelinePlan p = choose_pipeline_stages(g, {{128}}, in);
  ASSERT_TRUE(p.fits) << p.reason;
  BackendOptions opt;
  opt.memory_limit = in.memory_limit;
  CpuBackend whole(1, opt);
  EXPECT_THROW(whole.prepare(g, {{128}}, in.batch), OutOfMemory);
  BackendOptions unlimited;
  CpuBackend ref(1, unlimited);
  ref.prepare(g, {{128}}, in.batch);
  const std::vector<float> x = rng.uniform({in.batch, 128});
  std::vector<float> want(static_cast<size_t>(in.batch * 128)), got = x;
  ref.run(in.batch, {x.data()}, {want.data()});
  for (int s = 0; s < p.stages; ++s) {
    const PipelineSplit mine = split_graph(g, p.stages, {{128}}, s);  // as the rank running stage s
    const PipelineStage& st = mine.stages[static_cast<size_t>(s)];
    CpuBackend be(1, opt);
    ASSERT_NO_THROW(be.prepare(st.graph, st.input_rows, in.batch)) << "stage " << s + 1;
    EXPECT_LE(be.weight_bytes() + be.buffer_bytes(), p.budget_bytes);
    ASSERT_EQ(st.input_from.size(), 1u);
    ASSERT_EQ(st.send_from.size(), 1u);
    std::vector<float> out(static_cast<size_t>(in.batch * 128));
    be.run(in.batch, {got.data()}, {out.data()});
    got = out;
  }
  EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0);  // bitwise
}

TEST(CpuMemoryLimit, PrepareRefusesWhatExceedsTheLimit) {
  Rng rng;
  SEED_TRACE(rng);
  const Graph g = mlp(4, 128, rng);  // 4 x 64.5 KiB of weights
  const int64_t w = weights_of(g);
  BackendOptions opt;
  opt.memory_limit = w / 2;
  CpuBackend small(1, opt);
  EXPECT_LE(small.memory_info().free_bytes, w / 2);
  EXPECT_LE(small.memory_info().total_bytes, w / 2);
  try {
    small.prepare(g, {{128}}, 4);
    ADD_FAILURE() << "prepare() did not refuse";
  } catch (const OutOfMemory& e) {
    EXPECT_NE(std::string(e.what()).find("runtime.memory_limit is " + human_bytes(w / 2)), std::string::npos)
        << e.what();
  }
  // Weights fit, activations for a big batch do not: OutOfMemory, which prepare_batch backs off from.
  opt.memory_limit = w + 64 * 1024;
  CpuBackend mid(1, opt);
  EXPECT_THROW(mid.prepare(g, {{128}}, 4096), OutOfMemory);
  EXPECT_LT(prepare_batch(mid, g, {{128}}, 4096, true), 4096);
  // Prepared: free = limit - weights - buffers.
  EXPECT_EQ(mid.memory_info().free_bytes, opt.memory_limit - mid.weight_bytes() - mid.buffer_bytes());
  EXPECT_EQ(mid.weight_bytes(), w);
}

}  // namespace
}  // namespace mgi
