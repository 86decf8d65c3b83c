// Task cutting for dynamic mode: factoring (Hummel, Schonberg & Flynn): each
// round hands out half of the remaining cost in `workers` equal chunks, so
// chunks are large early (few messages) and small at the end (no long tail).
// Pure arithmetic, unit-tested; the master hands tasks out in list order,
// largest first.
#pragma once
#include <cstdint>
#include <vector>

#include "partition.hpp"

namespace mgi {

struct Task {
  int64_t id = 0;
  int64_t begin = 0, end = 0;  // rows [begin, end)
  double cost = 0;
  int64_t rows() const { return end - begin; }
};

struct ScheduleOptions {
  int workers = 1;             // tasks in flight at once (dynamic mode: 2 per rank, current + prefetched)
  int64_t chunk_rows = 0;      // > 0: fixed-size tasks (dynamic.chunk_rows)
  int64_t min_chunk_rows = 1;  // smallest task (dynamic.min_chunk_rows)
  int64_t max_chunk_rows = 0;  // > 0: memory bound on one task's results
};

// Cuts rows [0, n) into tasks covering every row exactly once, sorted by cost
// (largest first; ties by row order). ids are the positions in that order.
std::vector<Task> cut_tasks(int64_t n, const PrefixCost& prefix, const ScheduleOptions& opt);

// Row cost from an optional per-row cost vector (empty: every row costs 1).
PrefixCost prefix_from_costs(const std::vector<double>* prefix_sums);

}  // namespace mgi
