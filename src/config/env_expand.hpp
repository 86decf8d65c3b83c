// ${VAR} expansion for config strings.
//
// Syntax (a strict subset of the shell's, so a typo fails instead of passing through):
//   ${NAME}            value of NAME; an unset NAME is an error, a set-but-empty one gives ""
//   ${NAME:-default}   value of NAME if set and non-empty, else the literal `default`
//                      (no nested ${...} inside the default)
//   $$                 a literal '$'
// Any other '$' (bare `$HOME`, a trailing '$', an unterminated `${`) is an error.
// NAME is [A-Za-z_][A-Za-z0-9_]*.
#pragma once
#include <functional>
#include <optional>
#include <string>

namespace mgi {

// Returns the value of a variable, or nullopt when it is unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment (getenv).
std::optional<std::string> process_env(const std::string& name);

// Expands `text`. Throws ConfigError with a message that has no location (the caller
// prefixes file:line and key), e.g. "environment variable X is not set".
std::string expand_env(const std::string& text, const EnvLookup& lookup = process_env);

// Inverse for storage: expand_env(escape_env(s)) == s (every '$' becomes "$$").
std::string escape_env(const std::string& text);

}  // namespace mgi
