// The run itself, implemented in job.cpp. This header includes no MPI header,
// so main() (src/app) starts it without seeing mpi.h.
#pragma once
#include "cli_options.hpp"

namespace mgi {
// Initialises MPI, runs the job, finalises; returns the process exit code.
int run_job(const CliOptions& opts);
}  // namespace mgi
