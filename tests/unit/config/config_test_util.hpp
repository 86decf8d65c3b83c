// Helpers shared by the config loader tests (test_config*.cpp): a base config,
// parse() and error_of() around parse_config, and EXPECT_CONTAINS.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config.hpp"
#include "error.hpp"

namespace mgi {
namespace {

inline ::testing::AssertionResult Contains(const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << haystack << "' does not contain '" << needle << "'";
}
#define EXPECT_CONTAINS(haystack, needle) EXPECT_TRUE(Contains((haystack), (needle)))
#define EXPECT_NOT_CONTAINS(haystack, needle) EXPECT_FALSE(Contains((haystack), (needle)))

// Lines 1-7; tests append from line 8.
const std::string kBase =
    "input:\n"
    "  file: data/x.h5\n"
    "  dataset: /x\n"
    "output:\n"
    "  file: out/y.h5\n"
    "model:\n"
    "  file: models/m.onnx\n";

const std::string kPath = "configs/demo.yaml";

inline Config parse(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return parse_config(text, kPath, overrides);
}

// The ConfigError message of parsing `text`; fails the test when there is none.
inline std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse(text, overrides);
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_EQ(e.code(), Exit::usage);
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError for:\n" << text;
  return "";
}

}  // namespace
}  // namespace mgi
