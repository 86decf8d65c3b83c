#include "cli.hpp"
#include "job.hpp"

int main(int argc, char** argv) {
  mgi::CliOptions opts;
  if (int rc = mgi::parse_cli(argc, argv, opts); rc >= 0) return rc;
  return mgi::run_job(opts);
}
