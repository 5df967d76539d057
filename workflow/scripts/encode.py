"""One (matrix, format) encoding: encode, save, measure the round trip, record the size.

Usage: encode.py --npy W.npy --matrix NAME --format HAM --encoded OUT.npz --encode OUT.csv
                 --mem-mb N

The round trip is compared in blocks of columns (no second full matrix); the
CSV records how many entries differ and the largest difference, and the
`aggregate` job stops the run on any inexact one. The encoded file is what the
`time` job multiplies from.
"""

import argparse
import time

from _pipeline import atomic_path, heartbeat, log, npy_shape, require_memory, start_job, write_csv

# Columns decoded at a time to measure the round trip (its memory beyond W and the encoding).
BLOCK_BYTES = 64 << 20


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("npy", "matrix", "format", "encoded", "encode"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--mem-mb", type=float, required=True)
    args = parser.parse_args(argv)
    start_job()

    import numpy as np

    from hamsham import catalogue
    from hamsham.formats import compress, from_arrays, roundtrip_errors, save

    code = catalogue.by_name(args.format).code
    n, m = npy_shape(args.npy)
    what = f"{args.matrix} ({n} x {m}) as {args.format}"
    require_memory(f"encoding {what}", args.mem_mb, (n, m))
    W = np.load(args.npy)
    start = time.perf_counter()
    with heartbeat(f"encoding {what}"):
        if args.format == "dense":  # dense stores W itself: adopt it (validated), no second copy
            encoded = from_arrays("dense", {"W": W}, W.shape)
        else:
            encoded = compress(W, code)
    encode_seconds = time.perf_counter() - start
    with heartbeat(f"round trip of {what}, in blocks of columns"):
        wrong, worst = roundtrip_errors(encoded, W, block_bytes=BLOCK_BYTES)
    del W
    with atomic_path(args.encoded, suffix=".npz") as tmp:
        save(encoded, tmp)
    nbits = int(encoded.nbits)
    write_csv(args.encode,
              ["matrix", "format", "rows", "cols", "nbits", "bits_per_entry", "encode_seconds",
               "roundtrip_wrong_entries", "roundtrip_max_abs_err"],
              [[args.matrix, args.format, n, m, nbits, nbits / (n * m), encode_seconds, wrong, worst]])
    exact = "exact" if not wrong else f"NOT exact: {wrong} entries differ, max |error| {worst:g}"
    log(f"{what}: {nbits} bits ({nbits / (n * m):.4g} per entry), round trip {exact}")


if __name__ == "__main__":
    main()
