// Command line (CLI11). MPI is not initialised yet when this runs.
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

// Fills `opts`. Returns -1 to go on, or the exit code to stop with (0 after
// --help/--version, 2 after a usage error, printed on one line).
int parse_cli(int argc, char** argv, CliOptions& opts);

// Rank as seen in the launcher's environment before MPI_Init (0 if unknown),
// so a usage error is printed once, not once per rank.
int launcher_rank();

}  // namespace mgi
