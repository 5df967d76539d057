"""One (matrix, format) run: encode, check the round trip, time X @ W by the paper's protocol.

Usage: encode.py --kernel K --npy W.npy --matrix NAME --format HAM
                 --encode OUT.csv --time OUT.csv [--threads 1,2] [--rows 8 --seed 0 --repeats 25]

The round trip must be exact (to_dense() == W); otherwise the job fails. With
no --threads the matrix is not timed (time CSV with the header only).
"""

import argparse
import time

from _pipeline import FORMAT_CODES, fail, heartbeat, log, use_src, write_csv

TIME_COLUMNS = ["matrix", "format", "threads", "rows", "seconds_per_row",
                "seconds_per_row_std", "max_abs_err"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("kernel", "npy", "matrix", "encode", "time"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--format", required=True, choices=sorted(FORMAT_CODES))
    parser.add_argument("--threads", default="", help="comma-separated thread counts; empty: no timing")
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=25)
    args = parser.parse_args(argv)
    use_src(args.kernel)

    import numpy as np

    from threadpoolctl import threadpool_limits

    import hamsham
    from hamsham.timing import paper_dot_time

    W = np.load(args.npy)
    n, m = W.shape
    what = f"{args.matrix} ({n} x {m}) as {args.format}"
    start = time.perf_counter()
    with heartbeat(f"encoding {what}"):
        encoded = hamsham.compress(W, FORMAT_CODES[args.format])
    encode_seconds = time.perf_counter() - start

    if tuple(encoded.shape) != (n, m):
        fail(f"{what}: encoded shape {tuple(encoded.shape)} != {(n, m)}")
    with heartbeat(f"decoding {what} (round-trip check)"):
        back = encoded.to_dense()
    if back.shape != W.shape or not np.array_equal(back, W):
        if back.shape != W.shape:
            fail(f"{what}: round trip changed the shape to {back.shape}")
        wrong = int(np.count_nonzero(back != W))
        worst = float(np.max(np.abs(back.astype(np.float64) - W.astype(np.float64))))
        fail(f"{what}: round trip is not exact: {wrong} entries differ, max |error| {worst:g}")
    nbits = int(encoded.nbits)
    write_csv(args.encode,
              ["matrix", "format", "rows", "cols", "nbits", "bits_per_entry", "encode_seconds", "roundtrip_exact"],
              [[args.matrix, args.format, n, m, nbits, nbits / (n * m), encode_seconds, True]])
    log(f"{what}: {nbits} bits ({nbits / (n * m):.4g} per entry), round trip exact")

    rows = []
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    for t in threads:
        # The kernel takes `threads`; BLAS (dense, IM, CSC's SciPy) is held to it too.
        with heartbeat(f"timing {what}, {t} thread(s), {args.repeats} x {args.rows} rows"), \
                threadpool_limits(limits=t):
            result = paper_dot_time(encoded, W, threads=t, rows=args.rows, seed=args.seed,
                                    repeats=args.repeats)
        rows.append([args.matrix, args.format, t, args.rows, float(result["seconds_per_row"]),
                     float(result["seconds_per_row_std"]), float(result["max_abs_err"])])
        log(f"  {t} thread(s): {result['seconds_per_row']:.3e} s/row "
            f"(std {result['seconds_per_row_std']:.1e}), max |err| {result['max_abs_err']:.2e}")
    if not threads:
        log(f"{args.matrix}: not timed (time_matrices)")
    write_csv(args.time, TIME_COLUMNS, rows)


if __name__ == "__main__":
    main()
