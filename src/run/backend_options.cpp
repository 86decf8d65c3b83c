#include "backend_options.hpp"

namespace mgi {

BackendOptions backend_options(const Config& cfg) {
  BackendOptions bo;
  bo.precision = parse_precision(cfg.runtime.precision);
  bo.cuda_graphs = cfg.runtime.cuda_graphs;
  bo.memory_limit = cfg.runtime.memory_limit;
  return bo;
}

}  // namespace mgi
