// The backend settings a config asks for (runtime.precision, runtime.cuda_graphs),
// one place for mgi-mpi and the benchmarks.
#pragma once
#include "backend.hpp"
#include "config.hpp"

namespace mgi {

BackendOptions backend_options(const Config& cfg);

}  // namespace mgi
