#!/usr/bin/env python3
"""Smoke test of bench/models.py (ctest bench_models_smoke, label bench): a --quick run
(T = 1, one run, a few sentences and images), then checks that the JSON has every model
with its tools (mgi-mpi, onnxruntime, torch+h5py; MiniLM also ort sorted), positive rates, the targets, and
that mgi-mpi's outputs agree with onnxruntime's (1e-4 of max|y|) and PyTorch's (1e-3).
Numbers are not judged. Exits 77 (ctest: SKIPPED) when a piece the benchmark needs is
missing (the MiniLM export in models/minilm, the torch venv .venv-torch), as models.py says.

    check_models.py --build BUILD [--python PY]
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SKIP = 77


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", type=Path, required=True)
    ap.add_argument("--python", default=sys.executable)
    a = ap.parse_args()
    out = a.build / "bench" / "models-smoke.json"
    out.unlink(missing_ok=True)
    cmd = [a.python, str(REPO / "bench" / "models.py"), "--build", str(a.build), "--quick", "--out", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    print(p.stdout[-6000:], p.stderr[-3000:], sep="\n")
    if p.returncode == SKIP:
        return SKIP
    if p.returncode != 0:
        sys.exit(f"FAIL: models.py exited {p.returncode}")
    r = json.loads(out.read_text())
    errors = []

    def check(cond, what):
        if not cond:
            errors.append(what)

    table = r.get("table") or []
    for m in ("minilm", "resnet50"):
        check(m in r, f"model {m} missing")
        rows = [row for row in table if row["model"] == m]
        want = {"mgi-mpi", "onnxruntime", "torch+h5py"} | ({"ort sorted"} if m == "minilm" else set())
        check({row["tool"] for row in rows} == want, f"{m}: tools")
        for row in rows:
            check(row["e2e_rows_s"] > 0 and row["compute_rows_s"] > 0, f"{m} {row['tool']}: rates")
            check(row["rows"] == r[m]["rows"] if m in r else False, f"{m} {row['tool']}: row count")
    checks = r.get("checks") or []
    check(len(checks) == 2, f"checks: expected 2, got {len(checks)}")
    for c in checks:
        check(c["vs_onnxruntime"] <= 1e-4, f"{c['model']}: mgi-mpi vs onnxruntime {c['vs_onnxruntime']:.1e}")
        check(c["vs_torch"] <= 1e-3, f"{c['model']}: mgi-mpi vs PyTorch {c['vs_torch']:.1e}")
    targets = r.get("targets") or []
    check({t["model"] for t in targets} == {"minilm", "resnet50"}, "targets: models")
    check(all(t["met"] in (True, False) and t["ratio"] > 0 for t in targets), "targets: fields")
    check("Targets (benchmark goals, not tests" in p.stdout, "targets block not printed")
    if errors:
        sys.exit("FAIL:\n  " + "\n  ".join(errors))
    print("bench models smoke: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
