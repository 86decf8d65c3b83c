// mgi-accuracy: top-1 accuracy of predictions [N, classes] against integer
// labels [N], both in HDF5. Used by the demo; handy for any classifier run.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <vector>

#include "dataset_reader.hpp"
#include "error.hpp"

namespace {
std::pair<std::string, std::string> split_ref(const std::string& ref, const char* what) {
  auto colon = ref.rfind(':');
  if (colon == std::string::npos || colon + 1 >= ref.size() || ref[colon + 1] != '/')
    throw mgi::ConfigError(std::string(what) + " '" + ref + "': expected FILE:/dataset");
  return {ref.substr(0, colon), ref.substr(colon + 1)};
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Top-1 accuracy of predictions against labels", "mgi-accuracy"};
  std::string pred_ref, label_ref;
  app.add_option("--pred", pred_ref, "predictions FILE:/dataset, [N, classes]")->required();
  app.add_option("--labels", label_ref, "labels FILE:/dataset, [N] integers")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    auto [pf, pd] = split_ref(pred_ref, "--pred");
    auto [lf, ld] = split_ref(label_ref, "--labels");
    mgi::DatasetReader pred(pf, pd), labels(lf, ld);
    if (pred.shape().size() != 2 || labels.shape().size() != 1 || pred.rows() != labels.rows())
      throw mgi::DataError("predictions " + mgi::shape_str(pred.shape()) + " and labels " +
                           mgi::shape_str(labels.shape()) + " do not match ([N, classes] and [N])");
    const int64_t n = pred.rows(), c = pred.shape()[1];
    std::vector<float> p(static_cast<size_t>(n * c));
    std::vector<int64_t> l(static_cast<size_t>(n));  // labels as integers, whatever their stored type
    pred.read_rows(0, n, p.data());
    labels.read_rows(0, n, mgi::DType::i64, l.data());
    int64_t right = 0;
    for (int64_t i = 0; i < n; ++i) {
      int64_t best = 0;
      for (int64_t j = 1; j < c; ++j)
        if (p[i * c + j] > p[i * c + best]) best = j;
      right += best == l[i];
    }
    std::printf("accuracy: %.2f%% (%lld of %lld rows, %s against %s)\n", n ? 100.0 * right / n : 0.0,
                static_cast<long long>(right), static_cast<long long>(n), pred_ref.c_str(), label_ref.c_str());
    return 0;
  } catch (const mgi::Error& e) {
    std::fprintf(stderr, "mgi-accuracy: error: %s\n", e.what());
    return e.exit_code();
  }
}
