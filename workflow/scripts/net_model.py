"""The paper's model for one network: its layers share one HAM and one sHAM code.

Usage: net_model.py --kernel K --net NAME --space OUT.csv --energy OUT.csv LAYER.npy ...
"""

import argparse

from _pipeline import heartbeat, log, use_src, write_csv

SPACE = ["HAM", "sHAM", "CSC", "IM", "CSER", "dense", "HAM-ub", "sHAM-ub"]
ENERGY = ["HAM", "sHAM", "CSC", "IM", "CSER"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("kernel", "net", "space", "energy"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("layers", nargs="+")
    args = parser.parse_args(argv)
    use_src(args.kernel)

    import numpy as np

    import hamsham

    layers = [np.load(path) for path in args.layers]
    shapes = " + ".join(f"{L.shape[0]}x{L.shape[1]}" for L in layers)
    with heartbeat(f"network model of {args.net} ({shapes})"):
        space = hamsham.network_space(layers)
        energy = hamsham.network_energy(layers)
    write_csv(args.space, ["net", "format", "bits_per_entry", "ratio_vs_dense"],
              [[args.net, f, float(space[f]), float(space[f]) / 32.0] for f in SPACE if f in space])
    write_csv(args.energy, ["net", "format", "pj_per_entry"],
              [[args.net, f, float(energy[f])] for f in ENERGY if f in energy])
    log(f"{args.net}: psi " + ", ".join(f"{f} {space[f]:.4g}" for f in SPACE if f in space))


if __name__ == "__main__":
    main()
