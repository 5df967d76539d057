"""RLH against the entropy of its own source, the study's formats and general-purpose compressors.

    python bench/entropy.py [--out results/bench] [--no-subset] [--no-demo]
                            [--demo-levels P ...] [--demo-dir DIR] [--update-readme]

RLH (hamsham.runlength, docs/entropy_format.md) is a format beyond the study. For every
matrix of the real subset (../shared/data/sham_data_subset.tar.gz: its 36 network layers
and the benchmark matrices SiNa and orsreg_1) and every dense layer of the demo networks
(the MLP of workflow/scripts/demo_nets.py, trained, pruned and quantized at the demo's
levels and k of config.yaml, as `snakemake` makes them), this measures in one run, in
bits per matrix entry:

* RLH: the bits the encoder stores, `RLH.encode(W).nbits / W.size`, and its mode;
* HAM, sHAM and CSC by the study's space model (`hamsham.model.network_space([W])`);
* zstd -19 (the `zstandard` package) and xz -9 (`lzma`, preset 9) of the raw float32
  bytes of W in C order;
* gap+value: the order-0 entropy of the column-major zero runs (for the flattened W.T,
  the number of zeros before each nonzero; zeros after the last nonzero are not counted)
  plus the order-0 entropy of the nonzero values, both times the number of nonzeros,
  over n * m; and RLH / gap+value.

Goals: RLH <= 1.05 x gap+value on every network layer (real and demo; not the benchmark
matrices), and RLH < min(HAM, sHAM) on every matrix. And for bench.py's nn_dense matrix
(4096 x 1024, density 0.70, 256 values): the RLH encode time (median of 5) under 1 s and
its peak extra memory (measured in a fresh process, as bench.py does) under 3 times the
dense matrix. A missed goal is reported as FAIL; it does not change the exit status.

The demo nets are trained here (one BLAS thread; about a minute on 2 cores at the demo's
8 levels) in a temporary folder, by running workflow/scripts/demo_nets.py itself in a
subprocess. `--demo-levels` trains at fewer levels (pruning is iterative, so a level
reached without the ones below it gives a different net); `--demo-dir` reads the layers
a pipeline run has already made (e.g. resources/demo/data/nns) instead.

Writes `<out>/entropy.csv` (full precision) and `<out>/entropy.md` (the report); with
`--update-readme` also replaces the text between the `<!-- entropy:start -->` and
`<!-- entropy:end -->` markers of README.md.
"""
import argparse
import datetime
import importlib.util
import itertools
import json
import lzma
import runpy
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DEMO_SCRIPT = ROOT / "workflow" / "scripts" / "demo_nets.py"
START, END = "<!-- entropy:start -->", "<!-- entropy:end -->"
COMMAND = ".venv/bin/python bench/entropy.py"
ENTROPY_SLACK = 1.05  # RLH may store up to 5% more than gap+value
ENCODE_REPEATS = 5


