// libFuzzer target: mgi::parse_config on arbitrary bytes.
//
// Input layout: the YAML text, then optionally a NUL byte and `--set` overrides
// separated by NUL bytes ("a.b=value\0c=d"). The text is parsed once without
// overrides and, when there are some, once with them.
// Accepted outcomes: a Config, or an mgi::Error. Anything else (another
// exception type, a sanitizer report, a timeout) is a finding, and so is a
// Config whose resolved_text (stored in every output file) does not parse back
// to the same Config.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "config.hpp"
#include "error.hpp"

namespace {

constexpr size_t kMaxOverrides = 16;

// The stable core of the schema (DESIGN.md), as one comparable string.
std::string core(const mgi::Config& c) {
  std::string s = c.input.file + '\n' + c.input.dataset + '\n' + c.output.file + '\n';
  for (const mgi::OutputBinding& b : c.output.datasets) s += b.onnx_output + '=' + b.dataset + '\n';
  s += c.model.file + '\n' + c.runtime.device + '\n' + std::to_string(c.runtime.batch_size) +
       (c.runtime.batch_size_auto ? " auto\n" : "\n") + c.mode;
  return s;
}

void parse(const std::string& text, const std::vector<std::string>& overrides) {
  mgi::Config cfg;
  try {
    cfg = mgi::parse_config(text, "fuzz.yaml", overrides);
  } catch (const mgi::Error&) {
    return;
  }
  // Round trip: the resolved text is a config that means the same thing.
  mgi::Config again;
  try {
    again = mgi::parse_config(cfg.resolved_text, "resolved.yaml", {});
  } catch (const mgi::Error& e) {
    std::fprintf(stderr, "resolved_text does not parse back: %s\n--- resolved_text:\n%s", e.what(),
                 cfg.resolved_text.c_str());
    __builtin_trap();
  }
  if (core(again) != core(cfg) || again.resolved_text != cfg.resolved_text) {
    std::fprintf(stderr, "resolved_text parses to another config:\n--- first:\n%s\n--- again:\n%s\n",
                 core(cfg).c_str(), core(again).c_str());
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Variables the corpus refers to as ${MGI_FUZZ_SET} / ${MGI_FUZZ_EMPTY}: both
  // expansion paths (set, set-but-empty) are reachable; others are unset.
  setenv("MGI_FUZZ_SET", "/tmp/fuzz", 1);
  setenv("MGI_FUZZ_EMPTY", "", 1);
  unsetenv("MGI_FUZZ_UNSET");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string all(reinterpret_cast<const char*>(data), size);
  const size_t cut = all.find('\0');
  const std::string text = all.substr(0, cut);
  std::vector<std::string> overrides;
  for (size_t at = cut; at != std::string::npos && overrides.size() < kMaxOverrides;) {
    const size_t next = all.find('\0', at + 1);
    overrides.push_back(all.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1));
    at = next;
  }
  parse(text, {});
  if (!overrides.empty()) parse(text, overrides);
  return 0;
}
