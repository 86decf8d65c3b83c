// Config loading: YAML text -> overrides -> per-key ${VAR} expansion -> typed, validated
// Config. Every error names where it came from: "file:LINE" for the file, "--set key" for
// an override, and the full dotted key.
#include "config.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "config_overrides.hpp"
#include "config_values.hpp"
#include "env_expand.hpp"
#include "error.hpp"

namespace mgi {
namespace {

constexpr size_t kMaxConfigBytes = 1 << 20;
constexpr int64_t kMaxBatchSize = int64_t(1) << 31;

using Keys = std::vector<std::string>;
const Keys kTopKeys = {"input", "output", "model", "runtime", "mode", "dynamic", "checkpoint"};
const std::map<std::string, Keys> kSectionKeys = {
    {"input", {"file", "dataset", "cost", "offsets", "mask"}},
    {"output", {"file", "dataset", "compression", "compression_level", "chunk_rows", "ragged", "status",
                "on_nonfinite"}},
    {"model", {"file"}},
    {"runtime",
     {"device", "batch_size", "gpu_ids", "allow_gpu_sharing", "threads", "gather_window_bytes", "precision", "cuda_graphs"}},
    {"dynamic", {"chunk_rows", "min_chunk_rows"}},
    {"checkpoint", {"flush_seconds", "grace_seconds"}},
};

std::string join(const KeyPath& path) {
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) out += (i ? "." : "") + path[i];
  return out;
}

std::string comma_list(const Keys& keys) {
  std::string out;
  for (size_t i = 0; i < keys.size(); ++i) out += (i ? ", " : "") + keys[i];
  return out;
}

// Values are echoed in messages; keep a hostile one from flooding or garbling the terminal.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < 80; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += std::string("\\x") + kHex[c >> 4] + kHex[c & 15];
    } else {
      out += s[i];
    }
  }
  return out + (s.size() > 80 ? "...'" : "'");
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return quoted(node.Scalar());
    default: return "an empty value";
  }
}

struct Entry {
  KeyPath path;
  YAML::Node key;    // its mark is the line reported for the entry
  YAML::Node value;
};

// A mapping level after the unknown/duplicate key check, by key name.
struct Level {
  bool present = false;
  KeyPath path;
  YAML::Mark mark = YAML::Mark::null_mark();
  std::map<std::string, Entry> entries;
  const Entry* find(const std::string& name) const {
    auto it = entries.find(name);
    return it == entries.end() ? nullptr : &it->second;
  }
};

class Validator {
 public:
  Validator(const std::string& source, const std::vector<OverrideOrigin>& origins)
      : source_(source), origins_(origins) {}

  // "file:LINE" or "--set key" (or just "file" when the line is unknown).
  std::string where(const KeyPath& path, const YAML::Mark& mark) const {
    if (const std::string* key = override_origin(origins_, path)) return "--set " + *key;
    if (mark.is_null()) return source_;
    return source_ + ":" + std::to_string(mark.line + 1);
  }

  // "<where>: <key>: <what>"; the key is left out when it is the override's own key.
  [[noreturn]] void fail(const KeyPath& path, const YAML::Mark& mark, const std::string& what) const {
    const std::string* key = override_origin(origins_, path);
    const std::string dotted = join(path);
    std::string msg = where(path, mark) + ": ";
    if (!(key && *key == dotted) && !dotted.empty()) msg += dotted + ": ";
    throw ConfigError(msg + what);
  }

