// Config loader errors about the document as a whole: unknown and duplicate
// keys, missing sections, wrong node kinds, malformed or hostile YAML, and
// reading the config file.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

#include "config.hpp"
#include "config_test_util.hpp"
#include "error.hpp"

namespace mgi {
namespace {

TEST(Config, UnknownKeyNamesKeyLineAndValidKeys) {
  const std::string msg = error_of(kBase + "runtime:\n  device: cpu\n  batchsize: 64\n");
  EXPECT_EQ(msg,
            "configs/demo.yaml:10: unknown key 'runtime.batchsize' (valid keys under runtime: device, "
            "batch_size, gpu_ids, allow_gpu_sharing, threads, gather_window_bytes, precision, cuda_graphs, pipeline_stages, memory_limit); did you mean "
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
  EXPECT_CONTAINS(msg, "configs/demo.yaml:4: unknown key 'input.rows' (valid keys under input: file, dataset, cost, offsets, mask, pad_value, fill, padding_harmless)");
}

TEST(Config, DuplicateKey) {
  const std::string msg = error_of(kBase + "runtime:\n  device: cpu\n  device: cuda\n");
  EXPECT_CONTAINS(msg, "configs/demo.yaml:10: runtime.device: duplicate key (first at line 9)");
  EXPECT_CONTAINS(error_of(kBase + "model:\n  file: n.onnx\n"), ":8: model: duplicate key");
}

TEST(Config, MappingWhereScalarExpectedAndViceVersa) {
  EXPECT_EQ(error_of(kBase + "runtime:\n  batch_size:\n    value: 4\n"),
            "configs/demo.yaml:9: runtime.batch_size: expected a positive integer or 'auto', got a mapping");
  EXPECT_EQ(error_of(kBase + "runtime: cpu\n"),
            "configs/demo.yaml:8: runtime: expected a mapping with keys device, batch_size, gpu_ids, "
            "allow_gpu_sharing, threads, gather_window_bytes, precision, cuda_graphs, pipeline_stages, memory_limit, got 'cpu'");
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

}  // namespace
}  // namespace mgi
