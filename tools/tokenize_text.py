#!/usr/bin/env python3
"""Tokenizes a text corpus into mgi-mpi's ragged input format (README "Ragged inputs").

    tokenize_text.py --tokenizer models/minilm/tokenizer.json --input corpus.txt --output tokens.h5
    tokenize_text.py --tokenizer tok.json --input docs.jsonl --field text --output tokens.h5 --max-length 256

Input: plain text, one row per line (the line ending is dropped, nothing else), or JSON Lines
with the row's text under --field (the format follows the file name: .jsonl/.ndjson are JSON
Lines, anything else plain text; --format overrides; '-' reads standard input). Row i of the
output is line i of the input, always: an empty line is a row too (with a BERT tokenizer it
holds just [CLS] [SEP]).

Output: /values [total] (int32 by default, --dtype int64) holds every row's token ids back to
back, /offsets int64 [N+1] the row boundaries: row i is values[offsets[i]:offsets[i+1]]. Root
attributes record the tokenizer file and its SHA-256, the source, the field and the truncation.

The tokenizer is the Hugging Face `tokenizers` library reading a tokenizer.json. Its padding
setting is switched off (mgi-mpi pads each batch itself); its truncation is kept unless
--max-length sets another (0: none). Special tokens ([CLS], [SEP], ...) are added as the
tokenizer's post-processor says, unless --no-special-tokens. The corpus is read and written in
blocks of --block rows, so its size is not bounded by memory."""
import argparse
import hashlib
import json
import os
import sys

import h5py
import numpy as np

CHUNK = 1 << 16  # HDF5 chunk, in values


def fail(msg, code=2):
    print(f"tokenize_text: {msg}", file=sys.stderr)
    sys.exit(code)


def read_rows(stream, fmt, field, source):
    """Yields the text of each row, in order."""
    for lineno, line in enumerate(stream, 1):
        if line.endswith("\n"):
            line = line[:-1]
            if line.endswith("\r"):
                line = line[:-1]
        if fmt == "text":
            yield line
            continue
        if not line.strip():
            fail(f"{source}:{lineno}: empty line in JSON Lines input (every line must be one JSON object)", 3)
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            fail(f"{source}:{lineno}: not JSON: {e}", 3)
        if not isinstance(obj, dict) or field not in obj:
            fail(f"{source}:{lineno}: no field {field!r} (set --field)", 3)
        text = obj[field]
        if not isinstance(text, str):
            fail(f"{source}:{lineno}: field {field!r} is {type(text).__name__}, not a string", 3)
        yield text


