#!/usr/bin/env python3
"""Read-ahead on the CPU backend: rows/s of the same job with the reader thread
(default) and without it (MGI_READAHEAD=0: read, then compute, one batch at a
time), side by side in one run, on read-heavy inputs: a small MLP over a large
HDF5 dataset read from the page cache, plain float64 (HDF5 converts to
float32) and gzip-compressed float32 (HDF5 inflates every chunk).

    cmake --build build --target mgi-mpi
    .venv/bin/python bench/readahead.py --build build [--rows 1000000] [--repeat 5]

Each configuration runs `--repeat` times, alternating with and without
read-ahead; the table shows the median of rows / report totals.run_s (the run
phase: after the plan and prepare()), with each rank's read (time the compute
thread waited for input) and compute seconds. Writes bench/readahead.json
(or --json) with every run.
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

REPO = Path(__file__).resolve().parent.parent


def mlp(path, d_in, hidden, d_out, seed=1):
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((hidden, d_in)).astype(np.float32) / np.sqrt(d_in)
    w2 = rng.standard_normal((d_out, hidden)).astype(np.float32) / np.sqrt(hidden)
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], transB=1)]
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(np.zeros(hidden, np.float32), "b1"),
             numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(np.zeros(d_out, np.float32), "b2")]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", d_in])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", d_out])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
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
            f64[a:b] = x
            gz[a:b] = x.astype(np.float32)


def run(args, cfg, dataset, ranks, readahead):
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
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--mpirun", default=os.environ.get("MPIEXEC", "mpiexec"))
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--json", default=str(REPO / "bench" / "readahead.json"))
    args = ap.parse_args()
    args.tmp = args.tmp or tempfile.mkdtemp(prefix="mgi-readahead-")
    tmp = Path(args.tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    model, data, out = tmp / "mlp.onnx", tmp / "in.h5", tmp / "out.h5"
    mlp(model, args.d_in, args.hidden, 10)
    if not data.exists():
        t0 = time.time()
        make_inputs(data, args.rows, args.d_in)
        print(f"inputs: {data} ({data.stat().st_size / 2**30:.2f} GiB) in {time.time() - t0:.0f} s", flush=True)
    cfg = tmp / "job.yaml"
    cfg.write_text(f"input: {{file: {data}, dataset: /f64}}\noutput: {{file: {out}, dataset: /y}}\n"
                   f"model: {{file: {model}}}\nruntime: {{device: cpu, threads: 1, batch_size: {args.batch}}}\n"
                   "mode: static\n")
    for ds in ("f64", "gz"):  # warm the page cache
        with h5py.File(data) as f:
            f[ds][:]
    results = []
    print(f"{'input':6} {'ranks':>5} {'read-ahead':>10} {'rows/s':>10} {'run s':>7} {'read s (rank 0)':>16} "
          f"{'compute s (rank 0)':>19}  runs", flush=True)
    for ds in ("f64", "gz"):
        for ranks in [int(x) for x in args.ranks.split(",")]:
            runs = {False: [], True: []}
            for _ in range(args.repeat):
                for ra in (False, True):
                    runs[ra].append(run(args, cfg, ds, ranks, ra))
            med = {}
            for ra in (False, True):
                rs = runs[ra]
                m = statistics.median(r["rows_per_s"] for r in rs)
                pick = min(rs, key=lambda r: abs(r["rows_per_s"] - m))
                med[ra] = m
                print(f"{ds:6} {ranks:5d} {'on' if ra else 'off':>10} {m:10.0f} {pick['run_s']:7.2f} "
                      f"{pick['read_s'][0]:16.2f} {pick['compute_s'][0]:19.2f}  "
                      + ", ".join("%.0f" % r["rows_per_s"] for r in rs), flush=True)
                results.append({"input": ds, "ranks": ranks, "readahead": ra, "median_rows_per_s": m, "runs": rs})
            print(f"{'':6} {'':5} {'speed-up':>10} {med[True] / med[False]:10.2f}", flush=True)
    meta = {"date": time.strftime("%Y-%m-%d"), "host": platform.node(), "cpus": os.cpu_count(),
            "rows": args.rows, "d_in": args.d_in, "hidden": args.hidden, "batch": args.batch,
            "file_bytes": data.stat().st_size}
    Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    sys.exit(main())
