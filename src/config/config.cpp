// Config loading: YAML text -> overrides -> per-key ${VAR} expansion -> typed, validated
// Config. Every error names where it came from: "file:LINE" for the file, "--set key" for
// an override, and the full dotted key.
//
// The keys and their checks: config_schema.cpp; the Validator that reads each
// value and says where it came from: config_validator.cpp.
#include "config.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "config_overrides.hpp"
#include "config_validator.hpp"
#include "error.hpp"

namespace mgi {

using namespace config_parse;  // one file's use of the validation internals

namespace {

constexpr size_t kMaxConfigBytes = 1 << 20;

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
