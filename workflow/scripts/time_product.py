"""Time X @ W for one (matrix, format) by the paper's protocol, from the encoded file.

Usage: time_product.py --encoded W.npz --reference REF.npy --matrix NAME --format HAM
                       --threads 1,2 --rows 8 --seed 0 --repeats 25 --output OUT.csv --mem-mb N

The job holds every core of the run (nothing else runs meanwhile). Each product
is checked against the float64 reference; the absolute and relative errors go
to the CSV with the seconds per row and the time window of the measurement.
"""

import argparse
import time

from _pipeline import fail, heartbeat, log, log_matrix_size, require_memory, start_job, write_csv

COLUMNS = ["matrix", "format", "threads", "rows", "seconds_per_row", "seconds_per_row_std",
           "max_abs_err", "max_rel_err", "timed_from", "timed_to"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("encoded", "reference", "matrix", "format", "output"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--threads", required=True, help="comma-separated thread counts")
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--mem-mb", type=float, required=True)
    args = parser.parse_args(argv)
    start_job()

    import numpy as np

    from hamsham.formats import load
    from hamsham.timing import paper_dot_time

    require_memory(f"timing {args.matrix} as {args.format}", args.mem_mb)
    encoded = load(args.encoded)
    reference = np.load(args.reference)
    n, m = encoded.shape
    log_matrix_size((n, m))
    what = f"{args.matrix} ({n} x {m}) as {args.format}"
    if reference.shape != (args.rows, m):
        fail(f"{args.reference}: the reference product has shape {reference.shape}, expected "
             f"{(args.rows, m)} ({args.rows} rows of the timing input, {m} columns of {args.matrix})")
    rows = []
    for t in (int(t) for t in args.threads.split(",")):
        # Every format honours `threads` itself (the kernel's threads, BLAS held to them,
        # CSC's column parts): see README, "How each format multiplies".
        with heartbeat(f"timing {what}, {t} thread(s), {args.repeats} x {args.rows} rows"):
            start = time.time()
            result = paper_dot_time(encoded, reference=reference, threads=t, rows=args.rows,
                                    seed=args.seed, repeats=args.repeats)
            end = time.time()
        rows.append([args.matrix, args.format, t, args.rows, result["seconds_per_row"],
                     result["seconds_per_row_std"], result["max_abs_err"], result["max_rel_err"],
                     f"{start:.3f}", f"{end:.3f}"])
        log(f"  {t} thread(s): {result['seconds_per_row']:.3e} s/row "
            f"(std {result['seconds_per_row_std']:.1e}), max |err| {result['max_abs_err']:.2e} "
            f"(relative {result['max_rel_err']:.1e})")
    write_csv(args.output, COLUMNS, rows)


if __name__ == "__main__":
    main()
