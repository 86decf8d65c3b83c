#include "config_values.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include <algorithm>
#include <cctype>
#include <limits>

namespace mgi {
namespace {

std::string normalize_key(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Optimal string alignment distance (Levenshtein + adjacent transposition).
size_t edit_distance(const std::string& a, const std::string& b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

}  // namespace

bool valid_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned c = p[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > n) return false;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

std::optional<double> parse_number_strict(const std::string& s) {
  if (s.empty() || s.size() > 64 || std::isspace(static_cast<unsigned char>(s[0]))) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<int64_t> parse_int_strict(const std::string& s) {
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (i >= s.size()) return std::nullopt;
  // Accumulate as a negative number so INT64_MIN is representable.
  int64_t value = 0;
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    const int digit = s[i] - '0';
    if (value < (kMin + digit) / 10) return std::nullopt;
    value = value * 10 - digit;
  }
  if (!negative) {
    if (value == kMin) return std::nullopt;
    value = -value;
  }
  return value;
}

std::optional<bool> parse_bool_strict(const std::string& s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

std::optional<int64_t> parse_size_bytes(const std::string& s) {
  size_t digits_end = 0;
  while (digits_end < s.size() && std::isdigit(static_cast<unsigned char>(s[digits_end])))
    ++digits_end;
  if (digits_end == 0) return std::nullopt;
  const std::optional<int64_t> number = parse_int_strict(s.substr(0, digits_end));
  if (!number) return std::nullopt;
  size_t unit_begin = digits_end;
  if (unit_begin < s.size() && s[unit_begin] == ' ') ++unit_begin;
  std::string unit = s.substr(unit_begin);
  if (unit.empty() && unit_begin != digits_end) return std::nullopt;  // "64 "
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  struct Unit { const char* name; int64_t factor; };
  static const Unit kUnits[] = {
      {"", 1},          {"b", 1},
      {"kib", 1ll << 10}, {"mib", 1ll << 20}, {"gib", 1ll << 30}, {"tib", 1ll << 40},
      {"kb", 1000ll},   {"mb", 1000ll * 1000}, {"gb", 1000ll * 1000 * 1000},
      {"tb", 1000ll * 1000 * 1000 * 1000}};
  for (const Unit& u : kUnits) {
    if (unit != u.name) continue;
    if (*number > std::numeric_limits<int64_t>::max() / u.factor) return std::nullopt;
    return *number * u.factor;
  }
  return std::nullopt;
}

std::string closest_key(const std::string& key, const std::vector<std::string>& candidates) {
  if (key.size() > 64) return std::string();  // not a typo of a short key; skip the O(n*m) work
  const std::string k = normalize_key(key);
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (const std::string& c : candidates) {
    const size_t d = edit_distance(k, normalize_key(c));
    if (d < best_d) best_d = d, best = c;
  }
  // Short keys tolerate one edit, longer ones two, and never more than a third of the key.
  const size_t limit = std::min<size_t>(k.size() >= 5 ? 2 : 1, std::max<size_t>(1, k.size() / 3));
  return best_d <= limit ? best : std::string();
}

}  // namespace mgi
