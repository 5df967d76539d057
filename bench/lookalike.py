"""Full-size look-alikes of the study's benchmark matrices, as archive-layout CSV.

    python bench/lookalike.py OUTDIR [--scale 1.0] [--seed 0] [--names covtype census imagenet]
                              [--threads 2] [--manifest] [--tar OUT.tar]

writes OUTDIR/benchmark/data/matrices/<name>.csv with the shape (rows x
scale), density (nnz / entries, exact up to rounding) and number of distinct
values (zero included) of the study's matrix. The nonzeros take k - 1
distinct values with Zipf-like frequencies, each used at least once:
integers 1..k-1 for covtype and census (integer-valued, like the real data),
uniform float32 in (0, 1) written with 9 significant digits for imagenet
(about 5 bytes of text per entry, as the study's 5.7 GB). Zeros are "0".

Seeded and deterministic: row block b of a matrix comes from its own
generator seeded (seed, matrix, b), so `lookalike()` (in memory) and the file
hold the same float32 matrix, which `hamsham.io.load_matrix` reads back
exactly. Text is built per row block by gathering from a table of each
value's bytes (memory: a few blocks); files appear atomically.
`--manifest` writes OUTDIR/manifest.json (rows, cols, nnz, distinct, sha256
of the float32 matrix, C order); `--tar` packs OUTDIR/benchmark as
sHAM_data/benchmark into an uncompressed tar.
"""
import argparse
import collections
import hashlib
import json
import os
import secrets
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np

BLOCK_ENTRIES = 1 << 20  # entries per row block (rounded to whole rows)
TABLE_BITS = 16  # Zipf sampling: a lookup table of 2**16 value indices
ZIPF_EXPONENT = 1.1


class Spec(NamedTuple):
    rows: int
    cols: int
    density: float
    distinct: int  # zero included
    integers: bool


STUDY = {"covtype": Spec(581_012, 54, 2.200e-1, 6682, True),
         "census": Spec(2_458_285, 68, 5.697e-1, 45, True),
         "imagenet": Spec(1_262_102, 900, 3.099e-1, 824, False)}
NAME_IDS = {name: i for i, name in enumerate(STUDY)}


