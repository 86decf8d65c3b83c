// Strict scalar parsers for config values and the "did you mean" helper.
// They return nullopt on anything but the documented form; callers turn that into a
// ConfigError naming the key and line.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mgi {

// Decimal integer with an optional sign: "64", "-1", "+3". No hex, no spaces, no "1e3".
std::optional<int64_t> parse_int_strict(const std::string& s);

// YAML 1.2 core booleans only: true/True/TRUE/false/False/FALSE (not yes/no/on/off).
std::optional<bool> parse_bool_strict(const std::string& s);

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool valid_utf8(const std::string& s);

// A finite decimal number ("30", "0.5", "1e-3"); nullopt for anything else.
std::optional<double> parse_number_strict(const std::string& s);

// A byte count: an integer, or an integer and a unit with optional space between:
// B, KiB, MiB, GiB, TiB (powers of 1024) or kB/KB, MB, GB, TB (powers of 1000); units are
// case-insensitive. Negative values and overflow of int64 give nullopt.
std::optional<int64_t> parse_size_bytes(const std::string& s);

// Closest candidate by edit distance (case- and '-'/'_'-insensitive, transpositions count
// as one edit), or "" when none is close enough to be a likely typo.
std::string closest_key(const std::string& key, const std::vector<std::string>& candidates);

}  // namespace mgi