  // Checks that `node` is a mapping whose keys are all in `valid` and unique.
  Level level(const YAML::Node& node, const KeyPath& path, const YAML::Mark& mark,
              const Keys& valid) const {
    Level lv;
    lv.path = path;
    lv.mark = mark;
    if (!node.IsDefined() || node.IsNull()) return lv;  // `runtime:` alone = all defaults
    if (!node.IsMap())
      fail(path, mark, "expected a mapping with keys " + comma_list(valid) + ", got " + describe(node));
    lv.present = true;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar()) fail(path, key.Mark(), "keys must be plain names, got " + describe(key));
      KeyPath child = path;
      child.push_back(key.Scalar());
      if (std::find(valid.begin(), valid.end(), key.Scalar()) == valid.end())
        unknown_key(child, key.Mark(), valid);
      auto [pos, inserted] = lv.entries.emplace(key.Scalar(), Entry{child, key, it->second});
      if (!inserted) {
        const YAML::Mark first = pos->second.key.Mark();
        fail(child, key.Mark(), "duplicate key" +
                                    (first.is_null() ? std::string() : " (first at line " +
                                                                           std::to_string(first.line + 1) + ")"));
      }
    }
    return lv;
  }

  // The entry's scalar after ${VAR} expansion; the tree keeps the expanded text ('$' escaped)
  // so resolved_text parses back to the same Config.
  std::string scalar(const Entry& e, const std::string& expected) const {
    return scalar_node(e.path, e.value, e.key.Mark(), expected);
  }

  std::string scalar_node(const KeyPath& path, YAML::Node node, const YAML::Mark& mark,
                          const std::string& expected) const {
    if (!node.IsScalar()) fail(path, mark, "expected " + expected + ", got " + describe(node));
    const std::string raw = node.Scalar();
    // The resolved config is stored as YAML text, which yaml-cpp re-encodes as
    // UTF-8: a value that is not UTF-8 would come back as another path.
    if (!valid_utf8(raw)) fail(path, mark, "expected " + expected + " in UTF-8, got bytes that are not UTF-8");
    std::string value;
    try {
      value = expand_env(raw);
    } catch (const ConfigError& err) {
      fail(path, mark, err.what());
    }
    const std::string stored = escape_env(value);
    if (stored != raw) node = stored;
    return value;
  }

  std::string string(const Entry& e) const {
    const std::string s = scalar(e, "a non-empty string");
    if (s.empty()) fail(e.path, e.key.Mark(), "expected a non-empty string, got ''");
    return s;
  }

  std::string dataset_path(const KeyPath& path, const YAML::Node& node, const YAML::Mark& mark) const {
    const std::string expected = "an HDF5 dataset path starting with '/'";
    const std::string s = scalar_node(path, node, mark, expected);
    if (s.empty() || s[0] != '/' || s == "/") fail(path, mark, "expected " + expected + ", got " + quoted(s));
    return s;
  }

  std::string choice(const Entry& e, const Keys& allowed) const {
    const std::string expected = "one of " + comma_list(allowed);
    const std::string s = scalar(e, expected);
    if (std::find(allowed.begin(), allowed.end(), s) == allowed.end())
      fail(e.path, e.key.Mark(), "expected " + expected + ", got " + quoted(s));
    return s;
  }

  int64_t integer(const Entry& e, int64_t lo, int64_t hi, const std::string& expected) const {
    const std::string s = scalar(e, expected);
    const std::optional<int64_t> v = parse_int_strict(s);
    if (!v || *v < lo) fail(e.path, e.key.Mark(), "expected " + expected + ", got " + quoted(s));
    if (*v > hi) fail(e.path, e.key.Mark(), "must be at most " + std::to_string(hi) + ", got " + quoted(s));
    return *v;
  }

  double number(const Entry& e, double lo, double hi, const std::string& expected) const {
    const std::string s = scalar(e, expected);
    const std::optional<double> v = parse_number_strict(s);
    if (!v || *v < lo || *v > hi) fail(e.path, e.key.Mark(), "expected " + expected + ", got " + quoted(s));
    return *v;
  }

  bool boolean(const Entry& e) const {
    const std::string s = scalar(e, "true or false");
    const std::optional<bool> v = parse_bool_strict(s);
    if (!v) fail(e.path, e.key.Mark(), "expected true or false, got " + quoted(s));
    return *v;
  }

  void missing(const Level& lv, const std::string& name) const {
    if (lv.find(name)) return;
    KeyPath path = lv.path;
    path.push_back(name);
    // A section an override created has no file line; report the file itself.
    const bool from_file = lv.present && !override_origin(origins_, lv.path);
    const std::string loc = from_file && !lv.mark.is_null()
                                ? source_ + ":" + std::to_string(lv.mark.line + 1)
                                : source_;
    throw ConfigError(loc + ": missing required key '" + join(path) + "'");
  }

 private:
  [[noreturn]] void unknown_key(const KeyPath& path, const YAML::Mark& mark, const Keys& valid) const {
    const std::string name = path.back();
    const KeyPath parent(path.begin(), path.end() - 1);
    std::string msg = where(path, mark) + ": unknown key '" + join(path) + "' (valid " +
                      (parent.empty() ? "top-level keys: " : "keys under " + join(parent) + ": ") +
                      comma_list(valid) + ")";
    std::string hint = closest_key(name, valid);
    if (hint.empty()) hint = key_in_other_section(name, parent);
    if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
    throw ConfigError(msg);
  }

  // A key put in the wrong section ("batch_size" at the top) gets its full dotted name,
  // when exactly one other section has it.
  static std::string key_in_other_section(const std::string& name, const KeyPath& parent) {
    std::string found;
    for (const auto& [section, keys] : kSectionKeys) {
      if (parent.size() == 1 && parent[0] == section) continue;
      if (closest_key(name, keys) != name) continue;
      if (!found.empty()) return std::string();  // ambiguous, e.g. "file"
      found = section + "." + name;
    }
    return found;
  }

  const std::string& source_;
  const std::vector<OverrideOrigin>& origins_;
};

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
  std::set<std::string> names;
  for (auto it = e.value.begin(); it != e.value.end(); ++it) {
    const YAML::Node key = it->first;
    if (!key.IsScalar() || key.Scalar().empty())
      v.fail(e.path, key.Mark(), "onnx output names must be non-empty strings, got " + describe(key));
    KeyPath path = e.path;
    path.push_back(key.Scalar());
    if (!names.insert(key.Scalar()).second) v.fail(path, key.Mark(), "duplicate key");
    const std::string ds = v.dataset_path(path, it->second, key.Mark());
    auto [pos, inserted] = owner_of_dataset.emplace(ds, key.Scalar());
    if (!inserted)
      v.fail(path, key.Mark(), "outputs '" + pos->second + "' and '" + key.Scalar() +
                                   "' both write dataset " + quoted(ds));
    out.datasets.push_back(OutputBinding{key.Scalar(), ds});
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
  const Entry& in_ds = *input.find("dataset");
  cfg.input.dataset = v.dataset_path(in_ds.path, in_ds.value, in_ds.key.Mark());
  if (const Entry* e = input.find("cost")) cfg.input.cost = v.dataset_path(e->path, e->value, e->key.Mark());
  if (const Entry* e = input.find("offsets")) cfg.input.offsets = v.dataset_path(e->path, e->value, e->key.Mark());
  if (const Entry* e = input.find("mask")) cfg.input.mask = v.string(*e);

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

// Counts documents without building nodes. YAML::LoadAll is not used: yaml-cpp 0.7 can
// produce empty documents forever on some malformed input (e.g. ",t:\x12::e "), growing
// memory without bound; counting stops at the second document.
class DocumentCounter : public YAML::EventHandler {
 public:
  int documents = 0;
  YAML::Mark second = YAML::Mark::null_mark();
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents == 2) second = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

[[noreturn]] void malformed_yaml(const YAML::Exception& e, const std::string& path) {
  std::string loc = path;
  if (!e.mark.is_null())
    loc += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
  throw ConfigError(loc + ": malformed YAML: " + e.msg);
}

// The first document's root; `second` gets the start of a second document, if any.
YAML::Node load_yaml(const std::string& text, const std::string& path, YAML::Mark& second) {
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentCounter counter;
    while (counter.documents < 2 && parser.HandleNextDocument(counter)) {
    }
    second = counter.second;
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    malformed_yaml(e, path);
  }
}

}  // namespace

