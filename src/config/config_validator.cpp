// The config checks: every value is read through the Validator, so a mistake
// is reported as "<file:LINE or --set key>: <dotted key>: <what was expected>".
#include "config_validator.hpp"

#include <algorithm>

#include "config_values.hpp"
#include "env_expand.hpp"
#include "error.hpp"

namespace mgi::config_parse {

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

// "file:LINE" or "--set key" (or just "file" when the line is unknown).
std::string Validator::where(const KeyPath& path, const YAML::Mark& mark) const {
  if (const std::string* key = override_origin(origins_, path)) return "--set " + *key;
  if (mark.is_null()) return source_;
  return source_ + ":" + std::to_string(mark.line + 1);
}

// "<where>: <key>: <what>"; the key is left out when it is the override's own key.
[[noreturn]] void Validator::fail(const KeyPath& path, const YAML::Mark& mark, const std::string& what) const {
  const std::string* key = override_origin(origins_, path);
  const std::string dotted = join(path);
  std::string msg = where(path, mark) + ": ";
  if (!(key && *key == dotted) && !dotted.empty()) msg += dotted + ": ";
  throw ConfigError(msg + what);
}

// Checks that `node` is a mapping whose keys are all in `valid` and unique.
Level Validator::level(const YAML::Node& node, const KeyPath& path, const YAML::Mark& mark,
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
std::string Validator::scalar(const Entry& e, const std::string& expected) const {
  return scalar_node(e.path, e.value, e.key.Mark(), expected);
}

std::string Validator::scalar_node(const KeyPath& path, YAML::Node node, const YAML::Mark& mark,
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

std::string Validator::string(const Entry& e) const {
  const std::string s = scalar(e, "a non-empty string");
  if (s.empty()) fail(e.path, e.key.Mark(), "expected a non-empty string, got ''");
  return s;
}

std::string Validator::dataset_path(const KeyPath& path, const YAML::Node& node, const YAML::Mark& mark) const {
  const std::string expected = "an HDF5 dataset path starting with '/'";
  const std::string s = scalar_node(path, node, mark, expected);
  if (s.empty() || s[0] != '/' || s == "/") fail(path, mark, "expected " + expected + ", got " + quoted(s));
  return s;
}

std::string Validator::choice(const Entry& e, const Keys& allowed) const {
  const std::string expected = "one of " + comma_list(allowed);
  const std::string s = scalar(e, expected);
  if (std::find(allowed.begin(), allowed.end(), s) == allowed.end())
    fail(e.path, e.key.Mark(), "expected " + expected + ", got " + quoted(s));
  return s;
}

int64_t Validator::integer(const Entry& e, int64_t lo, int64_t hi, const std::string& expected) const {
  const std::string s = scalar(e, expected);
  const std::optional<int64_t> v = parse_int_strict(s);
  if (!v || *v < lo) fail(e.path, e.key.Mark(), "expected " + expected + ", got " + quoted(s));
  if (*v > hi) fail(e.path, e.key.Mark(), "must be at most " + std::to_string(hi) + ", got " + quoted(s));
  return *v;
}

double Validator::number(const Entry& e, double lo, double hi, const std::string& expected) const {
  const std::string s = scalar(e, expected);
  const std::optional<double> v = parse_number_strict(s);
  if (!v || *v < lo || *v > hi) fail(e.path, e.key.Mark(), "expected " + expected + ", got " + quoted(s));
  return *v;
}

bool Validator::boolean(const Entry& e) const {
  const std::string s = scalar(e, "true or false");
  const std::optional<bool> v = parse_bool_strict(s);
  if (!v) fail(e.path, e.key.Mark(), "expected true or false, got " + quoted(s));
  return *v;
}

void Validator::missing(const Level& lv, const std::string& name) const {
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

[[noreturn]] void Validator::unknown_key(const KeyPath& path, const YAML::Mark& mark, const Keys& valid) const {
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
std::string Validator::key_in_other_section(const std::string& name, const KeyPath& parent) {
  std::string found;
  for (const auto& [section, keys] : kSectionKeys) {
    if (parent.size() == 1 && parent[0] == section) continue;
    if (closest_key(name, keys) != name) continue;
    if (!found.empty()) return std::string();  // ambiguous, e.g. "file"
    found = section + "." + name;
  }
  return found;
}

}  // namespace mgi::config_parse
