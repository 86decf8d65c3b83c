// What the command line asked for, parsed by app/cli.cpp (CLI11) and read by the
// run (mpi/job.cpp), so the MPI layer does not depend on the application layer.
#pragma once
#include <string>
#include <vector>

namespace mgi {

struct CliOptions {
  std::string config_path;
  std::string inspect_path;  // `mgi-mpi inspect FILE`: describe a model or HDF5 file, no MPI
  std::vector<std::string> overrides;  // --set key=value
  bool dry_run = false;
  bool overwrite = false;
  bool fresh = false;       // discard a journal instead of resuming from it
  double progress_seconds = 30;  // plain progress lines off a terminal; 0 = none
  std::string report_path;
  std::string trace_path;   // --trace FILE: Chrome trace-event timeline  // --report FILE: JSON summary written by rank 0
};

}  // namespace mgi
