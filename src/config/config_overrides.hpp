// `--set a.b=value` overrides, applied to the parsed YAML tree before validation.
// The value is YAML (`64`, `auto`, `{probs: /p, logits: /l}`, `[0, 1]`); missing
// intermediate mappings are created. Each override remembers which key paths it set or
// created, so a later error there names "--set a.b" instead of a file line.
#pragma once
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace mgi {

using KeyPath = std::vector<std::string>;

struct OverrideOrigin {
  KeyPath path;     // a key path this override set or created
  std::string key;  // the override's key as written, e.g. "runtime.batch_size"
};

// Applies `overrides` in order to `root` (a mapping). Throws ConfigError
// "--set 'x': expected key=value" for a malformed one.
void apply_overrides(YAML::Node& root, const std::vector<std::string>& overrides,
                     std::vector<OverrideOrigin>& origins);

// The key of the last override that set `path` or one of its parents, or nullptr.
const std::string* override_origin(const std::vector<OverrideOrigin>& origins,
                                   const KeyPath& path);

}  // namespace mgi
