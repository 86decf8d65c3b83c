#!/usr/bin/env python3
"""Read-ahead on the CPU backend: rows/s of the same job with the reader thread
(default) and without it (MGI_READAHEAD=0: read, then compute, one batch at a
time), side by side in one run, on read-heavy inputs.

Models: `mlp` (256 -> 64 -> ReLU -> 10 on the CPU backend, one thread) and
`sleep` (the test op mgi.test.Work sleeps --sleep-ns per row, then a 256 -> 10
Gemm: compute that takes no CPU time, like a GPU's). Inputs: a large HDF5
dataset of plain float64 (HDF5 converts to float32) read from the page cache
("warm") or from disk ("cold": this file's pages are dropped from the page
cache before each run with posix_fadvise), and gzip-compressed float32 from
the page cache (HDF5 inflates every chunk).

    cmake --build build --target mgi-mpi
    .venv/bin/python bench/readahead.py --build build [--rows 1000000] [--repeat 5] [--ranks 1,2]

Each configuration runs `--repeat` times, alternating with and without
read-ahead; the table shows the median of rows / report totals.run_s (the run
phase: after the plan and prepare()), with each rank's read (time the compute
thread waited for input) and compute seconds. Writes every run to
readahead.json in the work folder (--tmp; or --json).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mlp_model import mlp


def sleep_model(path, d_in, d_out, ns_per_row, seed=1):
    """Device-like compute: mgi.test.Work sleeps ns_per_row per row (column 0 of the input is 1),
    then a small Gemm keeps the output at d_out floats per row."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((d_out, d_in)).astype(np.float32) / np.sqrt(d_in)
    nodes = [helper.make_node("Work", ["x"], ["t"], domain="mgi.test", ns_per_unit=int(ns_per_row)),
             helper.make_node("Gemm", ["t", "w", "b"], ["y"], transB=1)]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.zeros(d_out, np.float32), "b")]
    graph = helper.make_graph(nodes, "sleep", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", d_in])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", d_out])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("mgi.test", 1)])
    model.ir_version = 8
    onnx.save(model, str(path))