Config parse_config(const std::string& text, const std::string& path,
                    const std::vector<std::string>& overrides) {
  YAML::Mark second_document = YAML::Mark::null_mark();
  YAML::Node root = load_yaml(text, path, second_document);
  const std::string sections = comma_list(kTopKeys);
  if (!second_document.is_null())
    throw ConfigError(path + ":" + std::to_string(second_document.line + 1) +
                      ": more than one YAML document ('---'); a config is a single mapping");
  if (!root.IsDefined() || root.IsNull())
    throw ConfigError(path + ": empty config (expected a mapping with " + sections + ")");
  if (!root.IsMap())
    throw ConfigError(path + ":" + std::to_string(root.Mark().line + 1) +
                      ": top level must be a mapping with " + sections + ", got " + describe(root));

  std::vector<OverrideOrigin> origins;
  Config cfg;
  try {
    apply_overrides(root, overrides, origins);
    cfg = validate(Validator(path, origins), root);
    YAML::Emitter out;
    out << root;
    if (!out.good()) throw ConfigError(path + ": cannot write the resolved config: " + out.GetLastError());
    cfg.resolved_text = std::string(out.c_str()) + "\n";
  } catch (const YAML::Exception& e) {  // node API misuse on odd input: still a config error
    throw ConfigError(path + ": invalid config: " + e.msg);
  }
  cfg.source = path;
  return cfg;
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  auto fail = [&](const std::string& why) -> ConfigError {
    return ConfigError("config file '" + path + "': " + why);
  };
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw fail(std::string("cannot read (") + std::strerror(errno) + ")");
  std::string text;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    text.append(buf, n);
    if (text.size() > kMaxConfigBytes) {
      std::fclose(f);
      throw fail("too large (a config is at most 1 MiB)");
    }
  }
  const int err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (err) throw fail(std::string("cannot read (") + std::strerror(err) + ")");
  return parse_config(text, path, overrides);
}

}  // namespace mgi
