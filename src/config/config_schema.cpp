// The config schema: the keys of each section, and how each key's value is
// checked and stored in the Config. A new key goes in kSectionKeys and in
// validate(); config.hpp documents the fields.
#include <climits>
#include <map>
#include <optional>
#include <set>

#include "config_validator.hpp"
#include "config_values.hpp"
#include "error.hpp"

namespace mgi::config_parse {

const Keys kTopKeys = {"input", "output", "model", "runtime", "mode", "dynamic", "checkpoint"};
const std::map<std::string, Keys> kSectionKeys = {
    {"input", {"file", "dataset", "cost", "offsets", "mask", "pad_value", "fill", "padding_harmless"}},
    {"output", {"file", "dataset", "compression", "compression_level", "chunk_rows", "ragged", "status",
                "on_nonfinite", "writer"}},
    {"model", {"file"}},
    {"runtime",
     {"device", "batch_size", "gpu_ids", "allow_gpu_sharing", "threads", "gather_window_bytes", "precision", "cuda_graphs",
      "pipeline_stages", "memory_limit"}},
    {"dynamic", {"chunk_rows", "min_chunk_rows"}},
    {"checkpoint", {"flush_seconds", "grace_seconds"}},
};

namespace {

constexpr int64_t kMaxBatchSize = int64_t(1) << 31;

// Walks a mapping {onnx name: value} (a model's input or output names, `what`):
// each key a non-empty string and given once, else one line naming it; calls
// f(path of the entry, name, value node).
template <class F>
void for_each_named(const Validator& v, const Entry& e, const char* what, F&& f) {
  std::set<std::string> names;
  for (auto it = e.value.begin(); it != e.value.end(); ++it) {
    const YAML::Node key = it->first;
    if (!key.IsScalar() || key.Scalar().empty())
      v.fail(e.path, key.Mark(), std::string("onnx ") + what + " names must be non-empty strings, got " + describe(key));
    KeyPath path = e.path;
    path.push_back(key.Scalar());
    if (!names.insert(key.Scalar()).second) v.fail(path, key.Mark(), "duplicate key");
    f(path, key, it->second);
  }
}

void read_output_datasets(const Validator& v, const Entry& e, Config::Output& out) {
  const std::string expected = "a dataset path such as /y or a mapping {onnx_output_name: /dataset}";
  if (e.value.IsScalar()) {
    out.datasets = {OutputBinding{"", v.dataset_path(e.path, e.value, e.key.Mark())}};
    return;
  }
  if (!e.value.IsMap() || e.value.size() == 0)
    v.fail(e.path, e.key.Mark(), "expected " + expected + ", got " + describe(e.value));
  out.datasets.clear();
  std::map<std::string, std::string> owner_of_dataset;  // dataset -> onnx output
  for_each_named(v, e, "output", [&](const KeyPath& path, const YAML::Node& key, const YAML::Node& value) {
    const std::string ds = v.dataset_path(path, value, key.Mark());
    auto [pos, inserted] = owner_of_dataset.emplace(ds, key.Scalar());
    if (!inserted)
      v.fail(path, key.Mark(), "outputs '" + pos->second + "' and '" + key.Scalar() +
                                   "' both write dataset " + quoted(ds));
    out.datasets.push_back(OutputBinding{key.Scalar(), ds});
  });
}

void read_input_datasets(const Validator& v, const Entry& e, Config::Input& in) {
  const std::string expected = "a dataset path such as /x or a mapping {onnx_input_name: /dataset}";
  if (e.value.IsScalar()) {
    in.datasets = {InputBinding{"", v.dataset_path(e.path, e.value, e.key.Mark())}};
    in.dataset = in.datasets[0].dataset;
    return;
  }
  if (!e.value.IsMap() || e.value.size() == 0)
    v.fail(e.path, e.key.Mark(), "expected " + expected + ", got " + describe(e.value));
  in.datasets.clear();
  for_each_named(v, e, "input", [&](const KeyPath& path, const YAML::Node& key, const YAML::Node& value) {
    in.datasets.push_back(InputBinding{key.Scalar(), v.dataset_path(path, value, key.Mark())});
  });
  in.dataset = in.datasets[0].dataset;
}

// input.fill: {onnx_input_name: number}.
void read_fill(const Validator& v, const Entry& e, Config::Input& in) {
  const std::string expected = "a mapping {onnx_input_name: number} such as {token_type_ids: 0}";
  if (!e.value.IsMap() || e.value.size() == 0)
    v.fail(e.path, e.key.Mark(), "expected " + expected + ", got " + describe(e.value));
  in.fill.clear();
  for_each_named(v, e, "input", [&](const KeyPath& path, const YAML::Node& key, const YAML::Node& value) {
    const std::string s = v.scalar_node(path, value, key.Mark(), "a number");
    const std::optional<double> number = parse_number_strict(s);
    if (!number) v.fail(path, key.Mark(), "expected a number, got " + quoted(s));
    in.fill.emplace_back(key.Scalar(), *number);
  });
}

// Each model input is fed once: by a dataset, the mask or a fill constant.
void check_input_feeds(const Validator& v, const Level& input, const Config::Input& in) {
  std::map<std::string, std::string> fed_by;  // onnx input -> key feeding it
  auto claim = [&](const std::string& name, const std::string& key, const Entry& e) {
    auto [pos, inserted] = fed_by.emplace(name, key);
    if (!inserted)
      v.fail(e.path, e.key.Mark(), "model input '" + name + "' is fed by both " + pos->second + " and " + key +
                                       "; each input takes one source");
  };
  for (const auto& b : in.datasets)
    if (!b.onnx_input.empty()) claim(b.onnx_input, "input.dataset." + b.onnx_input, *input.find("dataset"));
  if (const Entry* e = input.find("mask")) claim(in.mask, "input.mask", *e);
  if (const Entry* e = input.find("fill"))
    for (const auto& [name, value] : in.fill) claim(name, "input.fill." + name, *e);
  if (in.datasets.size() > 1 && !in.offsets.empty()) {
    const Entry& e = *input.find("offsets");
    v.fail(e.path, e.key.Mark(), "ragged input (offsets) feeds one model input; input.dataset names " +
                                     std::to_string(in.datasets.size()) +
                                     " datasets (use input.mask and input.fill for the other inputs)");
  }
}

void read_gpu_ids(const Validator& v, const Entry& e, std::vector<int>& ids) {
  const std::string expected = "a list of non-negative integers such as [0, 1]";
  if (!e.value.IsSequence()) v.fail(e.path, e.key.Mark(), "expected " + expected + ", got " + describe(e.value));
  ids.clear();
  std::set<int> seen;
  size_t position = 0;
  for (auto it = e.value.begin(); it != e.value.end(); ++it, ++position) {
    const YAML::Node item = *it;
    const YAML::Mark mark = item.Mark().is_null() ? e.key.Mark() : item.Mark();
    const std::string s = v.scalar_node(e.path, item, mark, expected);
    const std::optional<int64_t> id = parse_int_strict(s);
    if (!id || *id < 0 || *id > INT_MAX)
      v.fail(e.path, mark, "expected " + expected + ", got " + quoted(s) + " at position " + std::to_string(position));
    if (!seen.insert(static_cast<int>(*id)).second) v.fail(e.path, mark, "device id " + s + " is listed twice");
    ids.push_back(static_cast<int>(*id));
  }
}

int64_t read_size(const Validator& v, const Entry& e) {
  const std::string expected = "a size in bytes such as 268435456, '256MiB' or '1GB'";
  const std::string s = v.scalar(e, expected);
  const std::optional<int64_t> bytes = parse_size_bytes(s);
  if (!bytes) v.fail(e.path, e.key.Mark(), "expected " + expected + ", got " + quoted(s));
  if (*bytes < 1024) v.fail(e.path, e.key.Mark(), "must be at least 1 KiB (1024 bytes), got " + quoted(s));
  return *bytes;
}

}  // namespace

Config validate(const Validator& v, const YAML::Node& root) {
  Config cfg;
  const Level top = v.level(root, {}, root.Mark(), kTopKeys);
  auto section = [&](const std::string& name) {
    const Entry* e = top.find(name);
    return e ? v.level(e->value, e->path, e->key.Mark(), kSectionKeys.at(name))
             : Level{false, {name}, YAML::Mark::null_mark(), {}};
  };

  for (const char* required : {"input", "output", "model"}) {
    if (!top.find(required))
      throw ConfigError(v.where({}, YAML::Mark::null_mark()) + ": missing required section '" + required +
                        "' (with keys " + comma_list(kSectionKeys.at(required)) + ")");
  }

  const Level input = section("input");
  v.missing(input, "file");
  v.missing(input, "dataset");
  cfg.input.file = v.string(*input.find("file"));
  read_input_datasets(v, *input.find("dataset"), cfg.input);
  if (const Entry* e = input.find("cost")) cfg.input.cost = v.dataset_path(e->path, e->value, e->key.Mark());
  if (const Entry* e = input.find("offsets")) cfg.input.offsets = v.dataset_path(e->path, e->value, e->key.Mark());
  if (const Entry* e = input.find("mask")) cfg.input.mask = v.string(*e);
  if (const Entry* e = input.find("pad_value"))
    cfg.input.pad_value = v.number(*e, -1e300, 1e300, "a number (converted to the padded input's type)");
  if (const Entry* e = input.find("fill")) read_fill(v, *e, cfg.input);
  if (const Entry* e = input.find("padding_harmless")) cfg.input.padding_harmless = v.boolean(*e);
  check_input_feeds(v, input, cfg.input);

  const Level output = section("output");
  v.missing(output, "file");
  cfg.output.file = v.string(*output.find("file"));
  if (const Entry* e = output.find("dataset")) read_output_datasets(v, *e, cfg.output);
  else cfg.output.datasets = {OutputBinding{"", "/y"}};
  if (const Entry* e = output.find("compression")) cfg.output.compression = v.choice(*e, {"none", "gzip"});
  if (const Entry* e = output.find("compression_level"))
    cfg.output.compression_level = static_cast<int>(v.integer(*e, 1, 9, "an integer from 1 to 9"));
  if (const Entry* e = output.find("chunk_rows"))
    cfg.output.chunk_rows = v.integer(*e, 0, kMaxBatchSize, "a non-negative integer (0 = auto)");
  if (const Entry* e = output.find("ragged")) cfg.output.ragged = v.boolean(*e);
  if (const Entry* e = output.find("status")) cfg.output.status = v.dataset_path(e->path, e->value, e->key.Mark());
  if (const Entry* e = output.find("on_nonfinite")) cfg.output.on_nonfinite = v.choice(*e, {"flag", "fail"});
  if (const Entry* e = output.find("writer")) cfg.output.writer = v.choice(*e, {"gather", "parallel"});

  const Level model = section("model");
  v.missing(model, "file");
  cfg.model.file = v.string(*model.find("file"));

  const Level runtime = section("runtime");
  if (const Entry* e = runtime.find("device")) cfg.runtime.device = v.choice(*e, {"auto", "cuda", "cpu"});
  if (const Entry* e = runtime.find("batch_size")) {
    const std::string expected = "a positive integer or 'auto'";
    if (v.scalar(*e, expected) == "auto") {
      cfg.runtime.batch_size_auto = true;
    } else {
      cfg.runtime.batch_size = v.integer(*e, 1, kMaxBatchSize, expected);
    }
  }
  if (const Entry* e = runtime.find("gpu_ids")) read_gpu_ids(v, *e, cfg.runtime.gpu_ids);
  if (const Entry* e = runtime.find("allow_gpu_sharing")) cfg.runtime.allow_gpu_sharing = v.boolean(*e);
  if (const Entry* e = runtime.find("threads"))
    cfg.runtime.threads = static_cast<int>(v.integer(*e, 0, 65536, "a non-negative integer (0 = automatic)"));
  if (const Entry* e = runtime.find("gather_window_bytes")) cfg.runtime.gather_window_bytes = read_size(v, *e);
  if (const Entry* e = runtime.find("precision")) cfg.runtime.precision = v.choice(*e, {"fp32", "tf32", "bf16", "fp16"});
  if (const Entry* e = runtime.find("cuda_graphs")) cfg.runtime.cuda_graphs = v.boolean(*e);
  if (const Entry* e = runtime.find("pipeline_stages")) {
    const std::string expected = "a positive integer or 'auto'";
    if (v.scalar(*e, expected) == "auto") {
      cfg.runtime.pipeline_stages_auto = true;
    } else {
      cfg.runtime.pipeline_stages = static_cast<int>(v.integer(*e, 1, 4096, expected));
    }
  }
  if (const Entry* e = runtime.find("memory_limit")) cfg.runtime.memory_limit = read_size(v, *e);

  if (const Entry* e = top.find("mode")) cfg.mode = v.choice(*e, {"static", "dynamic"});

  const Level dynamic = section("dynamic");
  if (const Entry* e = dynamic.find("chunk_rows"))
    cfg.dynamic.chunk_rows = v.integer(*e, 0, kMaxBatchSize, "a non-negative integer (0 = factoring schedule)");
  if (const Entry* e = dynamic.find("min_chunk_rows"))
    cfg.dynamic.min_chunk_rows = v.integer(*e, 1, kMaxBatchSize, "a positive integer");

  const Level checkpoint = section("checkpoint");
  if (const Entry* e = checkpoint.find("flush_seconds"))
    cfg.checkpoint.flush_seconds = v.number(*e, 0, 86400, "a number of seconds from 0 to 86400");
  if (const Entry* e = checkpoint.find("grace_seconds"))
    cfg.checkpoint.grace_seconds = v.number(*e, 1, 86400, "a number of seconds from 1 to 86400");
  return cfg;
}

}  // namespace mgi::config_parse
