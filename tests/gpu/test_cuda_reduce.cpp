// ReduceSum / ReduceMean / ReduceL1 / ReduceL2 / ReduceSumSquare on the CUDA
// backend against the CPU backend (fresh random inputs, seed printed): the
// last axis (LayerNorm exports, mean pooling), a middle axis with and without
// keepdims, axes as an attribute (ReduceMean before opset 18) and as an input
// (ReduceSum from opset 13), every non-batch axis, and axes that are not
// adjacent (run on the host). Both sides sum in order in double: within 1e-7.
#include <gtest/gtest.h>

#include "gpu_test_util.hpp"

namespace mgi::gputest {
namespace {

constexpr double kTol = 1e-7;

GraphBuilder reduce_graph(const std::string& op, const Shape& row, const std::vector<int64_t>& axes, bool keepdims,
                          bool axes_input) {
  GraphBuilder b;
  const int x = b.input(row);
  std::vector<int> in{x};
  if (axes_input) in.push_back(b.constant_i64({static_cast<int64_t>(axes.size())}, axes));
  b.output(b.node(op, in, [&](Node& n) {
    if (!axes_input) n.ints = axes;
    n.keepdims = keepdims;
  }));
  return b;
}

void check(const std::string& op, const Shape& row, const std::vector<int64_t>& axes, bool keepdims) {
  const bool input = op == "ReduceSum";  // axes an input from opset 13; the others from 18 (graphs here: 17)
  CompareOptions opt{kTol};
  opt.max_batch = 9;
  compare_backends(reduce_graph(op, row, axes, keepdims, input), opt,
                   op + " " + shape_str(row) + " axes " + shape_str(axes) + (keepdims ? " keepdims" : ""));
}

TEST(ReduceOp, LastAxis) {
  MGI_REQUIRE_CUDA_DEVICE();
  for (const char* op : {"ReduceSum", "ReduceMean", "ReduceL1", "ReduceL2", "ReduceSumSquare"}) {
    check(op, {12, 96}, {-1}, true);
    check(op, {12, 96}, {2}, false);
  }
}

TEST(ReduceOp, MiddleAndSeveralAxes) {
  MGI_REQUIRE_CUDA_DEVICE();
  for (const char* op : {"ReduceSum", "ReduceMean", "ReduceL2"}) {
    check(op, {17, 8}, {1}, false);       // mean pooling over the sequence
    check(op, {5, 6, 7}, {1, 2}, true);   // adjacent
    check(op, {5, 6, 7}, {1, 3}, false);  // not adjacent: host path
    check(op, {4, 3, 5}, {1, 2, 3}, false);
  }
}

}  // namespace
}  // namespace mgi::gputest
