#include "cli.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cuda_module.hpp"
#include "gemm_kernel.hpp"

namespace mgi {

int launcher_rank() {
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"})
    if (const char* s = std::getenv(v)) return std::atoi(s);
  return 0;
}

int parse_cli(int argc, char** argv, CliOptions& opts) {
  CLI::App app{"mgi-mpi " MGI_VERSION
               ": batch inference of an ONNX model over an HDF5 dataset on every GPU of an MPI job",
               "mgi-mpi"};
  app.footer(
      "Examples:\n"
      "  mpirun -np 4 mgi-mpi configs/demo.yaml\n"
      "  mpirun -np 4 mgi-mpi --dry-run configs/demo.yaml\n"
      "  srun mgi-mpi config.yaml --set runtime.batch_size=4096 --set output.file=out/${SLURM_JOB_ID}.h5\n"
      "  mgi-mpi inspect models/digits-mlp.onnx      (inputs, outputs, ops, parameters)\n"
      "  mgi-mpi inspect data/digits.h5              (datasets, shapes, dtypes, chunks)\n"
      "Exit codes: 0 done, 2 usage/config, 3 input/output data, 4 model, 5 device/runtime, 75 interrupted.");
  CLI::App* inspect = app.add_subcommand("inspect", "describe an ONNX model or an HDF5 file and exit");
  inspect->add_option("file", opts.inspect_path, "model (.onnx) or HDF5 file")->required();
  app.add_option("config", opts.config_path, "YAML run configuration");
  app.add_option("--set", opts.overrides, "override a config key: --set runtime.device=cpu (repeatable)")
      ->type_name("KEY=VALUE");
  app.add_flag("--dry-run", opts.dry_run, "check config, files, model and devices; print the plan; compute nothing");
  app.add_flag("--overwrite", opts.overwrite, "replace an existing output file");
  app.add_flag("--fresh", opts.fresh, "discard the journal of an earlier run of this output instead of resuming");
  app.add_option("--progress", opts.progress_seconds,
                 "seconds between progress lines when not on a terminal (0 = none); default 30")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--trace", opts.trace_path, "write a per-rank timeline (Chrome trace JSON; open in Perfetto)")
      ->type_name("FILE");
  app.add_option("--report", opts.report_path, "write a JSON report (config, plan, per-rank stats, totals)")
      ->type_name("FILE");
  // The backends this binary can use here, and why one is missing: the CUDA
  // module is opened for this (cuda_module.hpp), as a run with device auto would.
  app.set_version_flag("--version", [] {
    return std::string("mgi-mpi " MGI_VERSION "\nbackends: cpu (") + cpu::gemm_kernel_name() + "); " +
           cuda_status_line();
  });
  try {
    app.parse(argc, argv);
    if (opts.inspect_path.empty() && opts.config_path.empty())
      throw CLI::RequiredError("config (a YAML file), or the inspect subcommand");
  } catch (const CLI::ParseError& e) {
    const bool show = launcher_rank() == 0;
    if (e.get_exit_code() == 0) {  // --help / --version
      if (show) app.exit(e);
      return 0;
    }
    if (show) std::fprintf(stderr, "mgi-mpi: usage error: %s (see mgi-mpi --help)\n", e.what());
    return 2;
  }
  return -1;
}

}  // namespace mgi
