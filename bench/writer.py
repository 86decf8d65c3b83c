#!/usr/bin/env python3
"""Output path cost on an I/O-bound model: the rows written in place into the
output file (the default where the output allows it) against the journal that
holds the rows and the file built from it at the end (what any output with
`output.chunk_rows` or compression still uses, forced here by
`--set output.chunk_rows=<auto size>`), and, in place, the two writers: rank 0
writes every row (`output.writer: gather`, the default: MPI_Gatherv, then
pwrite) against every rank writing its own rows (`output.writer: parallel`:
one collective MPI_File_write_at_all per gather window).

Model: 64 -> 32 -> ReLU -> 8 MLP on the CPU backend (one thread per rank),
--rows rows of float32 from the page cache. For each rank count and path, the
median over --repeat runs of: the whole command's wall time, the report's run
phase (run_s), the slowest rank's write time (write_s), rows/s over the whole
command, and bytes written per output byte (the ranks' `wchar` from
/proc/<pid>/io of a shell that waited for them, which holds its reaped
children's counts, over the output file's size), in all and by rank 0 alone
(each rank runs under a shell that records its own `wchar`).

    .venv/bin/python bench/writer.py --build build [--rows 4000000] [--ranks 1,2,4] [--repeat 3]
                                    [--paths journal,in-place,parallel] [--window 256MiB]
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from mlp_model import mlp


def make_inputs(path, rows, d_in=64, seed=2):
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        x = f.create_dataset("x", (rows, d_in), np.float32)
        step = 1 << 18
        for a in range(0, rows, step):
            b = min(rows, a + step)
            x[a:b] = rng.standard_normal((b - a, d_in)).astype(np.float32)


def run(args, cfg, out, ranks, path):
    rep = Path(args.tmp) / "report.json"
    io_dir = Path(args.tmp) / "io"
    io_dir.mkdir(exist_ok=True)
    for f in io_dir.glob("rank.*"):
        f.unlink()
    # Each rank under a shell that records its wchar once the rank is reaped.
    rank_shell = f'"$0" "$@"; rc=$?; grep ^wchar /proc/$$/io > {io_dir}/rank.$OMPI_COMM_WORLD_RANK; exit $rc'
    cmd = [args.mpirun, "-x", "OPENBLAS_NUM_THREADS", "-x", "OMP_NUM_THREADS", "-n", str(ranks),
           "bash", "-c", rank_shell, str(Path(args.build) / "mgi-mpi"), str(cfg), "--overwrite", "--fresh", "--report", str(rep),
           "--set", f"runtime.gather_window_bytes={args.window}"]
    if path == "journal":
        cmd += ["--set", "output.chunk_rows=131072"]  # about 4 MiB chunks of 8 floats: the journal path
    if path == "parallel":
        cmd += ["--set", "output.writer=parallel"]
    shell = " ".join("'" + c.replace("'", "'\\''") + "'" for c in cmd) + " >/dev/null && cat /proc/$$/io"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    t0 = time.perf_counter()
    io = subprocess.run(["bash", "-c", shell], check=True, env=env, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    wchar = int(next(l.split()[1] for l in io.splitlines() if l.startswith("wchar")))
    r = json.loads(rep.read_text())
    t = r["totals"]
    size = os.path.getsize(out)
    rank0 = int((io_dir / "rank.0").read_text().split()[1])
    return {"wall_s": wall, "run_s": t["run_s"], "tool_wall_s": t["wall_s"], "rows_per_s": t["rows"] / wall,
            "write_s": max(x["write_s"] for x in r["ranks"]), "bytes_per_output_byte": wchar / size,
            "rank0_bytes_per_output_byte": rank0 / size}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--rows", type=int, default=4_000_000)
    ap.add_argument("--ranks", default="1,2,4")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--paths", default="journal,in-place,parallel",
                    help="journal (gather, journal + assemble), in-place (gather), parallel (in place, every rank)")
    ap.add_argument("--window", default="256MiB", help="runtime.gather_window_bytes")
    args = ap.parse_args()
    args.tmp = args.tmp or tempfile.mkdtemp(prefix="mgi-writer-")
    tmp = Path(args.tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    data, model, out = tmp / "x.h5", tmp / "mlp.onnx", tmp / "y.h5"
    if not data.exists():
        make_inputs(data, args.rows)
    mlp(model, 64, 32, 8)
    cfg = tmp / "writer.yaml"
    cfg.write_text(f"input: {{file: {data}, dataset: /x}}\noutput: {{file: {out}, dataset: /y}}\n"
                   f"model: {{file: {model}}}\nruntime: {{device: cpu, batch_size: 8192}}\nmode: static\n")
    print(f"{args.rows} rows, 64 -> 32 -> 8 MLP, CPU backend, page cache; median of {args.repeat}")
    print(f"{'ranks':>5} {'path':<9} {'wall s':>7} {'run s':>6} {'write s':>8} {'rows/s':>10} {'bytes/out byte':>15} "
          f"{'rank 0':>7}")
    results = []
    for ranks in [int(x) for x in args.ranks.split(",")]:
        for name in args.paths.split(","):
            runs = [run(args, cfg, out, ranks, name) for _ in range(args.repeat)]
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            results.append(dict(ranks=ranks, path=name, **med))
            print(f"{ranks:>5} {name:<9} {med['wall_s']:7.2f} {med['run_s']:6.2f} {med['write_s']:8.2f} "
                  f"{med['rows_per_s']:10.0f} {med['bytes_per_output_byte']:15.2f} "
                  f"{med['rank0_bytes_per_output_byte']:7.2f}", flush=True)
    (tmp / "writer.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