class Lookalike:
    """One look-alike matrix: its value table and its row blocks, as token indices or text."""

    def __init__(self, name, scale=1.0, seed=0):
        spec = STUDY[name]
        self.name, self.seed, self.cols, self.density = name, seed, spec.cols, spec.density
        self.rows = max(1, round(spec.rows * scale))
        self.nnz = self.nnz_before(self.rows)
        if self.nnz < spec.distinct - 1:
            raise ValueError(f"{name} at scale {scale}: {self.nnz} nonzeros cannot hold "
                             f"{spec.distinct - 1} distinct values")
        self.block_rows = max(1, BLOCK_ENTRIES // spec.cols)
        self.blocks = -(-self.rows // self.block_rows)
        rng = self.rng(0)
        self.values, self.text = _value_table(rng, spec)  # token 0 is zero
        k = len(self.values) - 1
        p = 1.0 / np.arange(1, k + 1) ** ZIPF_EXPONENT
        cdf = np.cumsum(p[rng.permutation(k)])  # frequency ranks in random value order
        quantiles = (np.arange(1 << TABLE_BITS) + 0.5) / (1 << TABLE_BITS)
        self.table = (np.searchsorted(cdf / cdf[-1], quantiles) + 1).astype(np.int16)
        self.first = rng.permutation(np.arange(1, k + 1, dtype=np.int16))  # the first k nonzeros
        self.width = max(map(len, self.text)) + 1
        self.token_bytes = np.zeros((k + 1, self.width), np.uint8)
        for token, text in enumerate(self.text):
            self.token_bytes[token, :len(text) + 1] = np.frombuffer(text + b",", np.uint8)
        self.token_lengths = np.array([len(text) + 1 for text in self.text], np.int32)

    def rng(self, *part):
        return np.random.default_rng([self.seed, NAME_IDS[self.name], *part])

    def nnz_before(self, row):
        return round(self.density * row * self.cols)

    def tokens(self, b):
        """Row block `b` as a (rows, cols) int16 array of token indices (0 is zero)."""
        start, stop = b * self.block_rows, min(self.rows, (b + 1) * self.block_rows)
        entries, offset = (stop - start) * self.cols, self.nnz_before(start)
        nnz = self.nnz_before(stop) - offset
        rng = self.rng(1, b)
        mask = rng.random(entries, dtype=np.float32) < self.density
        extra = int(np.count_nonzero(mask)) - nnz  # make the count exact
        if extra:
            flip = np.flatnonzero(mask if extra > 0 else ~mask)
            mask[rng.choice(flip, abs(extra), replace=False)] = extra < 0
        tokens = np.zeros(entries, np.int16)
        tokens[mask] = self.table[rng.integers(0, 1 << TABLE_BITS, nnz)]
        early = self.first[offset:offset + nnz]  # every value appears among the first nonzeros
        if len(early):
            tokens[np.flatnonzero(mask)[:len(early)]] = early
        return tokens.reshape(-1, self.cols)

    def block_text(self, tokens):
        """CSV bytes (a uint8 array) of a row block of `tokens`, gathered from the token byte table."""
        tokens = tokens.ravel()
        lengths = self.token_lengths[tokens]
        ends = np.cumsum(lengths, dtype=np.int64)
        # Source index of each output byte: +1 within a token, a jump at each token start.
        start = tokens.astype(np.intp) * self.width
        step = np.ones(int(ends[-1]), np.intp)
        step[ends[:-1]] = start[1:] - start[:-1] - lengths[:-1] + 1
        step[0] = start[0]
        text = np.take(self.token_bytes.ravel(), np.cumsum(step, out=step))
        text[ends[self.cols - 1::self.cols] - 1] = ord("\n")  # each row's last comma
        return text

    def matrix(self):
        """The whole matrix as float32 (what the file holds)."""
        return np.concatenate([self.values[self.tokens(b)] for b in range(self.blocks)])


def _value_table(rng, spec):
    """k float32 values (zero first) and their texts, each reading back exactly as float32."""
    k = spec.distinct - 1
    if spec.integers:
        values = np.arange(1, k + 1, dtype=np.float32)
        texts = [b"%d" % v for v in range(1, k + 1)]
    else:
        candidates = rng.random(4 * k, dtype=np.float32)
        _, first = np.unique(candidates[candidates > 0], return_index=True)
        values = candidates[candidates > 0][np.sort(first)[:k]]
        texts = [b"%.9g" % v for v in values]
    values = np.concatenate([[np.float32(0)], values])
    texts = [b"0"] + texts
    assert np.array_equal(np.array([float(t) for t in texts]).astype(np.float32), values)
    return values, texts


def lookalike(name, scale=1.0, seed=0) -> np.ndarray:
    """The float32 look-alike of the study's matrix `name` that `write_csv` writes."""
    return Lookalike(name, scale, seed).matrix()


def write_csv(name, outdir, scale=1.0, seed=0, threads=2, manifest=None) -> Path:
    """Write OUTDIR/benchmark/data/matrices/<name>.csv atomically; progress goes to stderr.

    With a `manifest` dict, add name -> rows, cols, nnz, distinct, sha256 (float32 bytes).
    """
    matrix = Lookalike(name, scale, seed)
    path = Path(outdir) / "benchmark" / "data" / "matrices" / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    digest = hashlib.sha256() if manifest is not None else None
    progress = {"rows": 0, "bytes": 0, "shown": 0.0}
    t0 = time.perf_counter()

    def block(b):
        tokens = matrix.tokens(b)
        return matrix.block_text(tokens), (matrix.values[tokens].tobytes() if digest else None), len(tokens)

    def emit(f, future):
        text, values, rows = future.result()
        f.write(text.data)
        if digest:
            digest.update(values)
        progress["rows"] += rows
        progress["bytes"] += len(text)
        elapsed = time.perf_counter() - t0
        if elapsed - progress["shown"] >= 1 or progress["rows"] == matrix.rows:
            progress["shown"] = elapsed
            print(f"{name}: {progress['rows']}/{matrix.rows} rows, {progress['bytes'] / 1e6:.0f} MB, "
                  f"{progress['bytes'] / 1e6 / elapsed:.0f} MB/s", file=sys.stderr, flush=True)

    try:
        with open(tmp, "xb") as f, ThreadPoolExecutor(threads) as pool:
            pending = collections.deque()
            for b in range(matrix.blocks):
                pending.append(pool.submit(block, b))
                if len(pending) > 2 * threads:
                    emit(f, pending.popleft())
            while pending:
                emit(f, pending.popleft())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if digest:
        manifest[name] = {"rows": matrix.rows, "cols": matrix.cols, "nnz": matrix.nnz,
                          "distinct": len(matrix.values), "sha256": digest.hexdigest()}
    return path


def write_tar(outdir, out):
    """Pack OUTDIR/benchmark into an uncompressed tar as sHAM_data/benchmark (atomically)."""
    out = Path(out)
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
    try:
        with tarfile.open(tmp, "x") as tar:
            tar.add(Path(outdir) / "benchmark", arcname="sHAM_data/benchmark")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--names", nargs="+", choices=list(STUDY), default=list(STUDY))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--manifest", action="store_true")
    parser.add_argument("--tar", type=Path)
    args = parser.parse_args(argv)
    manifest = {} if args.manifest else None
    for name in args.names:
        write_csv(name, args.outdir, args.scale, args.seed, args.threads, manifest)
    if manifest is not None:
        (args.outdir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if args.tar:
        write_tar(args.outdir, args.tar)


if __name__ == "__main__":
    main()
