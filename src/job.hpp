// The run itself. Declared here, implemented in mpi/job.cpp, so main() stays in
// the core without including mpi.h.
#pragma once
#include "cli.hpp"

namespace mgi {
// Initialises MPI, runs the job, finalises; returns the process exit code.
int run_job(const CliOptions& opts);
}  // namespace mgi
