#!/usr/bin/env python3
"""Per-rank timeline and utilisation of an mgi-mpi run, as a PNG.

  plot_timeline.py --trace trace.json [--report run.json] --out timeline.png

The trace (`mgi-mpi --trace`) gives one row per rank with its read / compute /
gather / send / wait spans; the report (`mgi-mpi --report`), when given, adds a
bar chart of each rank's time split (read, compute, send/gather, idle) and the
title line (mode, rows, rows/s)."""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"read": "#4c72b0", "compute": "#55a868", "gather": "#c44e52", "send": "#c44e52",
          "wait": "#dddddd", "journal": "#8172b2"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trace", required=True)
    ap.add_argument("--report")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    events = json.load(open(args.trace))["traceEvents"]
    names = {e["pid"]: e["args"]["name"] for e in events if e.get("ph") == "M" and e["name"] == "process_name"}
    spans = [e for e in events if e.get("ph") == "X" and e["name"] != "run"]
    ranks = sorted(names)
    report = json.load(open(args.report)) if args.report else None

    fig, axes = plt.subplots(1, 2 if report else 1, figsize=(12 if report else 9, 1.2 + 0.45 * len(ranks)),
                             gridspec_kw={"width_ratios": [3, 1]} if report else None, squeeze=False)
    ax = axes[0][0]
    for e in spans:
        row = ranks.index(e["pid"]) + (0.22 if e.get("tid", 0) == 1 else 0)
        ax.broken_barh([(e["ts"] / 1e3, max(e["dur"] / 1e3, 0.05))], (row - 0.35, 0.7 if e.get("tid", 0) == 0 else 0.2),
                       color=COLORS.get(e["name"], "#999999"), linewidth=0)
    ax.set_yticks(range(len(ranks)))
    ax.set_yticklabels([names[r] for r in ranks])
    ax.invert_yaxis()
    ax.set_xlabel("time since start of the run phase (ms)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for n, c in COLORS.items() if n != "send"]
    ax.legend(handles, [n for n in COLORS if n != "send"], loc="upper center", ncol=5, fontsize=8,
              bbox_to_anchor=(0.5, -0.18 - 0.02 * len(ranks)), frameon=False)
    ax.set_title("per-rank timeline")

    if report:
        bx = axes[0][1]
        parts = [("read_s", "read"), ("compute_s", "compute"), ("send_s", "gather"), ("idle_s", "wait")]
        for i, r in enumerate(report["ranks"]):
            left = 0.0
            total = max(r["total_s"], 1e-9)
            for key, name in parts:
                share = 100.0 * r[key] / total
                bx.barh(i, share, left=left, color=COLORS[name], height=0.6)
                left += share
        bx.set_yticks(range(len(report["ranks"])))
        bx.set_yticklabels([f"rank {r['rank']}" for r in report["ranks"]])
        bx.invert_yaxis()
        bx.set_xlim(0, 100)
        bx.set_xlabel("% of the rank's run phase")
        bx.set_title("utilisation")
        plan, totals = report["plan"], report["totals"]
        fig.suptitle(f"mgi-mpi {plan['mode']}: {totals['rows']} rows on {plan['ranks']} ranks, "
                     f"{totals['rows_per_s']:.0f} rows/s, compute imbalance {totals['compute_imbalance']:.2f}",
                     fontsize=10)
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
