#!/usr/bin/env python3
"""Checks mgi-mpi's output for a ragged input against onnxruntime run on each
row alone, unpadded (mask all ones, in the mask input's type):
  check_ragged.py --model M.onnx --input data.h5 --values /values --offsets /offsets \\
                  --output out.h5 --map logits=/logits [--mask mask] [--rtol 1e-5]
  check_ragged.py ... --vlen /tokens [--fill token_type_ids=1]   (variable-length rows; constant inputs)
Each model input is fed in its own type (token ids as int64, a mask as the model declares
it); --fill names a further [batch, seq] input fed a constant (as input.fill does).
The error measure per output is max|out - ref| / max(max|ref|, 1e-6) over all rows.
Exit status: 0 within tolerance, 1 mismatch, 2 usage or file error."""
import argparse
import sys

import h5py
import numpy as np


# onnxruntime's input type names -> numpy (as in check_outputs.py).
ORT_TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
             "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_,
             "tensor(float16)": np.float16, "tensor(double)": np.float64}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--values", default="/values")
    ap.add_argument("--offsets", default="/offsets")
    ap.add_argument("--output", required=True)
    ap.add_argument("--map", action="append", required=True, help="onnx_output=/dataset")
    ap.add_argument("--mask", default=None, help="model input that takes the mask")
    ap.add_argument("--vlen", default=None, help="variable-length dataset holding the rows (instead of values + offsets)")
    ap.add_argument("--fill", action="append", default=[], help="INPUT=VALUE: a model input filled with a constant")
    ap.add_argument("--rtol", type=float, default=1e-5)
    args = ap.parse_args()
    import onnxruntime as ort
    sess = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    types = ORT_TYPES
    fills = dict(f.split("=", 1) for f in args.fill)
    model_inputs = {i.name: types.get(i.type, np.float32) for i in sess.get_inputs()}
    data_name = [n for n in model_inputs if n != args.mask and n not in fills][0]
    maps = [m.split("=", 1) for m in args.map]
    with h5py.File(args.input, "r") as f:
        if args.vlen:
            rows = list(f[args.vlen][...])
            offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
            values = np.concatenate(rows) if rows else np.zeros((0,))
        else:
            values = f[args.values][...]
            offsets = f[args.offsets][...].astype(np.int64)
    values = values.astype(model_inputs[data_name])
    with h5py.File(args.output, "r") as f:
        outs = {n: f[d][...] for n, d in maps}
    n = len(offsets) - 1
    worst = {name: 0.0 for name, _ in maps}
    scale = {name: 1e-6 for name, _ in maps}
    for i in range(n):
        x = values[offsets[i]:offsets[i + 1]][None]
        feed = {data_name: x}
        if args.mask:
            feed[args.mask] = np.ones(x.shape[:2], model_inputs[args.mask])
        for name, value in fills.items():
            feed[name] = np.full(x.shape[:2], float(value)).astype(model_inputs[name])
        ref = sess.run([name for name, _ in maps], feed)
        for (name, _), r in zip(maps, ref):
            worst[name] = max(worst[name], float(np.max(np.abs(outs[name][i] - r[0]))))
            scale[name] = max(scale[name], float(np.max(np.abs(r))))
    status = 0
    for name, dset in maps:
        err = worst[name] / scale[name]
        ok = err <= args.rtol
        status |= not ok
        print(f"{'ok' if ok else 'FAIL'}: {name} -> {dset}: {n} rows, each run alone; "
              f"max relative error {err:.3g} (rtol {args.rtol:g})")
    sys.exit(status)


if __name__ == "__main__":
    main()
