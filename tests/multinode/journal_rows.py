#!/usr/bin/env python3
"""Rows an mgi-mpi journal (<output>.journal) claims, read independently of the tool.

  journal_rows.py OUT.h5.journal [--rows N]

Prints one line: records, rows claimed, distinct rows, rows claimed twice,
rows missing (of N), torn tail bytes. Layout (src/io/journal.hpp):
"MGIJRNL1" | u32 fingerprint length | fingerprint | u32 crc, then records of a
40-byte header (u32 magic, u32 header crc over the rest, i64 begin, i64 end,
u64 payload bytes, u32 payload crc, u32 zero) and their payload. Index records
("MGIK") have no payload; data records ("MGIJ") have `payload bytes` of rows.
Exit status: 0 (a readable journal with no row claimed twice), 1 (rows claimed
twice or a bad header), 2 (no such file).
"""
import argparse
import struct
import sys
import zlib

RECORD, INDEX = 0x4A49474D, 0x4B49474D


def scan(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"MGIJRNL1" or len(data) < 16:
        return None
    (flen,) = struct.unpack_from("<I", data, 8)
    pos = 12 + flen + 4
    ranges = []
    while pos + 40 <= len(data):
        magic, hcrc, begin, end, payload, _pcrc, zero = struct.unpack_from("<IIqqQII", data, pos)
        if magic not in (RECORD, INDEX) or zero != 0 or hcrc != zlib.crc32(data[pos + 8:pos + 40]) or end <= begin:
            break
        if magic == INDEX and payload != 0:
            break
        if pos + 40 + payload > len(data):
            break
        ranges.append((begin, end))
        pos += 40 + payload
    return ranges, len(data) - pos


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("journal")
    ap.add_argument("--rows", type=int, default=None, help="the dataset's row count (for 'missing')")
    a = ap.parse_args()
    try:
        got = scan(a.journal)
    except FileNotFoundError:
        print(f"journal_rows: no {a.journal}")
        return 2
    if got is None:
        print(f"journal_rows: {a.journal}: not a journal (bad header)")
        return 1
    ranges, torn = got
    claimed = sum(e - b for b, e in ranges)
    covered, twice, last = 0, 0, -1
    for b, e in sorted(ranges):
        if b < last:
            twice += min(e, last) - b
        covered += max(0, e - max(b, last))
        last = max(last, e)
    missing = "" if a.rows is None else f", rows missing {a.rows - covered} of {a.rows}"
    print(f"journal {a.journal}: records {len(ranges)}, rows claimed {claimed}, distinct rows {covered}, "
          f"rows claimed twice {twice}{missing}, torn tail bytes {torn}")
    return 1 if twice else 0


if __name__ == "__main__":
    sys.exit(main())
