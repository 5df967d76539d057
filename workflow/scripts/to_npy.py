"""Convert one matrix of the archive into a float32 .npy (hamsham.io.convert_to_npy).

Usage: to_npy.py --source FILE --output OUT.npy --mem-mb N
The text is streamed in blocks: memory stays small whatever the matrix's size. A
bad file stops with the library's message naming the file; nothing is written.
"""

import argparse
from pathlib import Path

from _pipeline import fail, heartbeat, log, log_matrix_size, require_memory, start_job


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--mem-mb", type=float, required=True)
    args = parser.parse_args(argv)
    start_job()
    require_memory(f"converting {args.source}", args.mem_mb)

    from hamsham.errors import InputError
    from hamsham.io import convert_to_npy

    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    try:
        with heartbeat(f"converting {args.source}"):
            rows, cols = convert_to_npy(args.source, args.output)
    except InputError as err:
        message = str(err)
        fail(message if args.source in message else f"{args.source}: {message}")
    except FileNotFoundError:
        fail(f"{args.source}: no such file")
    log(f"{args.source}: {rows} x {cols} float32 -> {args.output}")
    log_matrix_size((rows, cols))


if __name__ == "__main__":
    main()
