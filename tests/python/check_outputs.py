#!/usr/bin/env python3
"""Checks output files of mgi-mpi.

Against onnxruntime (CPU), on the whole input converted to each model input's type:
  check_outputs.py --model M.onnx --input data.h5:/x --output out.h5 \\
                   --map probs=/probs [--map logits=/logits ...] [--rtol 1e-5]
  One line per output; the error measure is max|out - ref| / max(max|ref|, 1e-6).
  A model with several inputs takes --input once per input, in ONNX order.

Output files, byte for byte (each file after the first against the first):
  check_outputs.py --bitwise-equal a.h5 b.h5 [c.h5 ...] [--datasets /y,/z]
  Without --datasets every dataset found in either file is compared. Prints the
  first differing row of each dataset.

--expect-complete (either mode): every output file must carry the root
attribute complete = 1 that the tool writes last.

Exit status: 0 all equal/within tolerance, 1 mismatch, 2 usage or file error.
"""
import argparse
import sys

import h5py
import numpy as np

CHUNK_ROWS = 1 << 15  # bounds memory on large files


def fail_usage(msg):
    print(f"check_outputs: {msg}", file=sys.stderr)
    sys.exit(2)


def split_spec(spec):
    """'file.h5:/x' -> ('file.h5', '/x')."""
    path, sep, dset = spec.rpartition(":")
    if not sep or not path or not dset.startswith("/"):
        fail_usage(f"--input {spec!r}: expected FILE:/DATASET")
    return path, dset


def open_dataset(f, name, what):
    if name not in f or not isinstance(f[name], h5py.Dataset):
        fail_usage(f"{what}: no dataset {name} in {f.filename}")
    return f[name]


def row_text(a, limit=10):
    flat = np.asarray(a).reshape(-1)
    body = ", ".join(repr(v.item()) for v in flat[:limit])
    return f"[{body}{', ...' if flat.size > limit else ''}] ({flat.size} values)"


# ---------------------------------------------------------------- onnxruntime check

def run_reference(model, inputs, names, chunk_rows=None):
    chunk_rows = chunk_rows or CHUNK_ROWS
    import onnxruntime as ort
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    model_inputs = sess.get_inputs()
    if len(model_inputs) != len(inputs):
        fail_usage(f"model {model} has {len(model_inputs)} inputs, got {len(inputs)} --input")
    known = [o.name for o in sess.get_outputs()]
    for n in names:
        if n not in known:
            fail_usage(f"model {model} has no output {n!r} (outputs: {', '.join(known)})")
    rows = {d.shape[0] for d in inputs}
    if len(rows) != 1:
        fail_usage(f"inputs have different row counts: {sorted(rows)}")
    n_rows = rows.pop()
    # Rows are reshaped to the model's declared row shape when the sizes agree (e.g. [N,8,8] -> [N,64]).
    row_shapes = []
    for mi, d in zip(model_inputs, inputs):
        declared = mi.shape[1:]
        if all(isinstance(v, int) for v in declared) and int(np.prod(declared)) == int(np.prod(d.shape[1:])):
            row_shapes.append(tuple(declared))
        else:
            row_shapes.append(tuple(d.shape[1:]))
    parts = {n: [] for n in names}
    for start in range(0, max(n_rows, 1), chunk_rows):
        stop = min(start + chunk_rows, n_rows)
        feeds = {mi.name: np.asarray(d[start:stop], dtype=ORT_TYPES.get(mi.type, np.float32)).reshape((stop - start,) + rs)
                 for mi, d, rs in zip(model_inputs, inputs, row_shapes)}
        for n, v in zip(names, sess.run(names, feeds)):
            parts[n].append(v)
    return {n: np.concatenate(v) if v else np.empty((0,)) for n, v in parts.items()}


# onnxruntime's input type names -> numpy: rows are converted to the model input's type, as mgi-mpi does.
ORT_TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
             "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_,
             "tensor(float16)": np.float16}


def compare(name, dset, got, ref, rtol):
    if got.shape != ref.shape:
        print(f"MISMATCH {name} -> {dset}: shape {list(got.shape)}, onnxruntime gives {list(ref.shape)}")
        return False
    got64, ref64 = got.astype(np.float64), ref.astype(np.float64)
    if ref.size == 0:
        print(f"OK       {name} -> {dset} {list(got.shape)}: empty")
        return True
    bad_finite = np.isfinite(got64) != np.isfinite(ref64)
    err = np.abs(got64 - ref64)
    err[~np.isfinite(err)] = 0.0
    max_ref = float(np.abs(ref64[np.isfinite(ref64)]).max(initial=0.0))
    rel = float(err.max()) / max(max_ref, 1e-6)
    ok = rel <= rtol and not bad_finite.any()
    line = f"{'OK      ' if ok else 'MISMATCH'} {name} -> {dset} {list(got.shape)}: rel err {rel:.3g} (rtol {rtol:g})"
    if not ok:
        flat = int(np.argmax(bad_finite.reshape(-1))) if bad_finite.any() else int(np.argmax(err.reshape(-1)))
        idx = np.unravel_index(flat, got.shape)
        line += (f"; worst at {list(int(i) for i in idx)}: got {got[idx].item()!r} want {ref[idx].item()!r}"
                 f"{'; non-finite values differ' if bad_finite.any() else ''}")
    print(line)
    return ok


