"""The paper's model for one network: its layers share one HAM and one sHAM code.

Usage: net_model.py --net NAME --space OUT.csv --energy OUT.csv --mem-mb N LAYER.npy ...
"""

import argparse

from _pipeline import heartbeat, log, npy_shape, require_memory, start_job, write_csv


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("net", "space", "energy"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--mem-mb", type=float, required=True)
    parser.add_argument("layers", nargs="+")
    args = parser.parse_args(argv)
    start_job()

    import numpy as np

    from hamsham.model import LayerStats, network_energy, network_space

    shapes = " + ".join("{}x{}".format(*npy_shape(path)) for path in args.layers)
    require_memory(f"the network model of {args.net} ({shapes})", args.mem_mb)
    with heartbeat(f"network model of {args.net} ({shapes})"):
        stats = [LayerStats.of(np.load(path)) for path in args.layers]  # one layer in memory at a time
        space = network_space(stats)
        energy = network_energy(stats)
    write_csv(args.space, ["net", "format", "bits_per_entry", "ratio_vs_dense"],
              [[args.net, f, float(psi), float(psi) / 32.0] for f, psi in space.items()])
    write_csv(args.energy, ["net", "format", "pj_per_entry"],
              [[args.net, f, float(pj)] for f, pj in energy.items()])
    log(f"{args.net}: psi " + ", ".join(f"{f} {psi:.4g}" for f, psi in space.items()))


if __name__ == "__main__":
    main()
