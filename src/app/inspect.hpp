// `mgi-mpi inspect FILE`: what a model or data file holds, checked with the
// same loaders a run uses, so "inspect says fine" means "a run can read it".
#pragma once
#include <string>

namespace mgi {

// Prints a description to stdout; returns the exit code (errors: one line on stderr).
int inspect_file(const std::string& path);

}  // namespace mgi
