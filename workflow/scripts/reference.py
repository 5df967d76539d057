"""The float64 reference X @ W that every timed product of a matrix is checked against.

Usage: reference.py --npy W.npy --rows 8 --seed 0 --output REF.npy --mem-mb N
X is the timing protocol's input (hamsham.timing.paper_input). W is read in row
blocks, so memory stays at one block: the reference is computed once per matrix,
and the timing jobs never need W itself.
"""

import argparse

from _pipeline import atomic_path, heartbeat, log, npy_row_blocks, npy_shape, require_memory, start_job


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--npy", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--mem-mb", type=float, required=True)
    args = parser.parse_args(argv)
    start_job()

    import numpy as np

    from hamsham.timing import paper_input, reference_from_blocks

    n, m = npy_shape(args.npy)
    require_memory(f"the reference product of {args.npy} ({n} x {m})", args.mem_mb, (n, m))
    X = paper_input(n, args.rows, args.seed)
    with heartbeat(f"X @ W in float64, {args.rows} rows, W {n} x {m} in row blocks"):
        exact = reference_from_blocks(X, npy_row_blocks(args.npy), m)
    with atomic_path(args.output, suffix=".npy") as tmp:
        np.save(tmp, exact)
    log(f"{args.output}: {args.rows} x {m}, max |X W| {np.abs(exact).max() if exact.size else 0:.6g}")


if __name__ == "__main__":
    main()
