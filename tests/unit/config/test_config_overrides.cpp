// Config loader: --set overrides, ${VAR} expansion and the resolved text.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "config.hpp"
#include "config_test_util.hpp"
#include "error.hpp"

namespace mgi {
namespace {

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
            "batch_size, gpu_ids, allow_gpu_sharing, threads, gather_window_bytes, precision, cuda_graphs, pipeline_stages, memory_limit); did you mean 'batch_size'?");
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

}  // namespace
}  // namespace mgi
