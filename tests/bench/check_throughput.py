#!/usr/bin/env python3
"""Smoke test of bench/throughput.py (ctest bench_throughput_smoke, label bench): a
--quick run on the MLP and a small ragged set, then checks that the JSON has every
section, that every mgi-mpi row carries its stage bounds and efficiency, that the
targets block covers the four targets, and that the outputs agree (mgi-mpi vs
onnxruntime within 1e-5 of max|y|, ragged static and dynamic bitwise equal).
Numbers are not judged: this is a check that the benchmark runs and is complete.

    check_throughput.py --build BUILD [--python PY]
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", type=Path, required=True)
    ap.add_argument("--python", default=sys.executable)
    a = ap.parse_args()
    out = a.build / "bench" / "throughput-smoke.json"
    cmd = [a.python, str(REPO / "bench" / "throughput.py"), "--build", str(a.build), "--quick", "--models", "mlp",
           "--mlp-rows", "4096", "--ragged-rows", "1000", "--out", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    print(p.stdout[-6000:], p.stderr[-3000:], sep="\n")
    if p.returncode != 0:
        sys.exit(f"FAIL: throughput.py exited {p.returncode}")
    r = json.loads(out.read_text())
    errors = []

    def check(cond, what):
        if not cond:
            errors.append(what)

    for key in ("cpu", "cpu_stages", "ragged_cpu", "gemm_cpu", "gpu", "targets"):
        check(key in r, f"section '{key}' missing")
    cpu = r.get("cpu") or []
    check({row["tool"] for row in cpu} == {"mgi-mpi", "onnxruntime", "numpy"}, "cpu: tools")
    ragged = (r.get("ragged_cpu") or {}).get("throughput") or []
    check({row["tool"] for row in ragged} == {"mgi-mpi static", "mgi-mpi dynamic", "ort padded"}, "ragged: tools")
    for row in cpu + ragged:
        if row["tool"].startswith("mgi-mpi"):
            s = row.get("stages") or {}
            check(s.get("slowest_rows_s", 0) > 0 and s.get("efficiency", 0) > 0 and s.get("read_rows_s", 0) > 0
                  and s.get("compute_rows_s", 0) > 0, f"{row['model']} {row['tool']}: stage bounds")
        check(row["e2e_rows_s"] > 0, f"{row['model']} {row['tool']}: e2e rate")
    for row in cpu:
        if row["tool"] == "mgi-mpi":
            check(row["max_rel_diff_vs_onnxruntime"] <= 1e-5, f"mlp: mgi-mpi vs onnxruntime "
                  f"{row['max_rel_diff_vs_onnxruntime']:.1e}")
    if ragged:
        check(ragged[0]["max_rel_diff_vs_onnxruntime"] <= 1e-5, "ragged: static vs onnxruntime")
        check(ragged[0]["max_rel_diff_static_dynamic"] == 0, "ragged: static vs dynamic not bitwise equal")
    check(r.get("gemm_cpu"), "gemm_cpu empty")
    gpu = r.get("gpu") or {}
    check("skipped" in gpu or all(k in gpu for k in ("throughput", "stages", "gemm")),
          "gpu: neither skipped nor complete")
    names = {t["target"] for t in r.get("targets", [])}
    check(len(names) == 4, f"targets: expected 4 kinds, got {sorted(names)}")
    check(all(t["met"] in (True, False, None) and t["numbers"] for t in r.get("targets", [])), "targets: fields")
    check("Targets (benchmark goals, not tests)" in p.stdout, "targets block not printed")
    if errors:
        sys.exit("FAIL:\n  " + "\n  ".join(errors))
    print("bench smoke: ok")


if __name__ == "__main__":
    main()
