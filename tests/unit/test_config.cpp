// Config loader: schema, defaults, error messages (key + line + expected form),
// --set overrides, ${VAR} expansion and the resolved text.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

#include "config.hpp"
#include "config_values.hpp"
#include "env_expand.hpp"
#include "error.hpp"

namespace mgi {
namespace {

::testing::AssertionResult Contains(const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << haystack << "' does not contain '" << needle << "'";
}
#define EXPECT_CONTAINS(haystack, needle) EXPECT_TRUE(Contains((haystack), (needle)))
#define EXPECT_NOT_CONTAINS(haystack, needle) EXPECT_FALSE(Contains((haystack), (needle)))

// Lines 1-7; tests append from line 8.
const std::string kBase =
    "input:\n"
    "  file: data/x.h5\n"
    "  dataset: /x\n"
    "output:\n"
    "  file: out/y.h5\n"
    "model:\n"
    "  file: models/m.onnx\n";

const std::string kPath = "configs/demo.yaml";

Config parse(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return parse_config(text, kPath, overrides);
}

// The ConfigError message of parsing `text`; fails the test when there is none.
std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse(text, overrides);
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_EQ(e.code(), Exit::usage);
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError for:\n" << text;
  return "";
}

void expect_same(const Config& a, const Config& b) {
  EXPECT_EQ(a.input.file, b.input.file);
  EXPECT_EQ(a.input.dataset, b.input.dataset);
  EXPECT_EQ(a.output.file, b.output.file);
  ASSERT_EQ(a.output.datasets.size(), b.output.datasets.size());
  for (size_t i = 0; i < a.output.datasets.size(); ++i) {
    EXPECT_EQ(a.output.datasets[i].onnx_output, b.output.datasets[i].onnx_output);
    EXPECT_EQ(a.output.datasets[i].dataset, b.output.datasets[i].dataset);
  }
  EXPECT_EQ(a.output.compression, b.output.compression);
  EXPECT_EQ(a.output.compression_level, b.output.compression_level);
  EXPECT_EQ(a.output.chunk_rows, b.output.chunk_rows);
  EXPECT_EQ(a.model.file, b.model.file);
  EXPECT_EQ(a.runtime.device, b.runtime.device);
  EXPECT_EQ(a.runtime.batch_size, b.runtime.batch_size);
  EXPECT_EQ(a.runtime.batch_size_auto, b.runtime.batch_size_auto);
  EXPECT_EQ(a.runtime.gpu_ids, b.runtime.gpu_ids);
  EXPECT_EQ(a.runtime.allow_gpu_sharing, b.runtime.allow_gpu_sharing);
  EXPECT_EQ(a.runtime.threads, b.runtime.threads);
  EXPECT_EQ(a.runtime.gather_window_bytes, b.runtime.gather_window_bytes);
  EXPECT_EQ(a.runtime.precision, b.runtime.precision);
  EXPECT_EQ(a.mode, b.mode);
}

// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (value) setenv(name, value, 1);
    else unsetenv(name);
  }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

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

TEST(Config, UnknownKeyNamesKeyLineAndValidKeys) {
  const std::string msg = error_of(kBase + "runtime:\n  device: cpu\n  batchsize: 64\n");
  EXPECT_EQ(msg,
            "configs/demo.yaml:10: unknown key 'runtime.batchsize' (valid keys under runtime: device, "
            "batch_size, gpu_ids, allow_gpu_sharing, threads, gather_window_bytes, precision, cuda_graphs); did you mean "
            "'batch_size'?");
}

TEST(Config, UnknownKeySuggestions) {
  EXPECT_CONTAINS(error_of(kBase + "runtime:\n  devcie: cpu\n"), "did you mean 'device'?");
  EXPECT_CONTAINS(error_of(kBase + "runtime:\n  Batch-Size: 8\n"), "did you mean 'batch_size'?");
  // A runtime key at the top level: suggest the full dotted key.
  const std::string top = error_of(kBase + "batch_size: 64\n");
  EXPECT_CONTAINS(top, "configs/demo.yaml:8: unknown key 'batch_size' (valid top-level keys: "
                             "input, output, model, runtime, mode, dynamic, checkpoint)");
  EXPECT_CONTAINS(top, "did you mean 'runtime.batch_size'?");
  // Far from every key: no guess.
  EXPECT_NOT_CONTAINS(error_of(kBase + "runtime:\n  colour: blue\n"), "did you mean");
  EXPECT_CONTAINS(error_of(kBase + "inputs: 1\n"), "did you mean 'input'?");
}

