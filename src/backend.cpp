#include "backend.hpp"

#include "error.hpp"

namespace mgi {

void Backend::run_shaped(const std::vector<Shape>&, const std::vector<const float*>&, const std::vector<float*>&) {
  throw RuntimeError(describe() + ": ragged inputs are CPU-only in this version (set runtime.device: cpu)");
}

}  // namespace mgi
