// Checking error messages in unit tests: the text a ModelError carries, and
// EXPECT_HAS (the message contains a part, printed whole when it does not).
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "error.hpp"

namespace mgi::test {

// What f() throws as a ModelError, or "(no ModelError)".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ModelError& e) {
    return e.what();
  }
  return "(no ModelError)";
}

}  // namespace mgi::test

#define EXPECT_HAS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "message: " << (haystack)
