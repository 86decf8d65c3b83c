// match_inputs: which dataset or generated value feeds each model input, the
// row-count check across datasets, fill / pad values in the input's type, the
// fixed batch, the ragged padding rule, and the plan's lines.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "error.hpp"
#include "model_io.hpp"
#include "onnx_test_model.hpp"
#include "error_test_util.hpp"

namespace mgi {
namespace {

using test::OnnxModel;

// ids, mask, types: int64 [batch, S] (S = -1: dynamic) -> y = (float(ids) + float(mask) + float(types))[:, 0]
Graph three_inputs(int64_t seq, int64_t batch = -1) {
  OnnxModel m;
  const int i64 = onnx::TensorProto::INT64;
  m.input("ids", {batch, seq}, i64);
  m.input("mask", {batch, seq}, i64);
  m.input("types", {batch, seq}, i64);
  for (const char* n : {"ids", "mask", "types"}) OnnxModel::attr_i(m.node("Cast", {n}, {std::string(n) + "_f"}), "to", 1);
  m.node("Add", {"ids_f", "mask_f"}, {"s"});
  m.node("Add", {"s", "types_f"}, {"t"});
  m.init_i64("first", {}, {0});
  OnnxModel::attr_i(m.node("Gather", {"t", "first"}, {"y"}), "axis", 1);  // [batch]: position 0
  m.output("y");
  return m.load("m.onnx");
}

InputDescription ds(const std::string& name, const std::string& dataset, Shape shape, const std::string& dtype = "int32") {
  InputDescription d;
  d.file = "in.h5";
  d.dataset = dataset;
  d.dtype = dtype;
  d.shape = std::move(shape);
  d.onnx_input = name;
  return d;
}

template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("other exception: ") + e.what();
  }
  return "no error";
}

TEST(MatchInputs, EachInputFromItsDatasetOrAFill) {
  const Graph g = three_inputs(4);
  InputOptions opt;
  opt.fill = {{"types", 1}};
  const ModelIo io = match_inputs(g, "m.onnx", {ds("ids", "/ids", {10, 4}), ds("mask", "/m", {10, 4}, "int8")}, opt,
                                  {{"", "/y"}});
  ASSERT_EQ(io.feeds.size(), 3u);
  EXPECT_EQ(io.feeds[0].kind, InputFeed::dataset);
  EXPECT_EQ(io.feeds[0].source, 0);
  EXPECT_EQ(io.feeds[1].source, 1);
  EXPECT_EQ(io.feeds[2].kind, InputFeed::fill);
  EXPECT_EQ(io.input_rows[2], Shape{4});
  EXPECT_EQ(io.all_input_row_bytes, 3 * 4 * 8);
  EXPECT_EQ(io.fixed_batch, 0);
  const auto lines = describe_inputs(g, io, {ds("ids", "/ids", {10, 4}), ds("mask", "/m", {10, 4}, "int8")});
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "ids   <- /ids [10, 4] int32 -> int64");
  EXPECT_EQ(lines[1], "mask  <- /m [10, 4] int8 -> int64");
  EXPECT_EQ(lines[2], "types <- filled with 1, [batch, 4] int64");
}

TEST(MatchInputs, Mismatches) {
  const Graph g = three_inputs(4);
  InputOptions fill;
  fill.fill = {{"types", 0}};
  EXPECT_HAS(error_of<ConfigError>([&] {
               match_inputs(g, "m.onnx", {ds("ids", "/ids", {10, 4}), ds("bogus", "/m", {10, 4})}, fill, {{"", "/y"}});
             }),
             "input.dataset.bogus: model 'm.onnx' has no input named 'bogus' (inputs: ids, mask, types)");
  EXPECT_HAS(error_of<ConfigError>([&] {
               match_inputs(g, "m.onnx", {ds("ids", "/ids", {10, 4})}, fill, {{"", "/y"}});
             }),
             "input.dataset: model 'm.onnx' input 'mask' is fed by nothing");
  EXPECT_HAS(error_of<DataError>([&] {
               match_inputs(g, "m.onnx", {ds("ids", "/ids", {10, 4}), ds("mask", "/m", {9, 4})}, fill, {{"", "/y"}});
             }),
             "input datasets in 'in.h5' have different row counts (ids <- /ids 10 rows, mask <- /m 9 rows)");
  EXPECT_HAS(error_of<DataError>([&] {
               match_inputs(g, "m.onnx", {ds("ids", "/ids", {10, 4}), ds("mask", "/m", {10, 5})}, fill, {{"", "/y"}});
             }),
             "input dataset '/m' in 'in.h5' has shape [10, 5] (int32) but model 'm.onnx' input 'mask' expects [batch, 4]");
  EXPECT_HAS(error_of<ModelError>([&] { match_inputs(g, "m.onnx", {ds("", "/x", {10, 4})}, {}, {{"", "/y"}}); }),
             "model 'm.onnx' has 3 runtime inputs (ids, mask, types) and input.dataset feeds one");
  InputOptions bad_fill;
  bad_fill.fill = {{"types", 0.5}, {"mask", 1}};
  EXPECT_HAS(error_of<ConfigError>([&] {
               match_inputs(g, "m.onnx", {ds("ids", "/ids", {10, 4})}, bad_fill, {{"", "/y"}});
             }),
             "input.fill.types: 0.5 is not a valid int64 value for model input 'types'");
  InputOptions unknown;
  unknown.fill = {{"nope", 0}};
  EXPECT_HAS(error_of<ConfigError>([&] { match_inputs(g, "m.onnx", {ds("ids", "/ids", {10, 4})}, unknown, {{"", "/y"}}); }),
             "input.fill.nope: model 'm.onnx' has no input named 'nope'");
}