def check_model(args):
    if not args.map:
        fail_usage("give at least one --map onnx_output=/dataset")
    maps = []
    for m in args.map:
        name, sep, dset = m.partition("=")
        if not sep or not name or not dset.startswith("/"):
            fail_usage(f"--map {m!r}: expected ONNX_OUTPUT=/DATASET")
        maps.append((name, dset))
    files = []
    try:
        inputs = []
        for spec in args.input:
            path, dset = split_spec(spec)
            f = h5py.File(path, "r")
            files.append(f)
            inputs.append(open_dataset(f, dset, "--input"))
        out = h5py.File(args.output, "r")
        files.append(out)
        ok = is_complete(out) if args.expect_complete else True
        ref = run_reference(args.model, inputs, [n for n, _ in maps], args.chunk_rows)
        for name, dset in maps:
            got = open_dataset(out, dset, "--output")[...]
            ok &= compare(name, dset, got, ref[name], args.rtol)
    except OSError as e:
        fail_usage(str(e))
    finally:
        for f in files:
            f.close()
    return 0 if ok else 1


# ---------------------------------------------------------------- bitwise check

def list_datasets(f):
    names = []
    f.visititems(lambda n, o: names.append("/" + n) if isinstance(o, h5py.Dataset) else None)
    return names


def is_complete(f):
    """Prints why a file is not marked complete; returns True when it is."""
    v = f.attrs.get("complete")
    if v is None or np.asarray(v).size != 1 or int(np.asarray(v).reshape(-1)[0]) != 1:
        print(f"INCOMPLETE {f.filename}: root attribute complete = {v!r}, want 1")
        return False
    return True


def open_h5(path):
    try:
        return h5py.File(path, "r")
    except OSError as e:
        fail_usage(f"{path}: {e}")


def bitwise_equal(paths, datasets, expect_complete):
    ok = True
    with open_h5(paths[0]) as fa:
        if expect_complete:
            ok &= is_complete(fa)
        for p in paths[1:]:
            with open_h5(p) as fb:
                if expect_complete:
                    ok &= is_complete(fb)
                ok &= bitwise_pair(fa, fb, datasets)
    return 0 if ok else 1


def first_differing_row(a, b):
    """(row, row of a, row of b) for the first row whose bytes differ, or None."""
    if a.size == 0:
        return None
    if a.ndim == 0:
        va, vb = np.asarray(a[()]), np.asarray(b[()])
        return None if va.tobytes() == vb.tobytes() else (0, va, vb)
    for start in range(0, a.shape[0], CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, a.shape[0])
        ca, cb = np.ascontiguousarray(a[start:stop]), np.ascontiguousarray(b[start:stop])
        diff = np.any(ca.view(np.uint8).reshape(stop - start, -1) != cb.view(np.uint8).reshape(stop - start, -1),
                      axis=1)
        if diff.any():
            r = int(np.argmax(diff))
            return start + r, ca[r], cb[r]
    return None


def bitwise_pair(fa, fb, datasets):
    path_a, path_b = fa.filename, fb.filename
    print(f"compare  {path_a} with {path_b}")
    names = datasets or sorted(set(list_datasets(fa)) | set(list_datasets(fb)))
    if not names:
        fail_usage(f"no datasets in {path_a} or {path_b}")
    ok = True
    for n in names:
        if n not in fa or n not in fb:
            print(f"DIFFER   {n}: missing in {path_a if n not in fa else path_b}")
            ok = False
            continue
        a, b = fa[n], fb[n]
        if a.shape != b.shape or a.dtype != b.dtype:
            print(f"DIFFER   {n}: {list(a.shape)} {a.dtype} vs {list(b.shape)} {b.dtype}")
            ok = False
            continue
        first = first_differing_row(a, b)
        if first is None:
            print(f"EQUAL    {n} {list(a.shape)} {a.dtype}")
        else:
            r, ra, rb = first
            print(f"DIFFER   {n} {list(a.shape)} {a.dtype}: first differing row {r}:\n"
                  f"         {path_a}: {row_text(ra)}\n         {path_b}: {row_text(rb)}")
            ok = False
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="ONNX model")
    ap.add_argument("--input", action="append", default=[], help="FILE:/DATASET, once per model input")
    ap.add_argument("--output", help="output HDF5 file to check")
    ap.add_argument("--map", action="append", default=[], help="ONNX_OUTPUT=/DATASET")
    ap.add_argument("--rtol", type=float, default=1e-5, help="max|out-ref| / max|ref| allowed")
    ap.add_argument("--chunk-rows", type=int, default=None,
                    help="rows per onnxruntime run (1: every row alone)")
    ap.add_argument("--bitwise-equal", nargs="+", metavar="FILE",
                    help="compare output files byte for byte (two or more)")
    ap.add_argument("--expect-complete", action="store_true",
                    help="output files must carry the attribute complete = 1")
    ap.add_argument("--datasets", help="comma-separated datasets for --bitwise-equal (default: all)")
    args = ap.parse_args()
    if args.bitwise_equal:
        names = [d.strip() for d in args.datasets.split(",") if d.strip()] if args.datasets else None
        if len(args.bitwise_equal) < 2:
            fail_usage("--bitwise-equal needs at least two files")
        return bitwise_equal(args.bitwise_equal, names, args.expect_complete)
    if not (args.model and args.input and args.output):
        fail_usage("need --model, --input and --output (or --bitwise-equal A B ...)")
    return check_model(args)


if __name__ == "__main__":
    sys.exit(main())
