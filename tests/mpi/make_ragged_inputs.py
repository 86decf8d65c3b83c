#!/usr/bin/env python3
"""Inputs for the ragged MPI tests: the masked-mean-pooling model of
tools/make_ragged_example.py, fresh random variable-length rows (some longer
than 256 positions, past BLAS's K blocking), a config, and broken offsets.
Seed from time unless --seed; it is printed so a failure can be replayed."""
import argparse
import os
import sys
import time

import h5py
import numpy as np
import onnx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from make_ragged_example import make_data, make_lengths, make_model, write_data  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else time.time_ns() % (2**32)
    print(f"make_ragged_inputs: seed {seed}")
    rng = np.random.default_rng(seed)
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(os.path.join(args.out, "..", "out"), exist_ok=True)
    onnx.save(make_model(rng), os.path.join(args.out, "ragged.onnx"))
    lengths = make_lengths(rng, 300, 300)
    lengths[rng.choice(len(lengths), 3, replace=False)] = [300, 257, 1]
    values, offsets = make_data(rng, lengths)
    write_data(os.path.join(args.out, "ragged.h5"), values, offsets)
    with open(os.path.join(args.out, "ragged.yaml"), "w") as f:
        f.write(f"""input:
  file: {args.out}/ragged.h5
  dataset: /values
  offsets: /offsets
  mask: mask
output:
  file: {args.out}/../out/ragged.h5
  dataset: /logits
model:
  file: {args.out}/ragged.onnx
runtime:
  device: cpu
  batch_size: 16
mode: static
""")
    # Broken offsets, one fault each (values stay valid: 10 rows of 8-dim tokens).
    good = np.array([0, 2, 5, 5, 9, 12, 13, 20, 21, 25, 30], np.int64)
    vals = rng.standard_normal((30, 8)).astype(np.float32)
    bad = {
        "first": np.concatenate([[1], good[1:]]),
        "negative": np.where(np.arange(11) == 4, -3, good),
        "decrease": np.where(np.arange(11) == 6, 11, good),
        "last": np.concatenate([good[:-1], [29]]),
        "float": good.astype(np.float64),
        "2d": good[:10].reshape(2, 5),
    }
    for name, off in bad.items():
        with h5py.File(os.path.join(args.out, f"bad_offsets_{name}.h5"), "w") as f:
            f.create_dataset("values", data=vals)
            f.create_dataset("offsets", data=off)


if __name__ == "__main__":
    main()
