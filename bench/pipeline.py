#!/usr/bin/env python3
"""Pipeline stages (runtime.pipeline_stages): throughput of a deep MLP whose
weights exceed a per-rank memory cap (runtime.memory_limit, so that a CPU rank
stands in for a small GPU), split in K = 2 and 4 stages under the cap, against
one rank holding the whole model without the cap (K = 1) and against the
ideal (K x the one-rank rate, bounded by the cores the ranks share).

Every rank runs one CPU thread (runtime.threads=1): a rank is one "device".
For each configuration it runs

    mpirun -np K <build>/mgi-mpi cfg.yaml --report r.json --set runtime.pipeline_stages=K ...

`--repeat` times and keeps the fastest (rows / report totals.run_s: the
longest rank's run phase, so start-up is not counted) with the bubble from
the report. With the cap at K = 1 it records what the dry run says. Usage:

    .venv/bin/python bench/pipeline.py --build build [--layers 16 --hidden 1024 --rows 6000]
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "mpi"))
from make_deep_inputs import deep_mlp  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402


def mpi_env():
    env = dict(os.environ)
    if os.getuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.update(OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_MCA_btl_vader_single_copy_mechanism="none",
               OMPI_MCA_pml=env.get("OMPI_MCA_pml", "ob1"), OMPI_MCA_btl=env.get("OMPI_MCA_btl", "self,vader"),
               OPENBLAS_NUM_THREADS="1")
    return env


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--rows", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--cap", default="40MiB", help="runtime.memory_limit for the capped runs")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--stages", default="2,4")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args()
    tool = str(Path(args.build).resolve() / "mgi-mpi")
    env = mpi_env()
    work = Path(tempfile.mkdtemp(prefix="mgi-pipeline-bench-"))
    rng = np.random.default_rng(1)
    onnx.save(deep_mlp(rng, args.layers, args.hidden, args.hidden, 10), str(work / "deep.onnx"))
    with h5py.File(work / "deep.h5", "w") as f:
        f.create_dataset("x", data=rng.standard_normal((args.rows, args.hidden)).astype(np.float32))
    weights = args.layers * (args.hidden * args.hidden + args.hidden) * 4 + args.hidden * 10 * 4
    (work / "cfg.yaml").write_text(f"""input: {{file: {work}/deep.h5, dataset: /x}}
output: {{file: {work}/out.h5, dataset: {{y: /y, hidden: /hidden}}}}
model: {{file: {work}/deep.onnx}}
runtime: {{device: cpu, batch_size: {args.batch}, threads: 1}}
mode: static
""")

    def run(np_, k, cap, dry=False):
        cmd = ["mpiexec", "-n", str(np_), tool, str(work / "cfg.yaml"), "--overwrite", "--fresh",
               "--report", str(work / "r.json"), "--set", f"runtime.pipeline_stages={k}"]
        if cap:
            cmd += ["--set", f"runtime.memory_limit={cap}"]
        if dry:
            cmd.append("--dry-run")
        return subprocess.run(cmd, env=env, capture_output=True, text=True)

    results = []
    configs = [(1, 1, None)] + [(k, k, args.cap) for k in map(int, args.stages.split(","))]
    cores = os.cpu_count() or 1
    for np_, k, cap in configs:
        best = None
        for _ in range(args.repeat):
            p = run(np_, k, cap)
            if p.returncode != 0:
                print(p.stdout[-2000:], p.stderr[-2000:], file=sys.stderr)
                raise SystemExit(f"np {np_} K {k}: exit {p.returncode}")
            rep = json.loads((work / "r.json").read_text())
            rate = rep["totals"]["rows"] / rep["totals"]["run_s"]
            bubble = rep.get("pipeline", {}).get("bubble")
            if best is None or rate > best["rows_per_s"]:
                best = {"np": np_, "stages": k, "cap": cap, "rows_per_s": rate, "bubble": bubble,
                        "run_s": rep["totals"]["run_s"]}
        results.append(best)
        print(f"np {np_} K {k} cap {cap or '-'}: {best['rows_per_s']:.0f} rows/s"
              + (f", bubble {100 * best['bubble']:.1f}%" if best["bubble"] is not None else ""), flush=True)
    capped_k1 = run(1, 1, args.cap, dry=True)
    refusal = (capped_k1.stderr.strip().splitlines() or [""])[0] if capped_k1.returncode else capped_k1.stdout
    print(f"K 1 under the cap (dry run): exit {capped_k1.returncode}: {refusal[:300]}")
    base = results[0]["rows_per_s"]
    print()
    print(f"machine: {platform.node()} {platform.processor() or platform.machine()}, {cores} cores; "
          f"model {args.layers} x {args.hidden} (weights {weights / 2**20:.1f} MiB), {args.rows} rows, "
          f"batch {args.batch}, cap {args.cap}")
    print("| K | ranks | memory_limit | weights per rank | rows/s | vs K = 1 | ideal rows/s | of ideal | bubble |")
    print("|--:|--:|---|--:|--:|--:|--:|--:|--:|")
    for r in results:
        ideal = base * min(r["stages"], cores)
        print(f"| {r['stages']} | {r['np']} | {r['cap'] or 'none'} | {weights / r['stages'] / 2**20:.0f} MiB | "
              f"{r['rows_per_s']:.0f} | {r['rows_per_s'] / base:.2f}x | {ideal:.0f} | {r['rows_per_s'] / ideal:.0%} | "
              + (f"{100 * r['bubble']:.1f}%" if r["bubble"] is not None else "-") + " |")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "k1_capped": refusal, "weights": weights}, indent=2))


if __name__ == "__main__":
    main()