TEST(Config, UnknownKeyInSection) {
  const std::string msg = error_of(
      "input:\n  file: a.h5\n  dataset: /x\n  rows: 5\n"
      "output:\n  file: o.h5\nmodel:\n  file: m.onnx\n");
  EXPECT_CONTAINS(msg, "configs/demo.yaml:4: unknown key 'input.rows' (valid keys under input: file, dataset, cost, offsets, mask)");
}

TEST(Config, DuplicateKey) {
  const std::string msg = error_of(kBase + "runtime:\n  device: cpu\n  device: cuda\n");
  EXPECT_CONTAINS(msg, "configs/demo.yaml:10: runtime.device: duplicate key (first at line 9)");
  EXPECT_CONTAINS(error_of(kBase + "model:\n  file: n.onnx\n"), ":8: model: duplicate key");
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

TEST(Config, MappingWhereScalarExpectedAndViceVersa) {
  EXPECT_EQ(error_of(kBase + "runtime:\n  batch_size:\n    value: 4\n"),
            "configs/demo.yaml:9: runtime.batch_size: expected a positive integer or 'auto', got a mapping");
  EXPECT_EQ(error_of(kBase + "runtime: cpu\n"),
            "configs/demo.yaml:8: runtime: expected a mapping with keys device, batch_size, gpu_ids, "
            "allow_gpu_sharing, threads, gather_window_bytes, precision, cuda_graphs, got 'cpu'");
  EXPECT_CONTAINS(error_of(kBase + "runtime:\n  device: [cpu]\n"), ":9: runtime.device: expected one of auto, cuda, cpu, got a list");
  EXPECT_CONTAINS(error_of(kBase + "runtime:\n  device:\n"), ":9: runtime.device: expected one of auto, cuda, cpu, got an empty value");
}

TEST(Config, MissingRequired) {
  EXPECT_EQ(error_of("input:\n  dataset: /x\noutput:\n  file: o\nmodel:\n  file: m\n"),
            "configs/demo.yaml:1: missing required key 'input.file'");
  EXPECT_EQ(error_of("input:\n  file: a\n  dataset: /x\noutput:\n  file: o\n"),
            "configs/demo.yaml: missing required section 'model' (with keys file)");
  EXPECT_CONTAINS(error_of("input:\n  file: ''\n  dataset: /x\noutput:\n  file: o\nmodel:\n  file: m\n"), ":2: input.file: expected a non-empty string, got ''");
}

TEST(Config, DatasetPathsMustStartWithSlash) {
  EXPECT_EQ(error_of("input:\n  file: a\n  dataset: x\noutput:\n  file: o\nmodel:\n  file: m\n"),
            "configs/demo.yaml:3: input.dataset: expected an HDF5 dataset path starting with '/', got 'x'");
  EXPECT_CONTAINS(error_of(kBase, {"output.dataset=y"}), "output.dataset: expected an HDF5 dataset path starting with '/', got 'y'");
  EXPECT_CONTAINS(error_of(kBase + "output:\n"), "duplicate key");
  const std::string with_map =
      "input:\n  file: a\n  dataset: /x\nmodel:\n  file: m\noutput:\n  file: o\n  dataset:\n"
      "    probs: /p\n    logits: l\n";
  EXPECT_EQ(error_of(with_map),
            "configs/demo.yaml:10: output.dataset.logits: expected an HDF5 dataset path starting with '/', got 'l'");
}

TEST(Config, OutputDatasetMapErrors) {
  const std::string head = "input:\n  file: a\n  dataset: /x\nmodel:\n  file: m\noutput:\n  file: o\n";
  EXPECT_EQ(error_of(head + "  dataset:\n    probs: /y\n    logits: /y\n"),
            "configs/demo.yaml:10: output.dataset.logits: outputs 'probs' and 'logits' both write dataset '/y'");
  EXPECT_CONTAINS(error_of(head + "  dataset: {}\n"), ":8: output.dataset: expected a dataset path such as /y or a mapping");
  EXPECT_CONTAINS(error_of(head + "  dataset: [/a, /b]\n"), ":8: output.dataset: expected");
}

TEST(Config, EmptyOrNonMappingFile) {
  EXPECT_CONTAINS(error_of(""), "configs/demo.yaml: empty config");
  EXPECT_CONTAINS(error_of("# only a comment\n"), "configs/demo.yaml: empty config");
  EXPECT_EQ(error_of("- a\n- b\n"),
            "configs/demo.yaml:1: top level must be a mapping with input, output, model, runtime, mode, dynamic, checkpoint, got a list");
  EXPECT_CONTAINS(error_of("hello\n"), "top level must be a mapping");
  EXPECT_CONTAINS(error_of(kBase + "---\nmode: static\n"), "configs/demo.yaml:8: more than one YAML document");
}

TEST(Config, MalformedYamlHasOneBasedLineAndColumn) {
  const std::string msg = error_of("input:\n  file: a\n  dataset: /x\n bad: [\n");
  EXPECT_CONTAINS(msg, "configs/demo.yaml:");
  EXPECT_CONTAINS(msg, ": malformed YAML: ");
  // Indentation error on line 3 (0-based line 2 inside yaml-cpp).
  const std::string msg2 = error_of("input:\n  file: a\n dataset: /x\n");
  EXPECT_CONTAINS(msg2, "configs/demo.yaml:3:");
}

TEST(Config, HostileInputsAreConfigErrors) {
  EXPECT_EQ(error_of(kBase + "mode: \"a\\tb\\x01\"\n"),
            "configs/demo.yaml:8: mode: expected one of static, dynamic, got 'a\\x09b\\x01'");
  EXPECT_CONTAINS(error_of(kBase + "mode: " + std::string(500, 'z') + "\n"), "got '" + std::string(80, 'z') + "...'");
  error_of(std::string(100000, '['));                        // deep nesting
  error_of(std::string(",t:\x12::e ", 8));                   // endless documents in yaml-cpp's LoadAll
  error_of(std::string("\0\x01\xff\xfe", 4));                 // binary
  error_of(kBase + std::string(10000, 'k') + ": 1\n");        // huge unknown key
  error_of(kBase + "runtime:\n  ? [a, b]\n  : 1\n");          // non-scalar key
  error_of(kBase + "runtime:\n  batch_size: &a 8\n  threads: *a\n  device: *a\n");  // alias reuse
  error_of(kBase + "runtime:\n  batch_size: " + std::string(100000, '9') + "\n");
  std::string ids = "runtime:\n  gpu_ids: [";  // long lists stay linear
  for (int i = 0; i < 100000; ++i) ids += std::to_string(i) + ", ";
  EXPECT_CONTAINS(error_of(kBase + ids + "0]\n"), "device id 0 is listed twice");
}

TEST(ConfigOverrides, ScalarOverrideReplacesFileValue) {
  const Config c = parse(kBase + "runtime:\n  batch_size: 8\n",
                         {"runtime.batch_size=64", "runtime.device=cpu", "mode=dynamic"});
  EXPECT_EQ(c.runtime.batch_size, 64);
  EXPECT_EQ(c.runtime.device, "cpu");
  EXPECT_EQ(c.mode, "dynamic");
  EXPECT_TRUE(parse(kBase, {"runtime.batch_size=auto"}).runtime.batch_size_auto);
  EXPECT_EQ(parse(kBase, {"runtime.batch_size=1", "runtime.batch_size=2"}).runtime.batch_size, 2);  // last wins
}

TEST(ConfigOverrides, CreatesMissingKeysAndSections) {
  // No runtime section in the file; required keys can come from overrides too.
  const Config c = parse("input:\n  dataset: /x\noutput:\n  file: o\n",
                         {"input.file=in.h5", "model.file=m.onnx", "runtime.gpu_ids=[1, 0]",
                          "runtime.allow_gpu_sharing=true", "runtime.gather_window_bytes=1GiB"});
  EXPECT_EQ(c.input.file, "in.h5");
  EXPECT_EQ(c.model.file, "m.onnx");
  EXPECT_EQ(c.runtime.gpu_ids, (std::vector<int>{1, 0}));
  EXPECT_TRUE(c.runtime.allow_gpu_sharing);
  EXPECT_EQ(c.runtime.gather_window_bytes, 1ll << 30);
}

TEST(ConfigOverrides, MapValuedOverride) {
  const Config c = parse(kBase, {"output.dataset={probs: /p, logits: /l}"});
  ASSERT_EQ(c.output.datasets.size(), 2u);
  EXPECT_EQ(c.output.datasets[0].onnx_output, "probs");
  EXPECT_EQ(c.output.datasets[1].dataset, "/l");
  // A whole section as one override.
  const Config r = parse(kBase, {"runtime={device: cpu, threads: 3}"});
  EXPECT_EQ(r.runtime.device, "cpu");
  EXPECT_EQ(r.runtime.threads, 3);
  // A later, deeper override adds to the map.
  const Config d = parse(kBase, {"output.dataset={probs: /p}", "output.dataset.logits=/l"});
  ASSERT_EQ(d.output.datasets.size(), 2u);
  EXPECT_EQ(d.output.datasets[1].onnx_output, "logits");
}

TEST(ConfigOverrides, Malformed) {
  EXPECT_EQ(error_of(kBase, {"runtime.device"}), "--set 'runtime.device': expected key=value");
  EXPECT_EQ(error_of(kBase, {"=cpu"}), "--set '=cpu': expected key=value");
  EXPECT_CONTAINS(error_of(kBase, {"runtime..device=cpu"}), "--set 'runtime..device=cpu': expected key=value");
  EXPECT_CONTAINS(error_of(kBase, {"output.dataset={a: /p"}), "--set 'output.dataset={a: /p': malformed YAML value");
  EXPECT_CONTAINS(error_of(kBase + "runtime:\n  device: cpu\n", {"runtime.device.kind=x"}), "cannot set 'kind' inside 'runtime.device', which is not a mapping");
}

TEST(ConfigOverrides, UnknownKeyNamesTheOverride) {
  EXPECT_EQ(error_of(kBase, {"runtime.batchsize=64"}),
            "--set runtime.batchsize: unknown key 'runtime.batchsize' (valid keys under runtime: device, "
            "batch_size, gpu_ids, allow_gpu_sharing, threads, gather_window_bytes, precision, cuda_graphs); did you mean 'batch_size'?");
  EXPECT_CONTAINS(error_of(kBase, {"runtim.device=cpu"}), "--set runtim.device: unknown key 'runtim' (valid top-level keys");
  EXPECT_CONTAINS(error_of(kBase, {"runtime={devise: cpu}"}), "--set runtime: unknown key 'runtime.devise'");
}

TEST(ConfigOverrides, TypeErrorNamesTheOverride) {
  EXPECT_EQ(error_of(kBase + "runtime:\n  batch_size: 8\n", {"runtime.batch_size=big"}),
            "--set runtime.batch_size: expected a positive integer or 'auto', got 'big'");
  EXPECT_EQ(error_of(kBase, {"output.dataset={probs: p}"}),
            "--set output.dataset: output.dataset.probs: expected an HDF5 dataset path starting with '/', got 'p'");
  // Errors elsewhere still point into the file.
  EXPECT_CONTAINS(error_of(kBase + "runtime:\n  threads: x\n", {"runtime.device=cpu"}), "configs/demo.yaml:9: runtime.threads");
}

TEST(ConfigEnv, ExpandsVariablesInEveryString) {
  ScopedEnv task("MGI_TEST_TASK", "7");
  ScopedEnv bs("MGI_TEST_BS", "32");
  const Config c = parse(
      "input:\n  file: data/part-${MGI_TEST_TASK}.h5\n  dataset: /x\n"
      "output:\n  file: out/${MGI_TEST_TASK}/pred-${MGI_TEST_TASK}.h5\n"
      "model:\n  file: m.onnx\nruntime:\n  batch_size: ${MGI_TEST_BS}\n");
  EXPECT_EQ(c.input.file, "data/part-7.h5");
  EXPECT_EQ(c.output.file, "out/7/pred-7.h5");
  EXPECT_EQ(c.runtime.batch_size, 32);
  // Overrides are expanded too.
  EXPECT_EQ(parse(kBase, {"model.file=m${MGI_TEST_TASK}.onnx"}).model.file, "m7.onnx");
}

TEST(ConfigEnv, DollarDollarAndDefaults) {
  ScopedEnv set("MGI_TEST_SET", "gpu-node");
  ScopedEnv empty("MGI_TEST_EMPTY", "");
  ScopedEnv unset("MGI_TEST_UNSET", nullptr);
  EXPECT_EQ(parse(kBase, {"model.file=cost$$5.onnx"}).model.file, "cost$5.onnx");
  EXPECT_EQ(parse(kBase, {"model.file=${MGI_TEST_UNSET:-m.onnx}"}).model.file, "m.onnx");
  EXPECT_EQ(parse(kBase, {"model.file=${MGI_TEST_EMPTY:-m.onnx}"}).model.file, "m.onnx");
  EXPECT_EQ(parse(kBase, {"model.file=${MGI_TEST_SET:-m.onnx}"}).model.file, "gpu-node");
  EXPECT_EQ(parse(kBase, {"model.file=x${MGI_TEST_EMPTY}y"}).model.file, "xy");
  EXPECT_EQ(parse(kBase + "runtime:\n  device: ${MGI_TEST_UNSET:-cpu}\n").runtime.device, "cpu");
}

TEST(ConfigEnv, UnsetVariableNamesKeyLineAndVariable) {
  ScopedEnv unset("SLURM_ARRAY_TASK_ID", nullptr);
  try {
    parse_config("input:\n  dataset: /x\n  file: data/${SLURM_ARRAY_TASK_ID}.h5\n"
                 "output:\n  file: o\nmodel:\n  file: m\n",
                 "configs/x.yaml", {});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "configs/x.yaml:3: input.file: environment variable SLURM_ARRAY_TASK_ID is not set");
    EXPECT_EQ(e.exit_code(), 2);
  }
  EXPECT_EQ(error_of(kBase, {"output.file=${SLURM_ARRAY_TASK_ID}"}),
            "--set output.file: environment variable SLURM_ARRAY_TASK_ID is not set");
}

