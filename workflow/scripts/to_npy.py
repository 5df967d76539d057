"""Load one matrix of the archive (hamsham.io.load_matrix) and save it as float32 .npy.

Usage: to_npy.py --kernel src/hamsham/_kernel.so --source FILE --output OUT.npy
A bad file stops with the library's message naming the file; nothing is written.
"""

import argparse

from _pipeline import atomic_path, fail, heartbeat, log, use_src


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    use_src(args.kernel)

    import numpy as np

    from hamsham.errors import InputError
    from hamsham.io import load_matrix

    try:
        with heartbeat(f"loading {args.source}"):
            W = load_matrix(args.source)
    except InputError as err:
        message = str(err)
        fail(message if args.source in message else f"{args.source}: {message}")
    except FileNotFoundError:
        fail(f"{args.source}: no such file")
    W = np.ascontiguousarray(W, dtype=np.float32)
    with atomic_path(args.output, suffix=".npy") as tmp:
        np.save(tmp, W)
    log(f"{args.source}: {W.shape[0]} x {W.shape[1]} float32 -> {args.output}")


if __name__ == "__main__":
    main()
