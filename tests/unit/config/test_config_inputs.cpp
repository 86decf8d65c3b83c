// input.dataset as a map {onnx_input: /dataset}, input.fill, input.pad_value,
// input.padding_harmless: values, defaults and the errors naming the key.
#include <gtest/gtest.h>

#include "config_test_util.hpp"

namespace mgi {
namespace {

const std::string kHead =
    "output:\n"
    "  file: out/y.h5\n"
    "model:\n"
    "  file: m.onnx\n"
    "input:\n"
    "  file: in.h5\n";

TEST(ConfigInputs, DefaultsAndScalarDataset) {
  const Config c = parse(kBase);
  ASSERT_EQ(c.input.datasets.size(), 1u);
  EXPECT_EQ(c.input.datasets[0].onnx_input, "");
  EXPECT_EQ(c.input.datasets[0].dataset, "/x");
  EXPECT_EQ(c.input.dataset, "/x");
  EXPECT_EQ(c.input.pad_value, 0);
  EXPECT_TRUE(c.input.fill.empty());
  EXPECT_FALSE(c.input.padding_harmless);
}

TEST(ConfigInputs, DatasetMapFillPadValue) {
  const Config c = parse(kHead +
                         "  dataset: {input_ids: /ids, attention_mask: /mask}\n"
                         "  fill: {token_type_ids: 0, position_bias: -1.5}\n"
                         "  pad_value: 3\n"
                         "  padding_harmless: true\n");
  ASSERT_EQ(c.input.datasets.size(), 2u);
  EXPECT_EQ(c.input.datasets[0].onnx_input, "input_ids");
  EXPECT_EQ(c.input.datasets[0].dataset, "/ids");
  EXPECT_EQ(c.input.datasets[1].onnx_input, "attention_mask");
  EXPECT_EQ(c.input.datasets[1].dataset, "/mask");
  EXPECT_EQ(c.input.dataset, "/ids");
  ASSERT_EQ(c.input.fill.size(), 2u);
  EXPECT_EQ(c.input.fill[0].first, "token_type_ids");
  EXPECT_EQ(c.input.fill[0].second, 0);
  EXPECT_EQ(c.input.fill[1].second, -1.5);
  EXPECT_EQ(c.input.pad_value, 3);
  EXPECT_TRUE(c.input.padding_harmless);
  // The resolved text parses back to the same inputs.
  const Config again = parse_config(c.resolved_text, kPath, {});
  ASSERT_EQ(again.input.datasets.size(), 2u);
  EXPECT_EQ(again.input.datasets[1].dataset, "/mask");
  EXPECT_EQ(again.input.fill[1].second, -1.5);
}

TEST(ConfigInputs, OverridesSetTheMap) {
  const Config c = parse(kBase, {"input.dataset={a: /p, b: /q}", "input.fill={c: 1}", "input.pad_value=-1"});
  ASSERT_EQ(c.input.datasets.size(), 2u);
  EXPECT_EQ(c.input.datasets[1].onnx_input, "b");
  EXPECT_EQ(c.input.fill[0].first, "c");
  EXPECT_EQ(c.input.pad_value, -1);
}

TEST(ConfigInputs, Errors) {
  EXPECT_CONTAINS(error_of(kHead + "  dataset: {}\n"),
                  "input.dataset: expected a dataset path such as /x or a mapping {onnx_input_name: /dataset}");
  EXPECT_CONTAINS(error_of(kHead + "  dataset: [/a, /b]\n"), "input.dataset: expected a dataset path");
  EXPECT_CONTAINS(error_of(kHead + "  dataset: {ids: ids}\n"),
                  "configs/demo.yaml:7: input.dataset.ids: expected an HDF5 dataset path starting with '/', got 'ids'");
  EXPECT_CONTAINS(error_of(kHead + "  dataset: {ids: /a, ids: /b}\n"), "input.dataset.ids: duplicate key");
  EXPECT_CONTAINS(error_of(kHead + "  dataset: /x\n  fill: 0\n"),
                  "input.fill: expected a mapping {onnx_input_name: number} such as {token_type_ids: 0}, got '0'");
  EXPECT_CONTAINS(error_of(kHead + "  dataset: /x\n  fill: {tt: zero}\n"),
                  "input.fill.tt: expected a number, got 'zero'");
  EXPECT_CONTAINS(error_of(kHead + "  dataset: /x\n  pad_value: pad\n"), "input.pad_value: expected a number");
  EXPECT_CONTAINS(error_of(kHead + "  dataset: /x\n  padding_harmless: yes\n"),
                  "input.padding_harmless: expected true or false, got 'yes'");
  EXPECT_CONTAINS(error_of(kHead + "  dataset: {ids: /a, mask: /m}\n  mask: mask\n"),
                  "model input 'mask' is fed by both input.dataset.mask and input.mask; each input takes one source");
  EXPECT_CONTAINS(error_of(kHead + "  dataset: {ids: /a}\n  fill: {ids: 0}\n"),
                  "model input 'ids' is fed by both input.dataset.ids and input.fill.ids");
  EXPECT_CONTAINS(error_of(kHead + "  dataset: {ids: /a, tt: /t}\n  offsets: /offsets\n"),
                  "input.offsets: ragged input (offsets) feeds one model input; input.dataset names 2 datasets");
  EXPECT_CONTAINS(error_of(kHead + "  dataset: /x\n  fills: {a: 1}\n"), "did you mean 'fill'?");
}

}  // namespace
}  // namespace mgi
