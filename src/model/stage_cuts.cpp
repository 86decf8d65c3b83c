// split_graph()'s choice of cuts (step 4 of stage_split.cpp's header comment):
// the best achievable largest stage load by bisection, then the least-crossing
// split near it by a DP over the valid cut positions.
#include <algorithm>
#include <deque>
#include <limits>
#include <string>
#include <vector>

#include "error.hpp"
#include "stage_split_internal.hpp"

namespace mgi::stage_split {

namespace {

// A stage's load: max(its share of the weight bytes, its share of the FLOPs),
// from prefix sums over the node order.
struct Loads {
  std::vector<double> W, F;
  double Wt = 1, Ft = 1;

  explicit Loads(const Analysis& A) : W(A.N + 1, 0), F(A.N + 1, 0) {
    for (size_t i = 0; i < A.N; ++i) {
      W[i + 1] = W[i] + A.weights[i];
      F[i + 1] = F[i] + A.flops[i];
    }
    Wt = W[A.N] > 0 ? W[A.N] : 1;
    Ft = F[A.N] > 0 ? F[A.N] : 1;
  }
  // Load of the stage of nodes [a, b).
  double operator()(int a, int b) const {
    return std::max((W[static_cast<size_t>(b)] - W[static_cast<size_t>(a)]) / Wt,
                    (F[static_cast<size_t>(b)] - F[static_cast<size_t>(a)]) / Ft);
  }
};

// The smallest achievable largest load L* over `stages` stages whose bounds
// are in `pts`: bisection, each step a greedy furthest-reach feasibility test.
double best_largest_load(const Loads& load, const std::vector<int>& pts, int stages) {
  const size_t P = pts.size();
  // Fewest stages whose loads are all <= cap (greedy furthest reach); large when impossible.
  auto min_stages = [&](double cap) {
    int count = 0;
    size_t at = 0;
    while (at + 1 < P) {
      size_t nxt = at;
      while (nxt + 1 < P && load(pts[at], pts[nxt + 1]) <= cap) ++nxt;
      if (nxt == at) return std::numeric_limits<int>::max();
      at = nxt;
      ++count;
    }
    return count;
  };
  double lo = 0, hi = 1.0 + 1e-9;
  for (int it = 0; it < 60; ++it) {
    const double mid = 0.5 * (lo + hi);
    if (min_stages(mid) <= stages) hi = mid;
    else lo = mid;
  }
  return hi;
}

struct Solution {
  std::vector<int> ends;  // stage end positions (empty: no split meets the bounds)
  double cost = 0;        // crossing cost (infinity when none)
};

// The split into `stages` stages with every load in [floor, cap] whose cuts
// cross least. dp[k][j] = least crossing cost of k stages covering [0, pts[j])
// with every load in [floor, cap]. For a fixed j the stages [pts[i], pts[j])
// allowed form a window lo(j) <= i <= hi(j), both ends moving forward with j
// (loads grow with the stage): a sliding-window minimum over dp[k-1], so
// O(stages x points).
Solution least_crossing(const Loads& load, const std::vector<int>& pts, const std::vector<double>& cross,
                        int stages, double cap, double floor) {
  const double inf = std::numeric_limits<double>::infinity();
  const size_t P = pts.size();
  std::vector<std::vector<double>> dp(static_cast<size_t>(stages) + 1, std::vector<double>(P, inf));
  std::vector<std::vector<int>> from(static_cast<size_t>(stages) + 1, std::vector<int>(P, -1));
  dp[0][0] = 0;
  for (size_t k = 1; k <= static_cast<size_t>(stages); ++k) {
    std::deque<size_t> win;  // admitted i, increasing dp[k-1][i]
    size_t lo_i = 0, next_i = 0;
    for (size_t j = 1; j < P; ++j) {
      while (next_i < j && load(pts[next_i], pts[j]) >= floor) {  // admit i = next_i
        if (dp[k - 1][next_i] < inf) {
          while (!win.empty() && dp[k - 1][win.back()] >= dp[k - 1][next_i]) win.pop_back();
          win.push_back(next_i);
        }
        ++next_i;
      }
      while (lo_i < j && load(pts[lo_i], pts[j]) > cap) ++lo_i;
      while (!win.empty() && win.front() < lo_i) win.pop_front();
      if (win.empty()) continue;
      const size_t i = win.front();
      const double c = (j + 1 < P) ? cross[static_cast<size_t>(pts[j])] : 0.0;
      dp[k][j] = dp[k - 1][i] + c;
      from[k][j] = static_cast<int>(i);
    }
  }
  Solution sol;
  sol.cost = dp[static_cast<size_t>(stages)][P - 1];
  if (sol.cost == inf) return sol;
  size_t j = P - 1;
  for (size_t k = static_cast<size_t>(stages); k > 0; --k) {
    sol.ends.push_back(pts[j]);
    j = static_cast<size_t>(from[k][j]);
  }
  std::reverse(sol.ends.begin(), sol.ends.end());
  return sol;
}

}  // namespace

std::vector<int> choose_cuts(const Analysis& A, const CutPositions& cuts, int stages, const std::string& where) {
  const std::vector<int>& valid = cuts.valid;
  if (static_cast<int>(valid.size()) < stages - 1)
    throw ModelError(where + "cannot be cut into " + std::to_string(stages) + " pipeline stages: it has " +
                     std::to_string(valid.size()) + " place" + (valid.size() == 1 ? "" : "s") +
                     " where only batch-first values cross (at most " + std::to_string(valid.size() + 1) +
                     " stage" + (valid.size() == 0 ? "" : "s") + "; runtime.pipeline_stages)");

  const Loads load(A);
  // Points: 0, the valid cuts, N.
  std::vector<int> pts;
  pts.push_back(0);
  pts.insert(pts.end(), valid.begin(), valid.end());
  pts.push_back(static_cast<int>(A.N));
  const double best = best_largest_load(load, pts, stages);

  // Near-balanced first (largest load within 1.1x the best), then no stage
  // below half (a quarter, any) of an even share.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<int> chosen;
  double chosen_slack = 0, chosen_cost = inf, chosen_share = 0;
  for (double slack = kBalanceSlack; chosen.empty(); slack += 0.1) {
    double solved_cost = inf;  // crossing cost of the last least_crossing() result
    for (double share : {0.5, 0.25, 0.0}) {
      Solution sol = least_crossing(load, pts, cuts.cross, stages, best * slack + 1e-12, share / stages);
      chosen = std::move(sol.ends);
      solved_cost = sol.cost;
      chosen_share = share;
      if (!chosen.empty()) break;
    }
    chosen_slack = slack;
    chosen_cost = solved_cost;
    if (chosen.empty() && slack > 100) throw ModelError(where + "internal error: no pipeline split found");
  }
  // Ties: the most balanced split that crosses no more (a tighter cap, the same
  // smallest stage, when it costs nothing).
  for (double tighter : {1.0, 1.02, 1.05}) {
    if (tighter >= chosen_slack) break;
    Solution sol = least_crossing(load, pts, cuts.cross, stages, best * tighter + 1e-12, chosen_share / stages);
    if (!sol.ends.empty() && sol.cost <= chosen_cost * (1 + 1e-9)) {
      chosen = std::move(sol.ends);
      break;
    }
  }
  return chosen;
}

}  // namespace mgi::stage_split
