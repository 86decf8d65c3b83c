// Pipeline stages (stage_split.hpp): a graph cut into K stages, run one after
// another on the CPU backend with messages assembled by input_from/send_from,
// gives outputs BITWISE equal to the whole graph on the CPU backend, for fresh
// random inputs at two batch sizes (and two sequence lengths for the encoders);
// each stage holds only the constants its nodes read; each stage fuses exactly
// as the whole graph does (no cut inside a fused pattern); the MLP's stages are
// balanced; a graph with too few cut points is refused.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "backend.hpp"
#include "error.hpp"
#include "error_test_util.hpp"
#include "graph_fuse.hpp"
#include "deep_mlp_model.hpp"
#include "onnx_test_model.hpp"
#include "stage_split.hpp"
#include "test_rng.hpp"

namespace mgi {
namespace {

using test::Rng;

using Bytes = std::vector<char>;

Graph load_fixture(const std::string& file) {
  const std::string dir = std::string(MGI_SOURCE_DIR) + "/tests/fixtures/models";
  std::ifstream f(dir + "/" + file, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  if (ss.str().empty()) throw std::runtime_error("cannot read fixture " + file);
  return load_onnx(ss.str(), file, dir);
}

Graph mlp(int layers, int64_t w, Rng& rng) { return test::deep_mlp(layers, w, rng, 0.3f, "mlp.onnx"); }

Bytes random_input(const Graph& g, size_t k, const Shape& shape, Rng& rng) {
  const DType t = g.input_type(k);
  const int64_t n = shape_numel(shape);
  Bytes b(static_cast<size_t>(n) * dtype_size(t));
  if (t == DType::f32) {
    const std::vector<float> v = rng.uniform(shape, -2.0f, 2.0f);
    std::memcpy(b.data(), v.data(), b.size());
    return b;
  }
  EXPECT_EQ(t, DType::i64) << g.input_name(k);
  auto* p = reinterpret_cast<int64_t*>(b.data());
  const bool mask = g.input_name(k).find("mask") != std::string::npos;
  const int64_t seq = shape.size() > 1 ? shape[1] : 1;
  for (int64_t r = 0; r < shape[0]; ++r) {
    // masks: a random length >= 1, zeros after it (some rows full)
    const int64_t len = 1 + static_cast<int64_t>(rng.gen() % static_cast<uint32_t>(seq));
    for (int64_t j = 0; j < n / shape[0]; ++j)
      p[r * (n / shape[0]) + j] = mask ? (j % seq < len || r == 0 ? 1 : 0) : static_cast<int64_t>(rng.gen() % 1000);
  }
  return b;
}

// The whole graph on the CPU backend: one output buffer per graph output.
std::vector<Bytes> run_whole(const Graph& g, const std::vector<Shape>& rows, const std::vector<Shape>& shapes,
                             const std::vector<Bytes>& in) {
  auto be = make_cpu_backend(1);
  be->prepare(g, rows, shapes[0][0]);
  const ShapePlan p = g.plan(shapes);
  std::vector<Bytes> out;
  std::vector<const void*> ip;
  std::vector<void*> op;
  for (const Bytes& b : in) ip.push_back(b.data());
  for (size_t k = 0; k < g.outputs.size(); ++k)
    out.emplace_back(static_cast<size_t>(shape_numel(p.shapes[static_cast<size_t>(g.outputs[k])])) *
                     dtype_size(g.output_type(k)));
  for (Bytes& b : out) op.push_back(b.data());
  be->run_shaped(shapes, ip, op);
  return out;
}

// The stages one after another, each on its own CPU backend, messages built from input_from/send_from.
std::vector<Bytes> run_stages(const PipelineSplit& split, const std::vector<Shape>& shapes,
                              const std::vector<Bytes>& in) {
  std::vector<Bytes> msg = in;
  std::vector<Shape> msg_shapes = shapes;
  for (const PipelineStage& st : split.stages) {
    EXPECT_EQ(st.receives.size(), msg.size());
    auto be = make_cpu_backend(1);
    be->prepare(st.graph, st.input_rows, shapes[0][0]);
    std::vector<const void*> ip;
    std::vector<Shape> ishapes;
    for (int k : st.input_from) {
      ip.push_back(msg[static_cast<size_t>(k)].data());
      ishapes.push_back(msg_shapes[static_cast<size_t>(k)]);
    }
    const std::vector<Shape> sshapes = send_shapes(st, msg_shapes);
    std::vector<Bytes> out(st.graph.outputs.size());
    std::vector<void*> op;
    for (size_t j = 0; j < st.send_from.size(); ++j)
      if (st.send_from[j] >= 0) {
        const size_t o = static_cast<size_t>(st.send_from[j]);
        out[o].resize(static_cast<size_t>(shape_numel(sshapes[j])) * dtype_size(st.graph.output_type(o)));
      }
    for (Bytes& b : out) op.push_back(b.data());
    be->run_shaped(ishapes, ip, op);
    std::vector<Bytes> next;
    for (size_t j = 0; j < st.send_from.size(); ++j)
      next.push_back(st.send_from[j] >= 0 ? out[static_cast<size_t>(st.send_from[j])]
                                          : msg[static_cast<size_t>(-1 - st.send_from[j])]);
    msg = std::move(next);
    msg_shapes = sshapes;
  }
  return msg;
}

// Fused node names (runtime nodes only) of a graph, in order.
std::vector<std::string> fused_names(const Graph& g, const std::vector<Shape>& rows) {
  const Graph f = fuse_graph(g, rows);
  std::vector<std::string> names;
  for (const Node& n : f.nodes) {
    bool host = false;
    for (int id : n.outputs) host = host || (id >= 0 && f.values[static_cast<size_t>(id)].host);
    if (!host) names.push_back(n.name + "/" + std::to_string(n.epilogue.size()) + "/" + std::to_string(n.inputs.size()));
  }
  return names;
}

// Structure: constants, weights, fusion, message plumbing.
void check_structure(const Graph& g, const PipelineSplit& split, const std::vector<Shape>& rows) {
  // Each stage's constants are exactly those its nodes read.
  std::map<std::string, int> holders;  // constant name -> stages holding it
  int64_t stage_sum = 0;
  for (const PipelineStage& st : split.stages) {
    std::set<int> read;
    for (const Node& n : st.graph.nodes)
      for (int id : n.inputs)
        if (id >= 0) read.insert(id);
    for (size_t v = 0; v < st.graph.values.size(); ++v)
      if (st.graph.values[v].is_constant) {
        EXPECT_TRUE(read.count(static_cast<int>(v))) << "stage holds unused constant " << st.graph.values[v].name;
        ++holders[st.graph.values[v].name];
      }
    stage_sum += st.weight_bytes;
    EXPECT_EQ(st.graph.inputs.size(), st.input_from.size());
    EXPECT_EQ(st.graph.inputs.size(), st.input_rows.size());
    EXPECT_EQ(st.graph.inputs.size(), st.graph.input_shapes.size());
    EXPECT_EQ(st.graph.inputs.size(), st.graph.input_dim_names.size());
    for (size_t k = 0; k < st.graph.inputs.size(); ++k) {
      EXPECT_EQ(st.graph.input_dim_names[k].size(), st.graph.input_shapes[k].size());
      EXPECT_EQ(st.graph.values[static_cast<size_t>(st.graph.inputs[k])].name,
                g.values[static_cast<size_t>(st.receives[static_cast<size_t>(st.input_from[k])])].name);
    }
  }
  EXPECT_EQ(split.stages.front().receives, g.inputs);
  EXPECT_EQ(split.stages.back().sends, g.outputs);
  for (size_t s = 1; s < split.stages.size(); ++s) {
    EXPECT_EQ(split.stages[s].receives, split.stages[s - 1].sends);
    EXPECT_EQ(split.stages[s].node_begin, split.stages[s - 1].node_end);
  }
  // Weight bytes of the stages = the model's constants (those nodes read), shared ones once per holder.
  std::set<int> used;
  for (const Node& n : g.nodes)
    for (int id : n.inputs)
      if (id >= 0 && g.values[static_cast<size_t>(id)].is_constant) used.insert(id);
  int64_t model = 0, expected = 0;
  for (int id : used) {
    const Value& v = g.values[static_cast<size_t>(id)];
    model += static_cast<int64_t>(v.data.bytes());
    expected += static_cast<int64_t>(v.data.bytes()) * holders[v.name];
    EXPECT_GE(holders[v.name], 1) << v.name;
  }
  EXPECT_EQ(stage_sum, expected);
  EXPECT_GE(stage_sum, model);
  // Fusion: the stages' fused runtime nodes are the whole graph's, in order (no cut inside a pattern).
  std::vector<std::string> joined;
  for (const PipelineStage& st : split.stages)
    for (const std::string& n : fused_names(st.graph, st.input_rows)) joined.push_back(n);
  EXPECT_EQ(joined, fused_names(g, rows));
}

// Splits into K = 1..4 (as many as the graph allows, at least min_k_ok) and checks
// structure and bitwise outputs for the given batch sizes and row shapes.
void check_model(const Graph& g, const std::vector<Shape>& rows, const std::vector<int64_t>& batches,
                 const std::vector<std::vector<Shape>>& run_rows, int min_k_ok = 4) {
  Rng rng;
  SEED_TRACE(rng);
  std::printf("random seed %u\n", rng.seed);
  int made = 0;
  for (int k = 1; k <= 4; ++k) {  // K = 1: one stage, the whole graph
    SCOPED_TRACE("K = " + std::to_string(k));
    PipelineSplit split;
    try {
      split = split_graph(g, k, rows);
    } catch (const ModelError& e) {
      EXPECT_GT(k, min_k_ok) << e.what();
      EXPECT_HAS(e.what(), "cannot be cut into");
      break;
    }
    ++made;
    ASSERT_EQ(split.stages.size(), static_cast<size_t>(k));
    for (const std::string& line : split.describe()) std::printf("  K=%d %s\n", k, line.c_str());
    check_structure(g, split, rows);
    for (size_t bi = 0; bi < (k == 1 ? 1 : batches.size()); ++bi)  // K = 1: one batch is enough
      for (const std::vector<Shape>& rr : run_rows) {
        const int64_t b = batches[bi];
        std::vector<Shape> shapes = rr;
        std::vector<Bytes> in;
        for (size_t i = 0; i < shapes.size(); ++i) {
          shapes[i].insert(shapes[i].begin(), b);
          in.push_back(random_input(g, i, shapes[i], rng));
        }
        SCOPED_TRACE("batch " + std::to_string(b) + ", input " + shape_str(shapes[0]));
        const std::vector<Bytes> whole = run_whole(g, rows, shapes, in);
        const std::vector<Bytes> staged = run_stages(split, shapes, in);
        ASSERT_EQ(whole.size(), staged.size());
        for (size_t o = 0; o < whole.size(); ++o) {
          ASSERT_EQ(whole[o].size(), staged[o].size()) << "output " << o;
          EXPECT_EQ(std::memcmp(whole[o].data(), staged[o].data(), whole[o].size()), 0)
              << "output " << g.output_name(o) << " differs";
        }
      }
  }
  EXPECT_GE(made, min_k_ok);  // K = 1 .. min_k_ok all made
}

TEST(StageSplit, MlpBitwiseBalancedAndCutBetweenLayers) {
  Rng rng;
  SEED_TRACE(rng);
  const Graph g = mlp(8, 64, rng);
  check_model(g, {{64}}, {3, 7}, {{{64}}});
  for (int k : {2, 3, 4}) {
    const PipelineSplit split = split_graph(g, k, {{64}});
    int64_t total = 0, most = 0;
    for (const PipelineStage& st : split.stages) {
      total += st.weight_bytes;
      most = std::max(most, st.weight_bytes);
      // Cuts fall between layers: never between a MatMul and its fused bias/Relu.
      EXPECT_TRUE(st.graph.nodes.front().is("MatMul")) << st.graph.nodes.front().op_type;
      if (&st != &split.stages.back()) {
        EXPECT_EQ(st.sends.size(), 1u);              // one value crosses: the layer's output
        EXPECT_EQ(st.send_bytes_per_row, 64 * 4);
      }
    }
    // Balance: the largest stage holds at most 1.2x its even share (8 layers: 3/8 vs 1/3 at K = 3).
    EXPECT_LE(static_cast<double>(most), 1.2 * static_cast<double>(total) / k) << "K = " << k;
  }
  // Where every cut crosses the same bytes, the split is the most balanced: 32 layers, K = 2, 4, 8.
  const Graph deep = mlp(32, 16, rng);
  for (int k : {2, 4, 8}) {
    const PipelineSplit split = split_graph(deep, k, {{16}});
    for (const PipelineStage& st : split.stages)
      EXPECT_EQ(st.weight_bytes, split.stages[0].weight_bytes) << "K = " << k << ": " << split.describe()[0];
  }
}

// keep_stage: the other stages hold their big weights as shells (no bytes) but can be planned.
TEST(StageSplit, KeepStageHoldsOnlyItsOwnWeights) {
  Rng rng;
  SEED_TRACE(rng);
  const Graph g = mlp(4, 160, rng);  // 100 KiB weights per layer
  const PipelineSplit all = split_graph(g, 2, {{160}});
  const PipelineSplit mine = split_graph(g, 2, {{160}}, 1);
  check_structure(g, all, {{160}});  // fusion analysed on weight shells: same fused nodes
  for (size_t s = 0; s < 2; ++s) {
    EXPECT_EQ(mine.stages[s].weight_bytes, all.stages[s].weight_bytes);
    int64_t held = 0;
    for (const Value& v : mine.stages[s].graph.values)
      if (v.is_constant) held += static_cast<int64_t>(v.data.bytes());
    if (s == 1) EXPECT_EQ(held, all.stages[s].weight_bytes);
    else EXPECT_LT(held, 4096) << "stage 1 keeps only its biases";
    EXPECT_NO_THROW(mine.stages[s].graph.plan({{3, 160}}));
  }
  // keep_stage >= stages: shells everywhere (planning), same stages.
  const PipelineSplit none = split_graph(g, 2, {{160}}, 2);
  for (size_t s = 0; s < 2; ++s) {
    EXPECT_EQ(none.stages[s].weight_bytes, all.stages[s].weight_bytes);
    EXPECT_EQ(none.stages[s].node_end, all.stages[s].node_end);
    for (const Value& v : none.stages[s].graph.values)
      if (v.is_constant) EXPECT_LE(v.data.bytes(), 64u * 1024) << v.name;
  }
  // The kept stage runs as in the full split.
  std::vector<Bytes> in{random_input(g, 0, {3, 160}, rng)};
  const std::vector<Bytes> whole = run_whole(g, {{160}}, {{3, 160}}, in);
  const std::vector<Bytes> mid = run_stages(PipelineSplit{{all.stages[0]}}, {{3, 160}}, in);
  const std::vector<Bytes> out = run_stages(PipelineSplit{{mine.stages[1]}}, send_shapes(all.stages[0], {{3, 160}}), mid);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], whole[0]);
}

// A model whose input fixes the batch ([2, 32]): its stages keep that batch as dim 0.
TEST(StageSplit, FixedBatchModel) {
  Rng rng;
  SEED_TRACE(rng);
  test::OnnxModel m;
  m.input("x", {2, 32});
  std::string prev = "x";
  for (int l = 0; l < 4; ++l) {
    const std::string s = std::to_string(l);
    m.init("W" + s, {32, 32}, rng.uniform({32, 32}, -0.3f, 0.3f));
    m.node("Gemm", {prev, "W" + s}, {"g" + s});
    m.node("Tanh", {"g" + s}, {"h" + s});
    prev = "h" + s;
  }
  m.node("Identity", {prev}, {"y"});
  m.output("y");
  const Graph g = m.load("fixed.onnx");
  const PipelineSplit split = split_graph(g, 3, {{32}});
  for (const PipelineStage& st : split.stages) {
    ASSERT_FALSE(st.graph.input_shapes.empty());
    EXPECT_EQ(st.graph.input_shapes[0], (Shape{2, 32}));
    EXPECT_EQ(model_fixed_batch(st.graph), 2);
  }
  check_model(g, {{32}}, {2}, {{{32}}});
}

TEST(StageSplit, TooFewCutPoints) {
  test::OnnxModel m;
  m.input("x", {-1, 4});
  m.init("W", {4, 4}, std::vector<float>(16, 0.5f));
  m.node("MatMul", {"x", "W"}, {"h"});
  m.node("Relu", {"h"}, {"y"});  // fused into the MatMul: no cut between them
  m.output("y");
  const Graph g = m.load("tiny.onnx");
  const std::string msg = test::error_of([&] { split_graph(g, 2, {{4}}); });
  EXPECT_EQ(msg, "model tiny.onnx: cannot be cut into 2 pipeline stages: it has 0 places where only batch-first "
                 "values cross (at most 1 stage; runtime.pipeline_stages)");
  EXPECT_EQ(split_graph(g, 1, {{4}}).stages.size(), 1u);
}

// MatMul + bias + a unary chain fuse into one node (graph_fuse.hpp): no cut inside it, even where
// K = 3 would otherwise have places to cut (between each of the five nodes of the first layer).
TEST(StageSplit, NoCutInsideAFusedPattern) {
  Rng rng;
  SEED_TRACE(rng);
  test::OnnxModel m;
  m.input("x", {-1, 16});
  m.init("W1", {16, 16}, rng.uniform({16, 16}));
  m.init("b1", {16}, rng.uniform({16}));
  m.init("W2", {16, 16}, rng.uniform({16, 16}));
  m.node("MatMul", {"x", "W1"}, {"m1"});
  m.node("Add", {"m1", "b1"}, {"a1"});
  m.node("Relu", {"a1"}, {"r1"});
  m.node("Tanh", {"r1"}, {"t1"});
  m.node("Sigmoid", {"t1"}, {"s1"});
  m.node("MatMul", {"s1", "W2"}, {"y"});
  m.output("y");
  const Graph g = m.load("chain.onnx");
  EXPECT_HAS(test::error_of([&] { split_graph(g, 3, {{16}}); }),
             "cannot be cut into 3 pipeline stages: it has 1 place where only batch-first values cross");
  const PipelineSplit split = split_graph(g, 2, {{16}});
  EXPECT_EQ(split.stages[0].node_end, 5);  // the cut is before the second MatMul
  check_structure(g, split, {{16}});
}

TEST(StageSplit, BertTorchScriptTwoLengths) {
  const Graph g = load_fixture("bert_ts.onnx");
  check_model(g, {{32}, {32}}, {2, 5}, {{{32}, {32}}, {{13}, {13}}});
}

TEST(StageSplit, BertDynamoExternalData) {
  const Graph g = load_fixture("bert_dynamo.onnx");
  check_model(g, {{32}, {32}}, {2, 5}, {{{32}, {32}}, {{13}, {13}}});
}

TEST(StageSplit, ResNet) {
  const Graph g = load_fixture("resnet.onnx");
  check_model(g, {{3, 32, 32}}, {1, 3}, {{{3, 32, 32}}});
}

TEST(StageSplit, UNetSkipConnections) {
  const Graph g = load_fixture("unet.onnx");
  check_model(g, {{1, 32, 32}}, {1, 3}, {{{1, 32, 32}}});
}

TEST(StageSplit, Conv1d) {
  const Graph g = load_fixture("conv1d.onnx");
  check_model(g, {{2, 128}}, {2, 5}, {{{2, 128}}});
}

}  // namespace
}  // namespace mgi