def blocks(rows, size):
    block = []
    for r in rows:
        block.append(r)
        if len(block) == size:
            yield block
            block = []
    if block:
        yield block


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def load_tokenizer(path, max_length):
    try:
        from tokenizers import Tokenizer
    except ImportError:
        fail("the Python package 'tokenizers' is missing (pip install tokenizers)")
    try:
        tok = Tokenizer.from_file(path)
    except Exception as e:  # tokenizers raises its own Exception subclasses
        fail(f"cannot read tokenizer {path}: {e}")
    tok.no_padding()
    if max_length is not None:
        if max_length == 0:
            tok.no_truncation()
        else:
            tok.enable_truncation(max_length)
    return tok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", required=True, help="tokenizer.json (Hugging Face tokenizers)")
    ap.add_argument("--input", required=True, help="text or JSON Lines file, '-' for standard input")
    ap.add_argument("--output", required=True, help="HDF5 file to write")
    ap.add_argument("--field", default="text", help="JSON Lines: the field holding the text (default: text)")
    ap.add_argument("--format", choices=["auto", "text", "jsonl"], default="auto")
    ap.add_argument("--max-length", type=int, default=None,
                    help="truncate rows to this many tokens, special tokens included (0: never); "
                         "default: as tokenizer.json says")
    ap.add_argument("--dtype", choices=["int32", "int64"], default="int32", help="token id type (default int32)")
    ap.add_argument("--no-special-tokens", action="store_true", help="do not add [CLS]/[SEP] and the like")
    ap.add_argument("--values", default="/values", help="dataset of the token ids (default /values)")
    ap.add_argument("--offsets", default="/offsets", help="dataset of the row offsets (default /offsets)")
    ap.add_argument("--block", type=int, default=4096, help="rows tokenized at once")
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args()
    if args.max_length is not None and args.max_length < 0:
        fail("--max-length must be >= 0")
    if args.block < 1:
        fail("--block must be >= 1")
    fmt = args.format
    if fmt == "auto":
        fmt = "jsonl" if args.input.lower().endswith((".jsonl", ".ndjson")) else "text"
    if os.path.exists(args.output) and not args.overwrite:
        fail(f"{args.output} already exists (pass --overwrite to replace it)", 3)
    if args.input != "-" and not os.path.isfile(args.input):
        fail(f"input {args.input} not found", 3)

    tok = load_tokenizer(args.tokenizer, args.max_length)
    trunc = tok.truncation
    id_type = np.dtype(args.dtype)
    limit = np.iinfo(id_type).max
    special = not args.no_special_tokens

    stream = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8")
    tmp = args.output + ".partial"
    n_rows = total = truncated = empty = longest = 0
    try:
        with h5py.File(tmp, "w") as f:
            values = f.create_dataset(args.values, shape=(0,), maxshape=(None,), dtype=id_type, chunks=(CHUNK,))
            offsets = f.create_dataset(args.offsets, shape=(1,), maxshape=(None,), dtype=np.int64,
                                       chunks=(CHUNK,), data=np.zeros(1, np.int64))
            for block in blocks(read_rows(stream, fmt, args.field, args.input), args.block):
                enc = tok.encode_batch(block, add_special_tokens=special)
                ids = [e.ids for e in enc]
                lengths = np.fromiter((len(i) for i in ids), np.int64, len(ids))
                flat = np.fromiter((t for i in ids for t in i), np.int64, int(lengths.sum()))
                if flat.size and flat.max() > limit:
                    fail(f"token id {int(flat.max())} does not fit {args.dtype} (use --dtype int64)")
                truncated += sum(1 for e in enc if e.overflowing)
                empty += int((lengths == 0).sum())
                longest = max(longest, int(lengths.max()))
                values.resize((total + flat.size,))
                values[total:] = flat.astype(id_type)
                ends = total + np.cumsum(lengths)
                offsets.resize((n_rows + 1 + len(ids),))
                offsets[n_rows + 1:] = ends
                total += int(flat.size)
                n_rows += len(ids)
            f.attrs["tokenizer"] = os.path.abspath(args.tokenizer)
            f.attrs["tokenizer_sha256"] = sha256(args.tokenizer)
            f.attrs["source"] = "<stdin>" if args.input == "-" else os.path.abspath(args.input)
            f.attrs["format"] = fmt
            if fmt == "jsonl":
                f.attrs["field"] = args.field
            f.attrs["max_length"] = int(trunc["max_length"]) if trunc else 0
            f.attrs["special_tokens"] = int(special)
            f.attrs["rows"] = n_rows
    except BaseException:
        if os.path.exists(tmp):  # a failed run leaves nothing behind
            os.remove(tmp)
        raise
    finally:
        if stream is not sys.stdin:
            stream.close()
    os.replace(tmp, args.output)
    mean = total / n_rows if n_rows else 0.0
    print(f"tokenize_text: {n_rows} rows, {total} tokens (mean {mean:.1f}, longest {longest}) -> "
          f"{args.output}:{args.values} {args.dtype} + {args.offsets}; "
          f"truncation {trunc['max_length'] if trunc else 'none'}: {truncated} rows truncated"
          + (f"; {empty} rows with no tokens" if empty else ""))


if __name__ == "__main__":
    main()
