"""Benchmark every format against SciPy CSC and NumPy dense measured in the same run.

    python bench/bench.py [--repeats 25] [--rows 8] [--out results/bench] [--no-subset]

Matrices: three generated with a fixed seed (the statistics of the performance
issue: nn, nn_dense, census_like) and, when ../shared/data holds the real
subset, its largest layers. For every (matrix, format): encode time and the
peak memory it adds (as a multiple of the dense matrix), product time per input
row at 1 and 2 threads (median of `repeats` calls), entries and nonzeros per
second, bits per entry, and each time as a ratio to SciPy CSC and NumPy dense.
Every product is checked against the float64 dense product. Writes
`<out>/bench.csv` and `<out>/bench.md` and prints the table.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import hamsham
from hamsham.timing import paper_input

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT.parent / "shared" / "data" / "sham_data_subset.tar.gz"
SUBSET_LAYERS = ["vgg_30-0-256-0-0.9952_096", "vgg_90-0-32-0-0.9954_096", "SiNa"]
LABELS = {"ham": "HAM", "sham": "sHAM", "csc": "CSC", "im": "IM", "cser": "CSER", "dense": "dense"}
U32 = 2.0**-24


def pruned_quantized(rng, n, m, density, levels):
    """Laplace weights, magnitude-pruned to `density`, survivors' magnitudes uniformly
    quantized to levels/2 steps with their sign kept (`levels` distinct nonzero values)."""
    W = rng.laplace(size=(n, m)).astype(np.float32)
    threshold = np.quantile(np.abs(W), 1 - density)
    keep = np.abs(W) > threshold
    steps = np.linspace(threshold, np.abs(W).max(), levels // 2).astype(np.float32)
    index = np.clip(np.searchsorted(steps, np.abs(W)), 0, len(steps) - 1)
    return np.where(keep, np.sign(W) * steps[index], 0).astype(np.float32)


def census_like(rng, n=200_000, m=68):
    """Integers 0..44, 43% zeros, the others geometrically skewed."""
    p = 0.85 ** np.arange(44)
    values = rng.choice(np.arange(1, 45), size=(n, m), p=p / p.sum())
    return np.where(rng.random((n, m)) < 0.43, 0, values).astype(np.float32)


def generated_matrices():
    rng = np.random.default_rng(0)
    yield "nn", pruned_quantized(rng, 4096, 1024, 0.10, 32)
    yield "nn_dense", pruned_quantized(rng, 4096, 1024, 0.70, 256)
    yield "census_like", census_like(rng)


def subset_matrices():
    from hamsham.archive import discover, safe_extract
    from hamsham.io import load_matrix

    with tempfile.TemporaryDirectory() as tmp:
        entries = {e.name: e for e in discover(safe_extract(SUBSET, Path(tmp) / "subset"))}
        for name in SUBSET_LAYERS:
            yield name, load_matrix(entries[name].path)


def _rss_kib(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))


def encode_measured(W, fmt):
    """(object, seconds, peak extra memory in bytes) of one encode."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset the peak resident set size (VmHWM)
    before = _rss_kib("VmRSS:")
    start = time.perf_counter()
    obj = hamsham.compress(W, fmt)
    seconds = time.perf_counter() - start
    return obj, seconds, max(0, _rss_kib("VmHWM:") - before) * 1024


def product_seconds(obj, X, threads, repeats):
    obj.left_matmul(X, threads=threads)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        obj.left_matmul(X, threads=threads)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def check_product(Y, X, W, name, fmt):
    exact = X.astype(np.float64) @ W.astype(np.float64)
    bound = (W.shape[0] + 2) * U32 * (np.abs(X.astype(np.float64)) @ np.abs(W.astype(np.float64))) + 1e-30
    if not (np.abs(Y - exact) <= bound).all():
        raise AssertionError(f"{name} {fmt}: product differs from the dense product beyond float32 rounding")


def bench_matrix(name, W, rows, repeats):
    n, m = W.shape
    nnz = int(np.count_nonzero(W))
    X = paper_input(n, rows)
    records = []
    for fmt in hamsham.FORMATS:
        obj, enc_s, enc_mem = encode_measured(W, fmt)
        if not np.array_equal(obj.to_dense(), W):
            raise AssertionError(f"{name} {fmt}: round trip is not exact")
        record = {"matrix": name, "format": LABELS[fmt], "rows": n, "cols": m, "density": nnz / W.size,
                  "bits_per_entry": obj.nbits / W.size, "paper_bits_per_entry": np.nan,
                  "encode_s": enc_s, "encode_peak_vs_dense": enc_mem / W.nbytes}
        for threads in (1, 2):
            check_product(obj.left_matmul(X, threads=threads), X, W, name, fmt)
            seconds = product_seconds(obj, X, threads, repeats)
            record[f"ms_per_row_t{threads}"] = 1e3 * seconds / rows
            record[f"entries_per_s_t{threads}"] = W.size / seconds  # matrix entries decoded per second
            record[f"nonzeros_per_s_t{threads}"] = nnz / seconds
        records.append(record)
        print(f"  {name:28s} {LABELS[fmt]:6s} encode {enc_s:6.3f} s  "
              f"{record['ms_per_row_t1']:8.4f} / {record['ms_per_row_t2']:8.4f} ms per row (1 / 2 threads)",
              file=sys.stderr, flush=True)
    space = hamsham.paper_space(W)
    table = pd.DataFrame(records)
    table["paper_bits_per_entry"] = table["format"].map(space)
    for threads in (1, 2):
        col = f"ms_per_row_t{threads}"
        table[f"vs_csc_t{threads}"] = table[col] / table.loc[table["format"] == "CSC", col].iloc[0]
        table[f"vs_dense_t{threads}"] = table[col] / table.loc[table["format"] == "dense", col].iloc[0]
    table["speedup_1_to_2"] = table["ms_per_row_t1"] / table["ms_per_row_t2"]
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--out", default=str(ROOT / "results" / "bench"))
    parser.add_argument("--no-subset", action="store_true", help="skip the real subset's layers")
    parser.add_argument("--only", nargs="*", help="matrix names to run (default: all)")
    args = parser.parse_args(argv)

    sources = [generated_matrices()]
    if SUBSET.exists() and not args.no_subset:
        sources.append(subset_matrices())
    tables = []
    for source in sources:
        for name, W in source:
            if args.only and name not in args.only:
                continue
            print(f"{name}: {W.shape[0]} x {W.shape[1]}", file=sys.stderr, flush=True)
            tables.append(bench_matrix(name, W, args.rows, args.repeats))
    result = pd.concat(tables, ignore_index=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shown = result[["matrix", "format", "bits_per_entry", "encode_s", "encode_peak_vs_dense",
                    "ms_per_row_t1", "ms_per_row_t2", "vs_csc_t2", "vs_dense_t2", "speedup_1_to_2",
                    "entries_per_s_t2"]]
    markdown = shown.to_markdown(index=False, floatfmt=".3g")
    for path, text in ((out / "bench.csv", result.to_csv(index=False)), (out / "bench.md", markdown + "\n")):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    print(markdown)
    print(f"\nwritten: {out / 'bench.csv'}, {out / 'bench.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
