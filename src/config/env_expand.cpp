#include "env_expand.hpp"

#include <cstdlib>

#include "error.hpp"

namespace mgi {
namespace {

bool is_name_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

}  // namespace

std::optional<std::string> process_env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

std::string expand_env(const std::string& text, const EnvLookup& lookup) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c != '$') {
      out += c;
      ++i;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (i + 1 >= text.size() || text[i + 1] != '{')
      throw ConfigError("'$' must start ${VAR} or be doubled ('$$' for a literal '$') in '" +
                        text + "'");
    const size_t close = text.find('}', i + 2);
    if (close == std::string::npos)
      throw ConfigError("unterminated '${' in '" + text + "'");
    const std::string body = text.substr(i + 2, close - i - 2);
    const size_t sep = body.find(":-");
    const std::string name = body.substr(0, sep);
    bool name_ok = !name.empty() && is_name_start(name[0]);
    for (char n : name) name_ok = name_ok && is_name_char(n);
    if (!name_ok)
      throw ConfigError("invalid environment variable name '" + name + "' in '${" + body +
                        "}' (expected [A-Za-z_][A-Za-z0-9_]*, optionally ${NAME:-default})");
    const std::optional<std::string> value = lookup(name);
    if (sep == std::string::npos) {
      if (!value) throw ConfigError("environment variable " + name + " is not set");
      out += *value;
    } else {
      const std::string fallback = body.substr(sep + 2);
      if (fallback.find("${") != std::string::npos)
        throw ConfigError("nested '${' in the default of '${" + body + "}' is not supported");
      out += (value && !value->empty()) ? *value : fallback;
    }
    i = close + 1;
  }
  return out;
}

std::string escape_env(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '$') out += '$';
    out += c;
  }
  return out;
}

}  // namespace mgi