TEST(ConfigEnv, MalformedReferences) {
  EXPECT_CONTAINS(error_of(kBase, {"model.file=${HOME"}), "--set model.file: unterminated '${'");
  EXPECT_CONTAINS(error_of(kBase + "mode: $HOME\n"), ":8: mode: '$' must start ${VAR} or be doubled");
  EXPECT_CONTAINS(error_of(kBase, {"model.file=${1X}"}), "invalid environment variable name '1X'");
  EXPECT_CONTAINS(error_of(kBase, {"model.file=${A:-${B}}"}), "nested '${'");
}

TEST(ConfigResolved, RoundTripsToTheSameConfig) {
  ScopedEnv task("MGI_TEST_TASK", "3");
  ScopedEnv dollar("MGI_TEST_DOLLAR", "a$b${c}");
  const Config c = parse(
      "input:\n  file: data/${MGI_TEST_TASK}.h5  # comment\n  dataset: /x\n"
      "output:\n  file: 'out/pred$$.h5'\n  compression: gzip\n"
      "model:\n  file: m-${MGI_TEST_DOLLAR}.onnx\n"
      "runtime:\n  gpu_ids: [0, 1]\n  gather_window_bytes: 64MiB\n",
      {"output.dataset={probs: /p, logits: /l}", "runtime.batch_size=auto", "mode=dynamic"});
  EXPECT_EQ(c.model.file, "m-a$b${c}.onnx");
  EXPECT_EQ(c.output.file, "out/pred$.h5");
  EXPECT_CONTAINS(c.resolved_text, "data/3.h5");
  EXPECT_NOT_CONTAINS(c.resolved_text, "MGI_TEST_TASK");
  EXPECT_CONTAINS(c.resolved_text, "dynamic");
  // Parsed again with no environment and no overrides: the same Config.
  ScopedEnv gone("MGI_TEST_TASK", nullptr);
  const Config again = parse_config(c.resolved_text, "stored", {});
  expect_same(c, again);
  EXPECT_EQ(again.resolved_text, c.resolved_text);
}

TEST(ConfigLoad, ReadsFileAndReportsMissingOrUnreadable) {
  char dir[] = "/tmp/mgi-config-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string file = std::string(dir) + "/c.yaml";
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(kBase.c_str(), f);
    std::fclose(f);
  }
  const Config c = load_config(file, {"runtime.threads=2"});
  EXPECT_EQ(c.source, file);
  EXPECT_EQ(c.runtime.threads, 2);

  const std::string missing = std::string(dir) + "/nope.yaml";
  try {
    load_config(missing, {});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "config file '" + missing + "': cannot read (No such file or directory)");
    EXPECT_EQ(e.exit_code(), 2);
  }
  try {
    load_config(dir, {});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_CONTAINS(std::string(e.what()), "cannot read (Is a directory)");
  }
  // Errors inside the file carry its path as written.
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    std::fputs((kBase + "mode: fast\n").c_str(), f);
    std::fclose(f);
  }
  try {
    load_config(file, {});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_CONTAINS(std::string(e.what()), file + ":8: mode: expected one of static, dynamic");
  }
  std::remove(file.c_str());
  rmdir(dir);
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
