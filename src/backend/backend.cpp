#include "backend.hpp"

#include "error.hpp"

namespace mgi {

void Backend::run_shaped(const std::vector<Shape>&, const std::vector<const void*>&, const std::vector<void*>&) {
  throw RuntimeError(describe() + ": this backend cannot run inputs whose shapes change per batch (ragged inputs)");
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::tf32: return "tf32";
    case Precision::bf16: return "bf16";
    case Precision::fp16: return "fp16";
  }
  return "?";
}

double precision_tolerance(Precision p) {
  switch (p) {
    case Precision::fp32: return 1e-5;
    case Precision::tf32: return 5e-3;
    case Precision::fp16: return 2e-3;
    case Precision::bf16: return 1.5e-2;
  }
  return 0;
}

Precision parse_precision(const std::string& name) {
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16, Precision::fp16})
    if (name == precision_name(p)) return p;
  throw ConfigError("runtime.precision: expected one of fp32, tf32, bf16, fp16, got '" + name + "'");
}

}  // namespace mgi
