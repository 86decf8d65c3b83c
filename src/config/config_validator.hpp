// Config validation internals, shared by config.cpp (YAML text -> Config),
// config_schema.cpp (the keys and what each must hold) and config_validator.cpp
// (the checks, and messages that say where a value came from).
#pragma once
#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config.hpp"
#include "config_overrides.hpp"

namespace mgi::config_parse {

using Keys = std::vector<std::string>;
extern const Keys kTopKeys;
extern const std::map<std::string, Keys> kSectionKeys;

std::string join(const KeyPath& path);
std::string comma_list(const Keys& keys);
std::string quoted(const std::string& s);
std::string describe(const YAML::Node& node);

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

  std::string where(const KeyPath& path, const YAML::Mark& mark) const;
  [[noreturn]] void fail(const KeyPath& path, const YAML::Mark& mark, const std::string& what) const;
  Level level(const YAML::Node& node, const KeyPath& path, const YAML::Mark& mark, const Keys& valid) const;
  std::string scalar(const Entry& e, const std::string& expected) const;
  std::string scalar_node(const KeyPath& path, YAML::Node node, const YAML::Mark& mark,
                          const std::string& expected) const;
  std::string string(const Entry& e) const;
  std::string dataset_path(const KeyPath& path, const YAML::Node& node, const YAML::Mark& mark) const;
  std::string choice(const Entry& e, const Keys& allowed) const;
  int64_t integer(const Entry& e, int64_t lo, int64_t hi, const std::string& expected) const;
  double number(const Entry& e, double lo, double hi, const std::string& expected) const;
  bool boolean(const Entry& e) const;
  void missing(const Level& lv, const std::string& name) const;

 private:
  [[noreturn]] void unknown_key(const KeyPath& path, const YAML::Mark& mark, const Keys& valid) const;
  static std::string key_in_other_section(const std::string& name, const KeyPath& parent);

  const std::string& source_;
  const std::vector<OverrideOrigin>& origins_;
};

// The Config that `root` (overrides applied) describes; config_schema.cpp.
Config validate(const Validator& v, const YAML::Node& root);

}  // namespace mgi::config_parse
