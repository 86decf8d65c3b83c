// Random inputs for the unit tests: seeded from the clock so runs explore new
// inputs; every test prints its seed on failure (SEED_TRACE).
#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tensor.hpp"

namespace mgi::test {

struct Rng {
  uint32_t seed = static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::mt19937 gen{seed};
  std::vector<float> uniform(const Shape& s, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(static_cast<size_t>(shape_numel(s)));
    for (float& x : v) x = d(gen);
    return v;
  }
};

}  // namespace mgi::test

#define SEED_TRACE(rng) SCOPED_TRACE("random seed " + std::to_string((rng).seed))
