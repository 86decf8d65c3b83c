#include "config_overrides.hpp"

#include <algorithm>

#include "error.hpp"

namespace mgi {
namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return std::string();
  const size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

[[noreturn]] void malformed(const std::string& text, const std::string& why = "") {
  throw ConfigError("--set '" + text + "': expected key=value" + (why.empty() ? "" : " (" + why + ")"));
}

KeyPath split_key(const std::string& text, const std::string& key) {
  KeyPath path;
  size_t begin = 0;
  while (true) {
    const size_t dot = key.find('.', begin);
    const std::string part = key.substr(begin, dot == std::string::npos ? std::string::npos : dot - begin);
    if (part.empty()) malformed(text, "empty part in key '" + key + "'");
    path.push_back(part);
    if (dot == std::string::npos) return path;
    begin = dot + 1;
  }
}

std::string join(const KeyPath& path, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += (i ? "." : "") + path[i];
  return out;
}

void apply_one(YAML::Node& root, const std::string& text, std::vector<OverrideOrigin>& origins) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos) malformed(text);
  const std::string key = trim(text.substr(0, eq));
  if (key.empty()) malformed(text);
  const KeyPath path = split_key(text, key);

  YAML::Node value;
  try {
    value = YAML::Load(text.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    throw ConfigError("--set '" + text + "': malformed YAML value: " + e.msg);
  }

  YAML::Node cur(root);
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    const YAML::Node& ccur = cur;  // const lookup does not insert
    const YAML::Node existing = ccur[path[i]];
    if (!existing.IsDefined() || existing.IsNull()) {
      cur[path[i]] = YAML::Node(YAML::NodeType::Map);
      origins.push_back({KeyPath(path.begin(), path.begin() + i + 1), key});
    } else if (!existing.IsMap()) {
      throw ConfigError("--set '" + text + "': cannot set '" + path[i + 1] + "' inside '" +
                        join(path, i + 1) + "', which is not a mapping");
    }
    YAML::Node next = cur[path[i]];
    cur.reset(next);  // rebind; operator= would overwrite the parent's node
  }
  cur[path.back()] = value;
  origins.push_back({path, key});
}

}  // namespace

void apply_overrides(YAML::Node& root, const std::vector<std::string>& overrides,
                     std::vector<OverrideOrigin>& origins) {
  for (const std::string& text : overrides) apply_one(root, text, origins);
}

const std::string* override_origin(const std::vector<OverrideOrigin>& origins,
                                   const KeyPath& path) {
  for (auto it = origins.rbegin(); it != origins.rend(); ++it) {
    if (it->path.size() <= path.size() &&
        std::equal(it->path.begin(), it->path.end(), path.begin()))
      return &it->key;
  }
  return nullptr;
}

}  // namespace mgi