def make_inputs(path, rows, d_in, seed=2):
    """/f64: float64, contiguous; /gz: float32 in 4096-row gzip chunks (values in steps of 1/16, so it compresses)."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        f64 = f.create_dataset("f64", (rows, d_in), np.float64)
        gz = f.create_dataset("gz", (rows, d_in), np.float32, chunks=(4096, d_in), compression="gzip",
                              compression_opts=4, shuffle=True)
        step = 65536
        for a in range(0, rows, step):
            b = min(rows, a + step)
            x = np.round(rng.standard_normal((b - a, d_in)) * 16) / 16
            x[:, 0] = 1  # one unit of work per row for the sleep model
            f64[a:b] = x
            gz[a:b] = x.astype(np.float32)


def drop_from_page_cache(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def run(args, cfg, dataset, ranks, readahead, cold=False):
    """One mgi-mpi run; rows/s over the report's run phase."""
    if cold:
        drop_from_page_cache(args.data)
    rep = Path(args.tmp) / "report.json"
    env = dict(os.environ, MGI_READAHEAD="1" if readahead else "0", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    cmd = [args.mpirun, "-x", "MGI_READAHEAD", "-x", "OPENBLAS_NUM_THREADS", "-x", "OMP_NUM_THREADS",
           "-n", str(ranks), str(Path(args.build) / "mgi-mpi"), str(cfg), "--overwrite", "--fresh",
           "--set", f"input.dataset=/{dataset}", "--report", str(rep)]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    r = json.loads(rep.read_text())
    t = r["totals"]
    return {"rows": t["rows"], "run_s": t["run_s"], "rows_per_s": t["rows"] / t["run_s"],
            "read_s": [x["read_s"] for x in r["ranks"]], "compute_s": [x["compute_s"] for x in r["ranks"]],
            "batch": r["plan"]["batch_size"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--d-in", type=int, default=256)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--batch", default="4096")
    ap.add_argument("--ranks", default="1")
    ap.add_argument("--cases", default="f64-warm,f64-cold,gz-warm", help="dataset-cache pairs")
    ap.add_argument("--models", default="mlp,sleep", help="mlp: CPU compute; sleep: device-like (mgi.test.Work)")
    ap.add_argument("--sleep-ns", type=int, default=1000, help="sleep model: ns per row")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--mpirun", default=os.environ.get("MPIEXEC", "mpiexec"))
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--json", default=None, help="default: readahead.json in --tmp")
    args = ap.parse_args()
    args.tmp = args.tmp or tempfile.mkdtemp(prefix="mgi-readahead-")
    args.json = args.json or str(Path(args.tmp) / "readahead.json")
    tmp = Path(args.tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    model, data, out = tmp / "mlp.onnx", tmp / "in.h5", tmp / "out.h5"
    mlp(model, args.d_in, args.hidden, 10)
    sleep_model(tmp / "sleep.onnx", args.d_in, 10, args.sleep_ns)
    if not data.exists():
        t0 = time.time()
        make_inputs(data, args.rows, args.d_in)
        print(f"inputs: {data} ({data.stat().st_size / 2**30:.2f} GiB) in {time.time() - t0:.0f} s", flush=True)
    cfgs = {}
    for name, path in (("mlp", model), ("sleep", tmp / "sleep.onnx")):
        cfgs[name] = tmp / f"job-{name}.yaml"
        cfgs[name].write_text(f"input: {{file: {data}, dataset: /f64}}\noutput: {{file: {out}, dataset: /y}}\n"
                              f"model: {{file: {path}}}\n"
                              f"runtime: {{device: cpu, threads: 1, batch_size: {args.batch}}}\nmode: static\n")
    args.data = str(data)
    results = []
    print(f"{'model':5} {'input':9} {'ranks':>5} {'read-ahead':>10} {'rows/s':>10} {'run s':>7} "
          f"{'read s (rank 0)':>16} {'compute s (rank 0)':>19}  runs", flush=True)
    for compute, case in [(c, k) for c in args.models.split(",") for k in args.cases.split(",")]:
        cfg = cfgs[compute]
        ds, cache = case.split("-")
        cold = cache == "cold"
        if not cold:  # warm the page cache
            with h5py.File(data) as f:
                f[ds][:]
        for ranks in [int(x) for x in args.ranks.split(",")]:
            runs = {False: [], True: []}
            for _ in range(args.repeat):
                for ra in (False, True):
                    runs[ra].append(run(args, cfg, ds, ranks, ra, cold))
            med = {}
            for ra in (False, True):
                rs = runs[ra]
                m = statistics.median(r["rows_per_s"] for r in rs)
                pick = min(rs, key=lambda r: abs(r["rows_per_s"] - m))
                med[ra] = m
                print(f"{compute:5} {case:9} {ranks:5d} {'on' if ra else 'off':>10} {m:10.0f} {pick['run_s']:7.2f} "
                      f"{pick['read_s'][0]:16.2f} {pick['compute_s'][0]:19.2f}  "
                      + ", ".join("%.0f" % r["rows_per_s"] for r in rs), flush=True)
                results.append({"model": compute, "input": ds, "cache": cache, "ranks": ranks, "readahead": ra,
                                "median_rows_per_s": m, "runs": rs})
            print(f"{'':5} {'':9} {'':5} {'speed-up':>10} {med[True] / med[False]:10.2f}", flush=True)
    meta = {"date": time.strftime("%Y-%m-%d"), "host": platform.node(), "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "rows": args.rows, "d_in": args.d_in, "hidden": args.hidden, "batch": args.batch,
            "sleep_ns_per_row": args.sleep_ns,
            "file_bytes": data.stat().st_size}
    Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    sys.exit(main())
