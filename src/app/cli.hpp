// Command line (CLI11). MPI is not initialised yet when this runs.
#pragma once
#include <string>
#include <vector>

#include "cli_options.hpp"

namespace mgi {

// Fills `opts`. Returns -1 to go on, or the exit code to stop with (0 after
// --help/--version, 2 after a usage error, printed on one line).
int parse_cli(int argc, char** argv, CliOptions& opts);

// Rank as seen in the launcher's environment before MPI_Init (0 if unknown),
// so a usage error is printed once, not once per rank.
int launcher_rank();

}  // namespace mgi
