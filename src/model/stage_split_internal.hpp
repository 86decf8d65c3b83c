// Internal to split_graph() (stage_split.cpp, whose header comment outlines the
// five steps): the graph analysis (steps 1-3, stage_analysis.cpp) and the
// choice of cuts (step 4, stage_cuts.cpp). Not part of the model library's API.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "graph.hpp"

namespace mgi::stage_split {

constexpr double kBalanceSlack = 1.10;         // near-balanced: every stage load <= 1.1 x the best largest load
constexpr int64_t kPerValueCost = 256;         // bytes a crossing value costs on top of its size (fewer values)
constexpr size_t kShapeOnlyAbove = 64 * 1024;  // split_graph(keep_stage): other stages' constants above this are shells

// What split_graph() knows of the graph before it cuts: per value and per node,
// indexed by full-graph ids and positions.
struct Analysis {
  const Graph& g;
  size_t N = 0, V = 0;
  int64_t fixed = 0;  // the model's fixed batch (0: dynamic)
  int64_t b_lo = 2, b_hi = 3;
  std::vector<Shape> s_lo, s_hi;                 // value shapes at the two batch sizes
  std::vector<std::vector<std::string>> dyn;     // per value, per dim: the dynamic dim groups it varies with ("" none; "?" unknown name)
  std::vector<std::vector<char>> varies;         // per value, per dim: varies with some dynamic input dim
  std::vector<int> prod;                         // producing node per value (-1: graph input or constant)
  std::vector<int> last;                         // last position the value is needed (-1: never)
  std::vector<char> computed;                    // non-constant, non-host
  std::vector<char> batch_first;                 // rows independent of the batch, batch first
  std::vector<char> absorbed;                    // fuse_graph folds it into its reader
  std::vector<double> row_bytes;                 // bytes of one row at the sample shapes
  std::vector<double> flops, weights;            // per node (weights: constants first read there)
  std::vector<char> host_node;

  explicit Analysis(const Graph& graph) : g(graph) {}
};

// Where the graph may be cut (step 3).
struct CutPositions {
  std::vector<int> valid;    // valid cut positions, ascending
  std::vector<double> cross;  // per position c in [0, N]: bytes per row crossing c (+ kPerValueCost per value)
};

// `v` without the bytes of its constant: dtype and shape only.
Value shell_of(const Value& v);

// Steps 1 and 2, plus the per-value and per-node quantities steps 3-5 read.
Analysis analyse_graph(const Graph& graph, const std::vector<Shape>& input_rows);

// Step 3: the valid cut positions and what crosses each position.
CutPositions find_cut_positions(const Analysis& A);

// Step 4: the end position of each of `stages` stages (the last one is N).
// `where` prefixes error messages ("model <source>: ").
std::vector<int> choose_cuts(const Analysis& A, const CutPositions& cuts, int stages, const std::string& where);

}  // namespace mgi::stage_split
