#include "cli.hpp"
#include "inspect.hpp"
#include "job.hpp"
#include "signals.hpp"

int main(int argc, char** argv) {
  // First thing: a SIGTERM from the scheduler during start-up must not kill
  // the rank before it can answer with exit 75.
  mgi::install_signal_handlers();
  mgi::CliOptions opts;
  if (int rc = mgi::parse_cli(argc, argv, opts); rc >= 0) return rc;
  if (!opts.inspect_path.empty()) return mgi::inspect_file(opts.inspect_path);
  return mgi::run_job(opts);
}