def _bench():
    """bench/bench.py as a module (its matrix generators, encode-memory probe and helpers)."""
    spec = importlib.util.spec_from_file_location("hamsham_bench", Path(__file__).resolve().with_name("bench.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- measurements --------------------------------------------------------------------------

def order0_entropy(symbols) -> float:
    """Empirical order-0 entropy of a sequence, in bits per symbol (0 for an empty one)."""
    _, counts = np.unique(np.asarray(symbols), return_counts=True)
    if counts.size == 0:
        return 0.0
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def gap_value_bits(W) -> float:
    """gap+value bits per entry of W: (H(zero runs) + H(nonzero values)) * nnz / (n * m), the runs
    being the numbers of zeros before each nonzero of W in column-major order (W.T flattened)."""
    W = np.asarray(W, dtype=np.float32)
    flat = W.T.ravel()
    nz = np.flatnonzero(flat)
    if nz.size == 0:
        return 0.0
    runs = np.diff(nz, prepend=-1) - 1
    return (order0_entropy(runs) + order0_entropy(flat[nz])) * nz.size / W.size


def compressed_bits(W) -> dict:
    """zstd -19 and xz -9 of W's raw float32 bytes (C order), in bits per entry."""
    import zstandard

    W = np.ascontiguousarray(W, dtype=np.float32)
    raw = memoryview(W).cast("B")
    return {"zstd19": 8 * len(zstandard.ZstdCompressor(level=19).compress(raw)) / W.size,
            "xz9": 8 * len(lzma.compress(raw, preset=9)) / W.size}


def measure(name, group, W, compressors=True) -> dict:
    """One row of the table: RLH, the model's HAM, sHAM and CSC, the compressors, gap+value."""
    from hamsham.model import network_space
    from hamsham.runlength import RLH
    from hamsham.values import as_matrix

    W = as_matrix(W)
    start = time.perf_counter()
    rlh = RLH.encode(W)
    encode_s = time.perf_counter() - start
    space = network_space([W])
    nnz = int(np.count_nonzero(W))
    row = {"matrix": name, "group": group, "rows": W.shape[0], "cols": W.shape[1], "nnz": nnz,
           "density": nnz / W.size, "k": int(np.unique(W[W != 0]).size),
           "rlh": rlh.nbits / W.size, "mode": rlh.mode, "rlh_encode_s": encode_s,
           "ham": space["HAM"], "sham": space["sHAM"], "csc": space["CSC"]}
    row.update(compressed_bits(W) if compressors else {"zstd19": np.nan, "xz9": np.nan})
    row["gap_value"] = gap_value_bits(W)
    # The k distinct values as float32, per entry: what any exact format stores beside the
    # entropy of the runs and values (gap+value leaves it out).
    row["values_bits"] = 32 * row["k"] / W.size
    row["rlh_vs_gap_value"] = row["rlh"] / row["gap_value"] if row["gap_value"] > 0 else np.nan
    # Goal 1 holds for network layers only (None: not applicable); goal 2 for every matrix.
    ratio = row["rlh_vs_gap_value"]
    row["entropy_goal"] = None if group == "benchmark" or np.isnan(ratio) else bool(ratio <= ENTROPY_SLACK)
    row["model_goal"] = bool(row["rlh"] < min(row["ham"], row["sham"]))
    return row


# --- matrices ------------------------------------------------------------------------------

def short_name(entry) -> str:
    """"vgg p30 k256" for vgg_30-0-256-0-0.9952_096, "mlp p30 k32 L1" with `layer`, SiNa as is."""
    if entry.group == "benchmark":
        return entry.name
    return f"{entry.group} p{entry.pruning} k{entry.clusters}"


def archive_matrices(root, with_layer=False):
    """(short name, group, W) of every matrix of the study's layout below `root`."""
    from hamsham.archive import discover
    from hamsham.io import load_matrix

    entries = discover(root)
    # Networks by pruning then k (numerically), benchmark matrices last.
    entries.sort(key=lambda e: (e.group == "benchmark", e.group, e.pruning or 0, e.clusters or 0, e.layer or "",
                                e.name))
    for entry in entries:
        name = short_name(entry)
        if with_layer and entry.group != "benchmark":
            name += f" L{int(entry.layer)}"
        yield name, "benchmark" if entry.group == "benchmark" else "network", load_matrix(entry.path)


def subset_matrices(subset):
    from hamsham.archive import safe_extract

    with tempfile.TemporaryDirectory() as tmp:
        yield from archive_matrices(safe_extract(subset, Path(tmp) / "subset"))


def demo_config():
    import yaml

    return dict(yaml.safe_load((ROOT / "config.yaml").read_text())["demo"])


def train_demo(out, levels=None):
    """Runs workflow/scripts/demo_nets.py (in this process: it sends stdout and stderr to its log)
    with the config's demo parameters, `levels` replacing its pruning levels; the layers go to
    <out>/nns/data/matrices."""
    demo = demo_config()
    if levels:
        demo["pruning"] = sorted(levels)
    out = Path(out)
    snakemake = types.SimpleNamespace(
        log=[str(out / "demo_nets.log")], params=types.SimpleNamespace(demo=demo),
        output=types.SimpleNamespace(nets=str(out / "nns"), training=str(out / "demo_training.csv")))
    sys.path.insert(0, str(DEMO_SCRIPT.parent))
    runpy.run_path(str(DEMO_SCRIPT), init_globals={"snakemake": snakemake}, run_name="__main__")


def demo_matrices(levels=None, demo_dir=None):
    """(short name, "demo", W) of every demo layer: trained now in a subprocess, or read from `demo_dir`."""
    if demo_dir:
        for name, _, W in archive_matrices(demo_dir, with_layer=True):
            yield name, "demo", W
        return
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, __file__, "--train-demo", tmp]
        if levels:
            command += ["--demo-levels", *map(str, levels)]
        start = time.monotonic()
        print(f"training the demo nets ({' '.join(command[2:])})", file=sys.stderr, flush=True)
        run = subprocess.run(command, capture_output=True, text=True)
        log = Path(tmp, "demo_nets.log")
        if run.returncode != 0:
            raise SystemExit(f"training the demo nets failed:\n{run.stderr}\n"
                             f"{log.read_text() if log.exists() else ''}")
        print(f"demo nets trained in {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
        for name, _, W in archive_matrices(tmp, with_layer=True):
            yield name, "demo", W


# --- encode time and memory ------------------------------------------------------------------

def encode_goals(bench):
    """RLH encode time (median of ENCODE_REPEATS) and peak extra memory on bench.py's nn_dense."""
    from hamsham.runlength import RLH

    W = dict(itertools.islice(bench.generated_matrices(), 2))["nn_dense"]
    RLH.encode(W[:64, :64])  # warm-up
    times = []
    for _ in range(ENCODE_REPEATS):
        start = time.perf_counter()
        RLH.encode(W)
        times.append(time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as tmp:
        peak = bench.encode_peak_memory(W, "rlh", tmp)
    seconds, ratio = float(np.median(times)), peak / W.nbytes
    shape = f"nn_dense ({W.shape[0]} x {W.shape[1]}, density 0.70, 256 values)"
    return [{"goal": f"RLH encode time, s (median of {ENCODE_REPEATS})", "matrix": shape, "measured": seconds,
             "target": "< 1", "pass": seconds < 1},
            {"goal": "RLH encode peak extra memory / dense matrix", "matrix": shape, "measured": ratio,
             "target": "< 3", "pass": ratio < 3}]


# --- report --------------------------------------------------------------------------------

SHOWN = {"matrix": "matrix", "shape": "n x m", "density": "density", "k": "k", "rlh": "RLH", "mode": "mode",
         "ham": "HAM", "sham": "sHAM", "csc": "CSC", "zstd19": "zstd -19", "xz9": "xz -9",
         "gap_value": "gap+value", "values_bits": "values", "rlh_vs_gap_value": "RLH / g+v",
         "entropy_goal": "<= 1.05 g+v",
         "model_goal": "< min(HAM, sHAM)"}


def _verdict(flag):
    return "-" if flag is None or (isinstance(flag, float) and np.isnan(flag)) else "PASS" if flag else "FAIL"


def _g(value):
    return f"{value:.4g}"


def failures(table) -> list:
    """One line per missed space goal: the matrix, what it stored and by how much it missed."""
    lines = []
    for _, r in table.iterrows():
        if r["entropy_goal"] is False:
            floor = (r["gap_value"] + r["values_bits"]) / r["gap_value"]
            why = (f"; its {r['k']} float32 values alone are {_g(r['values_bits'])} bits per entry: gap+value "
                   f"plus them is {_g(floor)} x gap+value{', out of reach' if floor > ENTROPY_SLACK else ''}")
            lines.append(f"{r['matrix']}: RLH {_g(r['rlh'])} > {ENTROPY_SLACK} x gap+value "
                         f"{_g(ENTROPY_SLACK * r['gap_value'])} (RLH / gap+value {_g(r['rlh_vs_gap_value'])}{why})")
        if not r["model_goal"]:
            best, other = ("HAM", r["ham"]) if r["ham"] <= r["sham"] else ("sHAM", r["sham"])
            lines.append(f"{r['matrix']}: RLH {_g(r['rlh'])} >= {best} {_g(other)} "
                         f"(+{_g(100 * (r['rlh'] / other - 1))}%, {_g(r['rlh'] - other)} bits per entry)")
    return lines


def render(table, goals, context) -> str:
    import pandas as pd

    networks = table[table["group"] != "benchmark"]
    met1 = int((networks["entropy_goal"] == True).sum())  # noqa: E712 (None: not applicable)
    met2 = int(table["model_goal"].sum())
    lines = [f"`{context['command']}` on {context['date']} ({context['seconds']:.0f} s): bits per entry of "
             f"{context['counts']}. RLH is what the encoder stores (all of it: codes, masks, block offsets; "
             "docs/entropy_format.md); HAM, sHAM and CSC are the study's space model (`network_space([W])`, one "
             "layer); zstd -19 and xz -9 compress the raw float32 bytes; gap+value is the order-0 entropy of the "
             "column-major zero runs plus that of the nonzero values, per entry; values: the k distinct nonzero "
             "values as float32, per entry (stored by any exact format, not counted in gap+value). "
             "Neither RLH nor the compressors are part of the study.", ""]
    summary = [{"goal": f"RLH <= {ENTROPY_SLACK} x gap+value", "matrices": "network layers (real and demo)",
                "met": f"{met1} of {len(networks)}"},
               {"goal": "RLH < min(HAM, sHAM)", "matrices": "all", "met": f"{met2} of {len(table)}"}]
    summary += [{"goal": g["goal"], "matrices": g["matrix"],
                 "met": f"{_g(g['measured'])} {g['target']}: {'PASS' if g['pass'] else 'FAIL'}"} for g in goals]
    lines += ["Goals:", "", pd.DataFrame(summary).to_markdown(index=False), ""]
    missed = failures(table)
    if missed:
        lines += ["Missed:", ""] + [f"* {line}" for line in missed] + [""]
    shown = table.assign(shape=[f"{r} x {c}" for r, c in zip(table["rows"], table["cols"])])
    shown = shown[list(SHOWN)].copy()
    for col in ("entropy_goal", "model_goal"):
        shown[col] = shown[col].map(_verdict)
    for col in ("density", "rlh", "ham", "sham", "csc", "zstd19", "xz9", "gap_value", "values_bits",
                "rlh_vs_gap_value"):
        shown[col] = shown[col].map(lambda v: "-" if np.isnan(v) else _g(v))
    lines += [shown.rename(columns=SHOWN).to_markdown(index=False, disable_numparse=True), ""]
    return "\n".join(lines)


def update_readme(report, readme=README):
    """Replace the text between the entropy markers (adding them, in a section before
    "## License" or at the end, when they are absent)."""
    bench = _bench()
    text = readme.read_text()
    block = f"{START}\n{report.rstrip()}\n{END}"
    if START in text and END in text and text.index(START) < text.index(END):
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        section = ("## RLH against entropy\n\n`make bench-entropy` (bench/entropy.py; results in "
                   f"`results/bench/`). The latest table, written by `{COMMAND} --update-readme`:\n\n{block}\n\n")
        at = text.find("\n## License")
        text = text.rstrip("\n") + "\n\n" + section if at < 0 else text[:at + 1] + section + text[at + 1:]
    bench.write_atomic(readme, text)


# --- main ----------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "results" / "bench"))
    parser.add_argument("--no-subset", action="store_true", help="skip the real subset's matrices")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo layers")
    parser.add_argument("--demo-levels", nargs="+", type=int, metavar="P",
                        help="train the demo nets at these pruning levels only (default: config.yaml's)")
    parser.add_argument("--demo-dir", help="read the demo layers from this folder (the study's layout, e.g. "
                        "resources/demo/data/nns) instead of training them")
    parser.add_argument("--no-encode", action="store_true", help="skip the encode time and memory goals")
    parser.add_argument("--update-readme", action="store_true", help="write the report into README.md")
    parser.add_argument("--train-demo", metavar="DIR", help=argparse.SUPPRESS)  # the training subprocess
    args = parser.parse_args(argv)
    if args.demo_dir and args.demo_levels:
        parser.error("--demo-dir and --demo-levels exclude each other")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.train_demo:
        train_demo(args.train_demo, args.demo_levels)
        return 0
    import pandas as pd

    bench = _bench()
    started = time.monotonic()
    sources = []
    if not args.no_subset:
        if bench.SUBSET.exists():
            sources.append(subset_matrices(bench.SUBSET))
        else:
            print(f"real subset absent ({bench.SUBSET}): skipped", file=sys.stderr)
    if not args.no_demo:
        sources.append(demo_matrices(args.demo_levels, args.demo_dir))
    rows = []
    for name, group, W in itertools.chain(*sources):
        row = measure(name, group, W)
        rows.append(row)
        print(f"  {name:24s} {W.shape[0]:5d} x {W.shape[1]:<5d} RLH {row['rlh']:8.4f} ({row['mode']:8s}) "
              f"gap+value {row['gap_value']:8.4f} HAM {row['ham']:8.4f} sHAM {row['sham']:8.4f}",
              file=sys.stderr, flush=True)
    if not rows:
        print("no matrix measured", file=sys.stderr)
        return 2
    table = pd.DataFrame(rows)
    goals = [] if args.no_encode else encode_goals(bench)

    counts = {g: int((table["group"] == g).sum()) for g in ("network", "demo", "benchmark")}
    labels = {"network": "real network layers (the subset)", "demo": "demo layers", "benchmark": "benchmark matrices"}
    options = "".join([" --no-subset" * args.no_subset, " --no-demo" * args.no_demo,
                       f" --demo-levels {' '.join(map(str, args.demo_levels))}" if args.demo_levels else "",
                       f" --demo-dir {args.demo_dir}" if args.demo_dir else ""])
    context = {"command": COMMAND + options, "seconds": time.monotonic() - started,
               "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
               "counts": ", ".join(f"{n} {labels[g]}" for g, n in counts.items() if n)}
    report = render(table, goals, context)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bench.write_atomic(out / "entropy.csv", table.to_csv(index=False))
    bench.write_atomic(out / "entropy.md", report + "\n")
    if goals:
        print(json.dumps({g["goal"]: g["measured"] for g in goals}), file=sys.stderr)
    print(report)
    print(f"written: {out / 'entropy.csv'}, {out / 'entropy.md'} ({context['seconds']:.0f} s)", file=sys.stderr)
    if args.update_readme:
        update_readme(report)
        print(f"updated: {README}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
