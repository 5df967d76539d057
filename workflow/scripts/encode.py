"""One (matrix, format) encoding: encode, save, check the round trip exactly, record the size.

Usage: encode.py --npy W.npy --matrix NAME --format HAM --encoded OUT.npz --encode OUT.csv
                 --mem-mb N

The round trip is checked in blocks of columns (no second full matrix); an
inexact one fails the job. The encoded file is what the `time` job multiplies from.
"""

import argparse
import time

from _pipeline import (FORMAT_CODES, atomic_path, fail, heartbeat, log, npy_shape, require_memory,
                       start_job, write_csv)

# Columns decoded at a time by the round-trip check (its memory beyond W and the encoding).
BLOCK_BYTES = 64 << 20


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("npy", "matrix", "encoded", "encode"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--format", required=True, choices=sorted(FORMAT_CODES))
    parser.add_argument("--mem-mb", type=float, required=True)
    args = parser.parse_args(argv)
    start_job()

    import numpy as np

    from hamsham.formats import compress, from_arrays, roundtrip_errors, save

    n, m = npy_shape(args.npy)
    what = f"{args.matrix} ({n} x {m}) as {args.format}"
    require_memory(f"encoding {what}", args.mem_mb, (n, m))
    W = np.load(args.npy)
    start = time.perf_counter()
    with heartbeat(f"encoding {what}"):
        if args.format == "dense":  # dense stores W itself: adopt it (validated), no second copy
            encoded = from_arrays("dense", {"W": W}, W.shape)
        else:
            encoded = compress(W, FORMAT_CODES[args.format])
    encode_seconds = time.perf_counter() - start
    if tuple(encoded.shape) != (n, m):
        fail(f"{what}: encoded shape {tuple(encoded.shape)} != {(n, m)}")
    with heartbeat(f"round-trip check of {what}, in blocks of columns"):
        wrong, worst = roundtrip_errors(encoded, W, block_bytes=BLOCK_BYTES)
    if wrong:
        fail(f"{what}: round trip is not exact: {wrong} entries differ, max |error| {worst:g}")
    del W
    with atomic_path(args.encoded, suffix=".npz") as tmp:
        save(encoded, tmp)
    nbits = int(encoded.nbits)
    write_csv(args.encode,
              ["matrix", "format", "rows", "cols", "nbits", "bits_per_entry", "encode_seconds", "roundtrip_exact"],
              [[args.matrix, args.format, n, m, nbits, nbits / (n * m), encode_seconds, True]])
    log(f"{what}: {nbits} bits ({nbits / (n * m):.4g} per entry), round trip exact")


if __name__ == "__main__":
    main()
