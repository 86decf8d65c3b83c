#!/usr/bin/env python3
"""Checks the per-row status flags of an output made with the Sqrt test model:
row i is flagged 1 exactly when input row i has a negative entry (NaN output),
and the nonfinite_rows attribute counts them.
  check_status.py INPUT.h5 OUTPUT.h5 [--status /status]"""
import argparse
import sys

import h5py
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("input")
ap.add_argument("output")
ap.add_argument("--status", default="/status")
a = ap.parse_args()
with h5py.File(a.input) as fi, h5py.File(a.output) as fo:
    x = fi["x"][:]
    want = (x < 0).any(axis=1).astype(np.uint8)
    got = fo[a.status][:]
    count = int(fo.attrs["nonfinite_rows"])
    complete = int(fo.attrs["complete"])
ok = got.dtype == np.uint8 and np.array_equal(got, want) and count == int(want.sum()) and complete == 1
print(f"status flags: {int(got.sum())} flagged, {int(want.sum())} expected, attribute {count}: {'OK' if ok else 'MISMATCH'}")
sys.exit(0 if ok else 1)