TEST(MatchInputs, FixedBatch) {
  const Graph g = three_inputs(4, 2);
  InputOptions opt;
  opt.fill = {{"mask", 1}, {"types", 0}};
  const ModelIo io = match_inputs(g, "m.onnx", {ds("ids", "/ids", {7, 4})}, opt, {{"", "/y"}});
  EXPECT_EQ(io.fixed_batch, 2);
  ASSERT_EQ(io.outputs.size(), 1u);
  EXPECT_EQ(io.outputs[0].row_shape, Shape{});
}

TEST(MatchInputs, RaggedMaskFillPadAndTheNoMaskRule) {
  const Graph g = three_inputs(-1);
  auto index = std::make_shared<RaggedIndex>();
  index->offsets = {0, 2, 5};
  index->max_length = 3;
  InputOptions opt;
  opt.ragged = index;
  opt.mask = "mask";
  opt.fill = {{"types", 0}};
  opt.pad_value = 7;
  InputDescription tokens = ds("ids", "/tokens", {2}, "vlen int32");
  tokens.vlen = true;
  ModelIo io = match_inputs(g, "m.onnx", {tokens}, opt, {{"", "/y"}});
  EXPECT_EQ(io.data_input, 0);
  EXPECT_EQ(io.mask_input, 1);
  EXPECT_EQ(io.feeds[2].kind, InputFeed::fill);
  EXPECT_FALSE(io.equal_length);
  ASSERT_EQ(io.pad.size(), 8u);
  EXPECT_EQ(*reinterpret_cast<const int64_t*>(io.pad.data()), 7);
  EXPECT_EQ(io.input_rows[2], Shape{3});
  EXPECT_HAS(describe_padding(g, io), "each batch padded to its longest row with 7 in 'ids'; mask 'mask'");
  const auto lines = describe_inputs(g, io, {tokens});
  EXPECT_EQ(lines[0], "ids   <- /tokens ragged [2, 3] (seq <= 3), vlen int32 -> int64");
  EXPECT_EQ(lines[2], "types <- filled with 0, [batch, seq] int64");
  // No mask: equal-length batches unless padding is declared harmless.
  InputOptions nomask = opt;
  nomask.mask.clear();
  nomask.fill = {{"mask", 1}, {"types", 0}};
  io = match_inputs(g, "m.onnx", {tokens}, nomask, {{"", "/y"}});
  EXPECT_TRUE(io.equal_length);
  EXPECT_HAS(describe_padding(g, io), "none: the model takes no mask, so batches hold rows of equal length only");
  nomask.padding_harmless = true;
  EXPECT_FALSE(match_inputs(g, "m.onnx", {tokens}, nomask, {{"", "/y"}}).equal_length);
  InputOptions bad_pad = opt;
  bad_pad.pad_value = 1.5;
  EXPECT_HAS(error_of<ConfigError>([&] { match_inputs(g, "m.onnx", {tokens}, bad_pad, {{"", "/y"}}); }),
             "input.pad_value: 1.5 is not a valid int64 value for model input 'ids'");
  EXPECT_HAS(error_of<ConfigError>([&] {
               match_inputs(g, "m.onnx", {tokens, ds("types", "/t", {2, 3})}, opt, {{"", "/y"}});
             }),
             "ragged rows (variable-length dataset '/tokens') feed one model input");
}

}  // namespace
}  // namespace mgi
