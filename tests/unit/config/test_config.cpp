// Config loader: schema, defaults, per-key values and their error messages
// (key + line + expected form), the scalar value parsers and the checkpoint section.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "config_test_util.hpp"
#include "config_values.hpp"
#include "env_expand.hpp"
#include "error.hpp"

namespace mgi {
namespace {

TEST(Config, FullConfigParses) {
  const Config c = parse(
      "input:\n"
      "  file: data/digits.h5\n"
      "  dataset: /x\n"
      "  cost: /cost\n"
      "output:\n"
      "  file: out/pred.h5\n"
      "  dataset: {probs: /p, logits: /l}\n"
      "  compression: gzip\n"
      "  compression_level: 6\n"
      "  chunk_rows: 4096\n"
      "model:\n"
      "  file: models/digits-mlp.onnx\n"
      "runtime:\n"
      "  device: cuda\n"
      "  batch_size: 512\n"
      "  gpu_ids: [0, 2, 3]\n"
      "  allow_gpu_sharing: true\n"
      "  threads: 4\n"
      "  gather_window_bytes: 64MiB\n"
      "mode: dynamic\n"
      "dynamic:\n"
      "  chunk_rows: 100\n"
      "  min_chunk_rows: 8\n");
  EXPECT_EQ(c.source, kPath);
  EXPECT_EQ(c.input.cost, "/cost");
  EXPECT_EQ(c.dynamic.chunk_rows, 100);
  EXPECT_EQ(c.dynamic.min_chunk_rows, 8);
  EXPECT_EQ(c.input.file, "data/digits.h5");  // relative paths are kept as written
  EXPECT_EQ(c.input.dataset, "/x");
  EXPECT_EQ(c.output.file, "out/pred.h5");
  ASSERT_EQ(c.output.datasets.size(), 2u);
  EXPECT_EQ(c.output.datasets[0].onnx_output, "probs");
  EXPECT_EQ(c.output.datasets[0].dataset, "/p");
  EXPECT_EQ(c.output.datasets[1].onnx_output, "logits");
  EXPECT_EQ(c.output.datasets[1].dataset, "/l");
  EXPECT_EQ(c.output.compression, "gzip");
  EXPECT_EQ(c.output.compression_level, 6);
  EXPECT_EQ(c.output.chunk_rows, 4096);
  EXPECT_EQ(c.model.file, "models/digits-mlp.onnx");
  EXPECT_EQ(c.runtime.device, "cuda");
  EXPECT_EQ(c.runtime.batch_size, 512);
  EXPECT_FALSE(c.runtime.batch_size_auto);
  EXPECT_EQ(c.runtime.gpu_ids, (std::vector<int>{0, 2, 3}));
  EXPECT_TRUE(c.runtime.allow_gpu_sharing);
  EXPECT_EQ(c.runtime.threads, 4);
  EXPECT_EQ(c.runtime.gather_window_bytes, 64ll << 20);
  EXPECT_EQ(c.mode, "dynamic");
}

TEST(Config, DefaultsForOptionalKeys) {
  const Config c = parse(kBase + "runtime:\n");  // an empty section means all defaults
  ASSERT_EQ(c.output.datasets.size(), 1u);
  EXPECT_EQ(c.output.datasets[0].onnx_output, "");
  EXPECT_EQ(c.output.datasets[0].dataset, "/y");
  EXPECT_EQ(c.output.compression, "none");
  EXPECT_EQ(c.output.compression_level, 4);
  EXPECT_EQ(c.output.chunk_rows, 0);
  EXPECT_EQ(c.runtime.device, "auto");
  EXPECT_EQ(c.runtime.batch_size, 1024);
  EXPECT_FALSE(c.runtime.batch_size_auto);
  EXPECT_TRUE(c.runtime.gpu_ids.empty());
  EXPECT_FALSE(c.runtime.allow_gpu_sharing);
  EXPECT_EQ(c.runtime.threads, 0);
  EXPECT_EQ(c.runtime.gather_window_bytes, 256ll << 20);
  EXPECT_EQ(c.mode, "static");
  EXPECT_EQ(c.input.cost, "");
  EXPECT_EQ(c.input.offsets, "");
  EXPECT_EQ(c.input.mask, "");
  EXPECT_FALSE(c.output.ragged);
  EXPECT_EQ(c.dynamic.chunk_rows, 0);
  EXPECT_EQ(c.dynamic.min_chunk_rows, 1);
}

TEST(Config, RaggedAndCostKeys) {
  const Config c = parse(
      "input:\n  file: r.h5\n  dataset: /values\n  offsets: /offsets\n  mask: mask\n"
      "output:\n  file: o.h5\n  ragged: true\nmodel:\n  file: m.onnx\n");
  EXPECT_EQ(c.input.offsets, "/offsets");
  EXPECT_EQ(c.input.mask, "mask");
  EXPECT_TRUE(c.output.ragged);
  EXPECT_EQ(error_of(kBase, {"input.cost=cost"}),
            "--set input.cost: expected an HDF5 dataset path starting with '/', got 'cost'");
  EXPECT_CONTAINS(error_of(kBase, {"input.offsets=7"}), "input.offsets: expected an HDF5 dataset path");
  EXPECT_CONTAINS(error_of(kBase, {"output.ragged=1"}), "output.ragged: expected true or false, got '1'");
}

TEST(Config, DynamicSection) {
  const Config c = parse(kBase + "mode: dynamic\ndynamic:\n  chunk_rows: 10\n");
  EXPECT_EQ(c.dynamic.chunk_rows, 10);
  EXPECT_EQ(parse(kBase, {"dynamic.min_chunk_rows=4"}).dynamic.min_chunk_rows, 4);
  EXPECT_EQ(error_of(kBase + "dynamic:\n  min_chunk_rows: 0\n"),
            "configs/demo.yaml:9: dynamic.min_chunk_rows: expected a positive integer, got '0'");
  EXPECT_EQ(error_of(kBase + "dynamic:\n  chunk_rows: -1\n"),
            "configs/demo.yaml:9: dynamic.chunk_rows: expected a non-negative integer (0 = factoring schedule), "
            "got '-1'");
  EXPECT_CONTAINS(error_of(kBase + "dynamic:\n  chunkrows: 5\n"),
                  "configs/demo.yaml:9: unknown key 'dynamic.chunkrows' (valid keys under dynamic: chunk_rows, "
                  "min_chunk_rows); did you mean 'chunk_rows'?");
}

TEST(Config, OutputDatasetString) {
  const Config c = parse("input:\n  file: a\n  dataset: /x\nmodel:\n  file: m\noutput:\n  file: o\n"
                         "  dataset: /pred/probs\n");
  ASSERT_EQ(c.output.datasets.size(), 1u);
  EXPECT_EQ(c.output.datasets[0].onnx_output, "");
  EXPECT_EQ(c.output.datasets[0].dataset, "/pred/probs");
}

TEST(Config, BatchSizeTypeError) {
  const std::string msg = error_of(kBase + "runtime:\n  batch_size: big\n");
  EXPECT_EQ(msg, "configs/demo.yaml:9: runtime.batch_size: expected a positive integer or 'auto', got 'big'");
  for (const char* bad : {"0", "-1", "1.5", "0x10", "1e3", "64 rows"})
    EXPECT_CONTAINS(error_of(kBase + "runtime:\n  batch_size: " + bad + "\n"), "runtime.batch_size: expected a positive integer or 'auto'")
        << bad;
  EXPECT_CONTAINS(error_of(kBase + "runtime:\n  batch_size: 2147483649\n"), ":9: runtime.batch_size: must be at most 2147483648");
  EXPECT_CONTAINS(error_of(kBase + "runtime:\n  batch_size: 99999999999999999999999\n"), "expected a positive integer or 'auto'");
}

TEST(Config, BatchSizeAutoAndLimits) {
  const Config a = parse(kBase + "runtime:\n  batch_size: auto\n");
  EXPECT_TRUE(a.runtime.batch_size_auto);
  EXPECT_EQ(parse(kBase + "runtime:\n  batch_size: 2147483648\n").runtime.batch_size, 2147483648ll);
  EXPECT_EQ(parse(kBase + "runtime:\n  batch_size: 1\n").runtime.batch_size, 1);
}

TEST(Config, PipelineStagesAndMemoryLimit) {
  const Config d = parse(kBase + "runtime:\n");
  EXPECT_EQ(d.runtime.pipeline_stages, 1);
  EXPECT_FALSE(d.runtime.pipeline_stages_auto);
  EXPECT_EQ(d.runtime.memory_limit, 0);
  const Config c = parse(kBase + "runtime:\n  pipeline_stages: 4\n  memory_limit: 512MiB\n");
  EXPECT_EQ(c.runtime.pipeline_stages, 4);
  EXPECT_FALSE(c.runtime.pipeline_stages_auto);
  EXPECT_EQ(c.runtime.memory_limit, 512ll << 20);
  EXPECT_TRUE(parse(kBase, {"runtime.pipeline_stages=auto"}).runtime.pipeline_stages_auto);
  EXPECT_EQ(parse(kBase, {"runtime.memory_limit=2GB"}).runtime.memory_limit, 2000000000);
  for (const char* bad : {"0", "-2", "1.5", "two", "Auto"})
    EXPECT_EQ(error_of(kBase + "runtime:\n  pipeline_stages: " + bad + "\n"),
              std::string("configs/demo.yaml:9: runtime.pipeline_stages: expected a positive integer or 'auto', got '") +
                  bad + "'")
        << bad;
  EXPECT_EQ(error_of(kBase + "runtime:\n  pipeline_stages: 5000\n"),
            "configs/demo.yaml:9: runtime.pipeline_stages: must be at most 4096, got '5000'");
  EXPECT_EQ(error_of(kBase + "runtime:\n  memory_limit: 4 gigs\n"),
            "configs/demo.yaml:9: runtime.memory_limit: expected a size in bytes such as 268435456, '256MiB' or "
            "'1GB', got '4 gigs'");
  EXPECT_EQ(error_of(kBase + "runtime:\n  memory_limit: 100\n"),
            "configs/demo.yaml:9: runtime.memory_limit: must be at least 1 KiB (1024 bytes), got '100'");
}

TEST(Config, ChoiceKeys) {
  EXPECT_EQ(parse(kBase + "runtime:\n  device: cpu\n").runtime.device, "cpu");
  EXPECT_EQ(error_of(kBase + "runtime:\n  device: gpu\n"),
            "configs/demo.yaml:9: runtime.device: expected one of auto, cuda, cpu, got 'gpu'");
  EXPECT_EQ(error_of(kBase + "mode: round-robin\n"),
            "configs/demo.yaml:8: mode: expected one of static, dynamic, got 'round-robin'");
  EXPECT_CONTAINS(error_of("input:\n  file: a\n  dataset: /x\nmodel:\n  file: m\noutput:\n  compression: lz4\n  file: o\n"), ":7: output.compression: expected one of none, gzip, got 'lz4'");
}

TEST(Config, CompressionLevelRange) {
  const std::string out = "input:\n  file: a\n  dataset: /x\nmodel:\n  file: m\noutput:\n  file: o\n";
  EXPECT_EQ(parse(out + "  compression_level: 9\n").output.compression_level, 9);
  EXPECT_EQ(error_of(out + "  compression_level: 10\n"),
            "configs/demo.yaml:8: output.compression_level: must be at most 9, got '10'");
  EXPECT_CONTAINS(error_of(out + "  compression_level: 0\n"), ":8: output.compression_level: expected an integer from 1 to 9, got '0'");
  EXPECT_CONTAINS(error_of(out + "  chunk_rows: -5\n"), ":8: output.chunk_rows: expected a non-negative integer (0 = auto), got '-5'");
}

TEST(Config, GatherWindowSizes) {
  auto window = [](const std::string& v) {
    return parse(kBase + "runtime:\n  gather_window_bytes: " + v + "\n").runtime.gather_window_bytes;
  };
  EXPECT_EQ(window("268435456"), 268435456);
  EXPECT_EQ(window("256MiB"), 256ll << 20);
  EXPECT_EQ(window("1GiB"), 1ll << 30);
  EXPECT_EQ(window("512KiB"), 512ll << 10);
  EXPECT_EQ(window("64MB"), 64000000);
  EXPECT_EQ(window("2 GB"), 2000000000);
  EXPECT_EQ(window("1KiB"), 1024);
  EXPECT_EQ(error_of(kBase + "runtime:\n  gather_window_bytes: 1000\n"),
            "configs/demo.yaml:9: runtime.gather_window_bytes: must be at least 1 KiB (1024 bytes), got '1000'");
  for (const char* bad : {"lots", "1.5GiB", "-4MiB", "64M", "9999999999TiB"})
    EXPECT_CONTAINS(error_of(kBase + "runtime:\n  gather_window_bytes: " + bad + "\n"), ":9: runtime.gather_window_bytes: expected a size in bytes such as")
        << bad;
}

TEST(Config, GpuIds) {
  EXPECT_EQ(parse(kBase + "runtime:\n  gpu_ids:\n    - 1\n    - 0\n").runtime.gpu_ids, (std::vector<int>{1, 0}));
  EXPECT_TRUE(parse(kBase + "runtime:\n  gpu_ids: []\n").runtime.gpu_ids.empty());
  EXPECT_CONTAINS(error_of(kBase + "runtime:\n  gpu_ids:\n    - 0\n    - -1\n"), "configs/demo.yaml:11: runtime.gpu_ids: expected a list of non-negative integers");
  EXPECT_CONTAINS(error_of(kBase + "runtime:\n  gpu_ids: 0\n"), ":9: runtime.gpu_ids: expected a list of non-negative integers such as [0, 1], got '0'");
  EXPECT_CONTAINS(error_of(kBase + "runtime:\n  gpu_ids: [0, 1, 0]\n"), ":9: runtime.gpu_ids: device id 0 is listed twice");
  EXPECT_CONTAINS(error_of(kBase + "runtime:\n  gpu_ids: [[0]]\n"), "got a list");
}

TEST(Config, AllowGpuSharingIsStrictBool) {
  EXPECT_TRUE(parse(kBase + "runtime:\n  allow_gpu_sharing: true\n").runtime.allow_gpu_sharing);
  EXPECT_FALSE(parse(kBase + "runtime:\n  allow_gpu_sharing: false\n").runtime.allow_gpu_sharing);
  EXPECT_EQ(error_of(kBase + "runtime:\n  allow_gpu_sharing: yes\n"),
            "configs/demo.yaml:9: runtime.allow_gpu_sharing: expected true or false, got 'yes'");
}

TEST(Config, Threads) {
  EXPECT_EQ(parse(kBase + "runtime:\n  threads: 0\n").runtime.threads, 0);
  EXPECT_EQ(error_of(kBase + "runtime:\n  threads: -2\n"),
            "configs/demo.yaml:9: runtime.threads: expected a non-negative integer (0 = automatic), got '-2'");
}

TEST(Config, Precision) {
  EXPECT_EQ(parse(kBase).runtime.precision, "fp32");
  for (const char* p : {"fp32", "tf32", "bf16", "fp16"})
    EXPECT_EQ(parse(kBase + "runtime:\n  precision: " + p + "\n").runtime.precision, p);
  EXPECT_EQ(error_of(kBase + "runtime:\n  precision: fp64\n"),
            "configs/demo.yaml:9: runtime.precision: expected one of fp32, tf32, bf16, fp16, got 'fp64'");
  EXPECT_EQ(error_of(kBase + "runtime:\n  precision: FP16\n"),
            "configs/demo.yaml:9: runtime.precision: expected one of fp32, tf32, bf16, fp16, got 'FP16'");
  EXPECT_CONTAINS(error_of(kBase + "runtime:\n  precison: bf16\n"), "did you mean 'precision'?");
  EXPECT_EQ(parse(kBase, {"runtime.precision=bf16"}).runtime.precision, "bf16");
}

TEST(ConfigValues, ScalarParsers) {
  EXPECT_EQ(parse_int_strict("42"), 42);
  EXPECT_EQ(parse_int_strict("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(parse_int_strict("9223372036854775807"), INT64_MAX);
  EXPECT_FALSE(parse_int_strict("9223372036854775808"));
  EXPECT_FALSE(parse_int_strict(""));
  EXPECT_FALSE(parse_int_strict("-"));
  EXPECT_FALSE(parse_int_strict(" 1"));
  EXPECT_EQ(parse_size_bytes("8TiB"), 8ll << 40);
  EXPECT_EQ(parse_size_bytes("3kb"), 3000);
  EXPECT_EQ(parse_size_bytes("10B"), 10);
  EXPECT_FALSE(parse_size_bytes("MiB"));
  EXPECT_FALSE(parse_size_bytes("8388608TiB"));  // 2^63: overflow
  EXPECT_EQ(parse_bool_strict("TRUE"), true);
  EXPECT_FALSE(parse_bool_strict("on"));
  EXPECT_EQ(closest_key("batchsize", {"device", "batch_size"}), "batch_size");
  EXPECT_EQ(closest_key("mod", {"mode", "model"}), "mode");
  EXPECT_EQ(closest_key("precision", {"device", "batch_size"}), "");
  EXPECT_EQ(expand_env(escape_env("$${x}$"), [](const std::string&) { return std::nullopt; }), "$${x}$");
}

}  // namespace
}  // namespace mgi

namespace mgi {

TEST(ConfigCheckpoint, DefaultsAndNumbers) {
  const std::string base =
      "input: {file: a.h5, dataset: /x}\noutput: {file: o.h5}\nmodel: {file: m.onnx}\n";
  Config c = parse_config(base, "c.yaml", {});
  EXPECT_DOUBLE_EQ(c.checkpoint.flush_seconds, 10);
  EXPECT_DOUBLE_EQ(c.checkpoint.grace_seconds, 30);
  c = parse_config(base + "checkpoint: {flush_seconds: 0.5, grace_seconds: 120}\n", "c.yaml", {});
  EXPECT_DOUBLE_EQ(c.checkpoint.flush_seconds, 0.5);
  EXPECT_DOUBLE_EQ(c.checkpoint.grace_seconds, 120);
  try {
    parse_config(base + "checkpoint:\n  grace_seconds: soon\n", "c.yaml", {});
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("c.yaml:5"), std::string::npos) << m;
    EXPECT_NE(m.find("checkpoint.grace_seconds"), std::string::npos) << m;
    EXPECT_NE(m.find("'soon'"), std::string::npos) << m;
  }
  EXPECT_THROW(parse_config(base, "c.yaml", {"checkpoint.grace_seconds=0"}), ConfigError);
  EXPECT_THROW(parse_config(base, "c.yaml", {"checkpoint.flush_seconds=nan"}), ConfigError);
}

}  // namespace mgi
