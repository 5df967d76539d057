"""Structure beyond order 0: what would take RLH below zstd -19 on the pruned VGG19 layers.

    python bench/beyond_order0.py [--layers vgg_90-0-32 vgg_99-0-32 ...] [--period 256]

RLH codes each (zero run, value) pair on its own (order 0). zstd -19 stores some layers of
the real subset (../shared/data/sham_data_subset.tar.gz) in less. For each layer this
prints, in bits per matrix entry:

* rlh: what RLH stores today; zstd19: zstd -19 on the raw float32 bytes (C order);
* order 1: the order-1 entropy of RLH's source, H(run | previous run) + H(value |
  previous value) over the column-major pairs (runs capped at 255 for the context), per
  entry: what a code chosen by the previous pair could reach, its tables not counted;
* distinct: the number of distinct columns, and among the entries where column j or
  column j - `--period` is nonzero, the share where both are equal;
* dedup: an estimate of a "distinct columns" mode: RLH of the distinct columns alone,
  plus a column -> distinct-column map at ceil(log2(distinct)) bits per column;
* copy+edits: an estimate of a "copy from column j - period, with edits" mode: RLH of the
  first `period` columns, plus RLH of the edits (the entries of the other columns that
  differ from the entry `period` columns to the left; an entry that becomes zero is coded
  as one more value, a marker).

Both estimates use the real RLH encoder on the derived matrices (so every table and
offset is counted), but they leave out the few words a new mode would add (its map's
header, a flag). They measure what a mode would gain, not a mode: RLH has neither.
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT.parent / "shared" / "data" / "sham_data_subset.tar.gz"
ZERO_MARKER = np.float32(3.0e38)  # an edit that sets an entry to zero (no layer holds this value)


def rlh_bits(W) -> int:
    from hamsham.runlength import RLH

    return RLH.encode(np.ascontiguousarray(W, dtype=np.float32)).nbits if W.size else 0


def zstd_bits(W) -> int:
    import zstandard

    return 8 * len(zstandard.ZstdCompressor(level=19).compress(np.ascontiguousarray(W, np.float32).tobytes()))


def order1_bits(W) -> float:
    """(H(run | previous run) + H(value | previous value)) * pairs / entries, column-major."""
    flat = W.T.ravel()
    nz = np.flatnonzero(flat)
    if nz.size < 2:
        return 0.0
    runs = np.minimum(np.diff(nz, prepend=-1) - 1, 255)
    values = np.unique(flat[nz], return_inverse=True)[1]
    return (conditional_entropy(runs) + conditional_entropy(values)) * nz.size / W.size


def conditional_entropy(symbols) -> float:
    """H(s[i] | s[i - 1]) in bits per symbol, from the counts of consecutive pairs."""
    def entropy(x):
        _, counts = np.unique(x, return_counts=True)
        p = counts / counts.sum()
        return float(-(p * np.log2(p)).sum())

    symbols = np.asarray(symbols, dtype=np.int64)
    pairs = symbols[:-1] * (int(symbols.max()) + 1) + symbols[1:]
    return entropy(pairs) - entropy(symbols[:-1])


def dedup_bits(W) -> tuple:
    """(distinct columns, estimated bits): the distinct columns in RLH, plus the column map."""
    _, first, inverse = np.unique(W.T, axis=0, return_index=True, return_inverse=True)
    distinct = len(first)
    map_bits = W.shape[1] * int(np.ceil(np.log2(distinct))) if distinct > 1 else 0
    return distinct, rlh_bits(W[:, np.sort(first)]) + map_bits


def copy_edit_bits(W, period) -> int:
    """RLH of the first `period` columns plus RLH of the edits to the columns `period` to the left."""
    if ZERO_MARKER in W:
        raise ValueError("the layer holds the zero marker value")
    head, rest, left = W[:, :period], W[:, period:], W[:, :-period]
    edits = np.where(rest != left, np.where(rest == 0, ZERO_MARKER, rest), np.float32(0))
    return rlh_bits(head) + rlh_bits(edits)


def layers(prefixes):
    from hamsham.archive import discover, safe_extract
    from hamsham.io import load_matrix

    with tempfile.TemporaryDirectory() as tmp:
        entries = sorted(discover(safe_extract(SUBSET, Path(tmp) / "subset")), key=lambda e: e.name)
        for prefix in prefixes:
            entry = next((e for e in entries if e.name.startswith(prefix)), None)
            if entry is None:
                raise SystemExit(f"{SUBSET}: no layer named {prefix}*")
            yield prefix, load_matrix(entry.path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", nargs="+", default=["vgg_90-0-32", "vgg_99-0-32"], metavar="PREFIX")
    parser.add_argument("--period", type=int, default=256)
    args = parser.parse_args(argv)
    print("| layer | rlh | zstd -19 | order 1 | distinct columns | equal to column j - period | dedup | copy+edits |")
    print("|---|---|---|---|---|---|---|---|")
    for name, W in layers(args.layers):
        size = W.size
        distinct, dedup = dedup_bits(W)
        right, left = W[:, args.period:], W[:, :-args.period]
        either = (right != 0) | (left != 0)
        same = float(np.mean(right[either] == left[either])) if either.any() else 0.0
        print(f"| {name} | {rlh_bits(W) / size:.3f} | {zstd_bits(W) / size:.3f} | {order1_bits(W):.3f} "
              f"| {distinct} of {W.shape[1]} "
              f"| {same:.1%} | {dedup / size:.3f} | {copy_edit_bits(W, args.period) / size:.3f} |", flush=True)


if __name__ == "__main__":
    main()
