"""The paper's model for one matrix: its statistics, space (psi) and energy per entry.

Usage: model.py --npy W.npy --matrix NAME --group G --stats OUT.csv --space OUT.csv
                --energy OUT.csv --mem-mb N
"""

import argparse

from _pipeline import heartbeat, log, npy_shape, require_memory, start_job, write_csv


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("npy", "matrix", "group", "stats", "space", "energy"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--mem-mb", type=float, required=True)
    args = parser.parse_args(argv)
    start_job()

    import numpy as np

    from hamsham.model import LayerStats, paper_energy, paper_space

    n, m = npy_shape(args.npy)
    require_memory(f"the model of {args.matrix} ({n} x {m})", args.mem_mb, (n, m))
    W = np.load(args.npy)
    with heartbeat(f"statistics of {args.matrix} ({n} x {m})"):
        stats = LayerStats.of(W)  # computed once, shared by both models
    del W
    nnz, distinct = stats.nnz, stats.table.k
    with heartbeat(f"space model of {args.matrix}"):
        space = paper_space(stats)
    with heartbeat(f"energy model of {args.matrix}"):
        energy = paper_energy(stats)
    write_csv(args.stats, ["matrix", "group", "rows", "cols", "nnz", "density", "distinct"],
              [[args.matrix, args.group, n, m, nnz, nnz / (n * m), distinct]])
    write_csv(args.space, ["matrix", "format", "bits_per_entry", "ratio_vs_dense"],
              [[args.matrix, f, float(psi), float(psi) / 32.0] for f, psi in space.items()])
    write_csv(args.energy, ["matrix", "format", "pj_per_entry"],
              [[args.matrix, f, float(pj)] for f, pj in energy.items()])
    log(f"{args.matrix}: nnz {nnz}, {distinct} distinct; psi "
        + ", ".join(f"{f} {psi:.4g}" for f, psi in space.items()))


if __name__ == "__main__":
    main()
