"""Benchmark every format against SciPy CSC and NumPy dense measured in the same run.

    python bench/bench.py [--rounds 7] [--repeats 5] [--rows 8] [--out results/bench]
                          [--no-subset] [--only NAME ...] [--scale S | --small]
                          [--no-encode-memory] [--update-readme]
                          [--no-native | --native-kernel DIR] [--variant-rounds 5]

Matrices: three generated with a fixed seed (the statistics of the performance
issue: nn, nn_dense, census_like; `--scale` shrinks them) and, when
../shared/data holds the real subset, its largest layers.

For every (matrix, format) it measures:

* encode time (median of `--encode-repeats` encodes) and the extra resident
  memory at the peak of one encode, measured in a fresh subprocess
  (`--measure-encode FMT W.npy`: VmHWM after the encode minus VmRSS before it,
  with the peak reset through /proc/self/clear_refs), as a multiple of the
  dense float32 matrix;
* product time per input row (X: `--rows` rows, uniform [0, 1), seed 0) at 1
  and 2 threads (each format's `threads`: the kernel's threads for HAM, sHAM
  and CSER; BLAS threads for dense; IM rebuilds on one thread, then BLAS;
  CSC runs SciPy on its columns split over the threads), matrix entries and
  nonzeros per second of product, and each time as a ratio to SciPy CSC and to
  NumPy dense at the same thread count. The SciPy CSC baseline is the CSC format
  itself (`left_matmul`: SciPy's CSR product on W's transpose, see README.md,
  "How each format multiplies");
* decoding (toarray) time at 1 and 2 threads, as matrix entries per second;
* bits per entry stored, and the study's model figure;
* for the kernel's formats (HAM, sHAM, CSER, RLH), the portable kernel's product and
  decoding times as a ratio to a kernel built with -march=native
  (HAMSHAM_NATIVE=ON, built into `--native-build`, or the one in
  `--native-kernel`): both are timed in worker processes (`--time-kernel`; a
  process loads one kernel), alternating, over `--variant-rounds` rounds; each
  figure is the fastest round's best of `--repeats` calls (the two kernels run
  in different processes, so a burst of load hits one of them, not both: the
  least disturbed round compares them best). The goal: within 10%.

Timing: every (format, threads) pair is timed in each of `--rounds` rounds, the
pairs interleaved in a rotating order; a round's figure is the best of
`--repeats` consecutive calls and the reported time is the median over rounds.
Bursts of load from other processes then hit all formats alike and the ratios
stay stable. Dense and IM (whose products run in BLAS) come last in each round,
and rounds are separated by a short rest, so that OpenBLAS's spinning worker
threads do not take a core from the next format's threads. The load average and
the CPU time other processes took during the run are printed (a warning when they exceed about one core: the 2-thread
figures are then unreliable on a 2-core machine).

Every product (1 and 2 threads) is checked against the float64 dense product
and every decoding must be exact; a failure makes the exit status 1 (missed
timing goals do not: they are reported as FAIL in the goals section).

Writes `<out>/bench.csv` (all columns), `<out>/bench.md` (the table and the
goals) and `<out>/goals.csv`; `--update-readme` also replaces the text between
the `<!-- bench:start -->` and `<!-- bench:end -->` markers of README.md.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import hamsham
from hamsham import catalogue
from hamsham.timing import paper_input, reference_product

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SUBSET = ROOT.parent / "shared" / "data" / "sham_data_subset.tar.gz"
# The subset's largest layers: name prefixes (the names end with the model's score).
SUBSET_LAYERS = ["vgg_30-0-256-", "vgg_90-0-32-", "SiNa"]
GENERATED = ("nn", "nn_dense", "census_like")
# the formats whose products and decoding run in the kernel
KERNEL_FORMATS = tuple(f.code for f in catalogue.FORMATS if f.product == "kernel")
LABELS = {f.code: f.name for f in catalogue.FORMATS}  # "sham" -> "sHAM"
THREADS = (1, 2)
U32 = 2.0**-24
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
COMMAND = ".venv/bin/python bench/bench.py"


# --- matrices ------------------------------------------------------------------------

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


def generated_matrices(scale=1.0):
    """nn, nn_dense and census_like; `scale` < 1 shrinks their dimensions (not their statistics)."""
    rng = np.random.default_rng(0)

    def dim(d):
        return max(8, int(round(d * scale)))

    yield "nn", pruned_quantized(rng, dim(4096), dim(1024), 0.10, 32)
    yield "nn_dense", pruned_quantized(rng, dim(4096), dim(1024), 0.70, 256)
    yield "census_like", census_like(rng, dim(200_000), 68)


def subset_matrices():
    from hamsham.archive import discover, safe_extract
    from hamsham.io import load_matrix

    with tempfile.TemporaryDirectory() as tmp:
        entries = sorted(discover(safe_extract(SUBSET, Path(tmp) / "subset")), key=lambda e: e.name)
        for prefix in SUBSET_LAYERS:
            for entry in entries:
                if entry.name.startswith(prefix):
                    yield entry.name, load_matrix(entry.path)
                    break


# --- encode memory (in a fresh process) --------------------------------------------------

def _status_kib(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))


def _job(name):
    """The computation measured by --measure-encode: a format's encoder, or the model's
    statistics (`stats`), `space` or `energy` of a matrix. Returns (function, stored bytes of its result)."""
    if name in hamsham.FORMATS:
        return (lambda W: hamsham.compress(W, name)), (lambda obj: obj.nbits // 8)
    from hamsham.model import LayerStats

    model = {"stats": LayerStats.of, "space": hamsham.paper_space, "energy": hamsham.paper_energy}
    if name not in model:
        raise SystemExit(f"--measure-encode: unknown job {name!r}; expected a format or one of {', '.join(model)}")
    return model[name], (lambda result: 0)


def measure_encode(job, path):
    """Run in a fresh process: the extra resident memory at the peak of encoding W (and the time);
    `job` is a format or a model computation (see `_job`).

    A tiny run first loads the code and lazily initialised state the job uses, so that
    only what the run on W itself allocates is counted."""
    run, stored = _job(job)
    W = np.load(path)
    run(np.eye(4, dtype=np.float32)[:, :3] * 2)  # warm-up
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset the peak resident set size (VmHWM) to the current one
    before = _status_kib("VmRSS:")
    start = time.perf_counter()
    obj = run(W)
    seconds = time.perf_counter() - start
    peak = _status_kib("VmHWM:")
    result = {"format": job, "peak_extra_bytes": max(0, peak - before) * 1024, "seconds": seconds,
              "dense_bytes": int(W.nbytes), "stored_bytes": stored(obj)}
    print(json.dumps(result))


def encode_peak_memory(W, fmt, tmp):
    """Extra peak resident bytes of `compress(W, fmt)`, measured in a subprocess."""
    path = Path(tmp) / "W.npy"
    if not path.exists():
        np.save(path, W)
    out = subprocess.run([sys.executable, __file__, "--measure-encode", fmt, str(path)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_extra_bytes"]


# --- timing ------------------------------------------------------------------------------

def _blas_limit(threads):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def _kernel_matrix(obj):
    return getattr(obj, "_matrix", None)  # HAM, sHAM, CSER: the compiled kernel's object


def product_fn(obj, X, threads):
    return lambda: obj.left_matmul(X, threads=threads)


def decode_fn(obj, threads):
    matrix = _kernel_matrix(obj)
    if matrix is not None:
        return lambda: matrix.decode(threads)
    return obj.toarray


# The formats whose products run in BLAS (OpenBLAS: worker threads spin after a call).
BLAS_FORMATS = tuple(f.code for f in catalogue.FORMATS if f.product == "numpy")
BLAS_REST = 0.25  # seconds: OpenBLAS's idle workers spin for about 0.1 s before they sleep


def interleaved_times(fns, rounds, repeats):
    """Median over `rounds` of the best of `repeats` calls, the functions interleaved in a
    rotating order within each round. fns: {key: (function, threads, uses BLAS)}.

    Within a round the functions that use BLAS come last, and each round starts after a
    rest: OpenBLAS's worker threads spin for a while after a call and would otherwise take
    a core from the next function's threads."""
    plain = [key for key in fns if not fns[key][2]]
    blas = [key for key in fns if fns[key][2]]
    samples = {key: [] for key in fns}
    for rnd in range(rounds):
        order = []
        for keys in (plain, blas):
            shift = rnd * len(keys) // rounds if keys else 0
            order += keys[shift:] + keys[:shift]
        time.sleep(BLAS_REST if blas else 0)
        for key in order:
            fn, threads, _ = fns[key]
            best = float("inf")
            with _blas_limit(threads):
                for _ in range(repeats):
                    start = time.perf_counter()
                    fn()
                    best = min(best, time.perf_counter() - start)
            samples[key].append(best)
    return {key: float(np.median(values)) for key, values in samples.items()}


class CpuMeter:
    """Load average, and the CPU time (in cores) other processes used while we ran."""

    def __init__(self):
        self.load_start = os.getloadavg()
        self.wall = time.monotonic()
        self.busy = self._busy_seconds()
        self.own = self._own_seconds()

    @staticmethod
    def _busy_seconds():
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own_seconds():
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def others_cores(self):
        """Mean number of cores other processes kept busy since the start."""
        wall = time.monotonic() - self.wall
        other = (self._busy_seconds() - self.busy) - (self._own_seconds() - self.own)
        return max(0.0, other / wall) if wall > 0 else 0.0


# --- portable vs native kernel ------------------------------------------------------------

def build_native_kernel(build_dir):
    """Builds the kernel with -march=native into BUILD_DIR/kernel (ext/build.sh); returns that folder."""
    folder = Path(build_dir).resolve() / "kernel"
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # this python builds it
    env = {**os.environ, "HAMSHAM_NATIVE": "ON", "PATH": path}
    print(f"building the native kernel into {folder}", file=sys.stderr, flush=True)
    subprocess.run(["bash", str(ROOT / "ext" / "build.sh"), str(build_dir), f"-DHAMSHAM_OUTPUT_DIR={folder}"],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    return folder


def time_kernel(path, rows, repeats):
    """Run in a worker process (the kernel chosen by HAMSHAM_KERNEL_DIR): the best of `repeats`
    product and decoding times of the kernel's formats on the matrix in `path`, as JSON."""
    from hamsham.kernel import kernel

    W = np.load(path)
    X = paper_input(W.shape[0], rows)
    times = {}
    for fmt in KERNEL_FORMATS:
        obj = hamsham.compress(W, fmt)
        for t in THREADS:
            for op, fn in (("product", product_fn(obj, X, t)), ("decode", decode_fn(obj, t))):
                best = float("inf")
                for _ in range(repeats):
                    start = time.perf_counter()
                    fn()
                    best = min(best, time.perf_counter() - start)
                times[f"{fmt} {op} {t}"] = best
    print(json.dumps({"build": kernel.build_info(), "times": times}))


def variant_ratios(W, args):
    """{(format, op, threads): portable time / native time}, each the fastest of
    `--variant-rounds` rounds of worker processes (portable and native alternating),
    and {variant: its kernel's build_info()}."""
    samples = {"portable": [], "native": []}
    builds = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "W.npy"
        np.save(path, W)
        for rnd in range(args.variant_rounds):
            order = ["portable", "native"] if rnd % 2 == 0 else ["native", "portable"]
            for variant in order:
                env = {k: v for k, v in os.environ.items() if k != "HAMSHAM_KERNEL_DIR"}
                if variant == "native":
                    env["HAMSHAM_KERNEL_DIR"] = str(args.native_kernel)
                out = subprocess.run([sys.executable, __file__, "--time-kernel", str(path), "--rows", str(args.rows),
                                      "--repeats", str(args.repeats)], env=env, capture_output=True, text=True)
                if out.returncode != 0:
                    raise SystemExit(f"timing the {variant} kernel failed:\n{out.stderr}")
                result = json.loads(out.stdout.strip().splitlines()[-1])
                builds[variant] = result["build"]
                samples[variant].append(result["times"])
    fastest = {v: {key: min(s[key] for s in runs) for key in runs[0]} for v, runs in samples.items()}
    ratios = {}
    for key in fastest["portable"]:
        fmt, op, t = key.split()
        ratios[(fmt, op, int(t))] = fastest["portable"][key] / fastest["native"][key]
    return ratios, builds


# --- checks ------------------------------------------------------------------------------

def product_check(X, W):
    """A check of products Y = X @ W: within the float32 bound (n + 2) u (|X| @ |W|) of the float64 product."""
    exact = reference_product(X, W)
    bound = (W.shape[0] + 2) * U32 * reference_product(np.abs(X), np.abs(W)) + 1e-30
    return lambda Y: Y.shape == exact.shape and Y.dtype == np.float32 and bool((np.abs(Y - exact) <= bound).all())


# --- one matrix --------------------------------------------------------------------------

def bench_matrix(name, W, args, failures):
    import pandas as pd

    n, m = W.shape
    nnz = int(np.count_nonzero(W))
    X = paper_input(n, args.rows)
    product_ok = product_check(X, W)
    objs, records = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in hamsham.FORMATS:
            times = []
            for _ in range(args.encode_repeats):
                objs.pop(fmt, None)  # free the previous encode first
                start = time.perf_counter()
                objs[fmt] = hamsham.compress(W, fmt)
                times.append(time.perf_counter() - start)
            obj = objs[fmt]
            memory = np.nan if args.no_encode_memory else encode_peak_memory(W, fmt, tmp) / W.nbytes
            round_trip = all(np.array_equal(decode_fn(obj, t)(), W) for t in THREADS)
            products = all(product_ok(obj.left_matmul(X, threads=t)) for t in THREADS)
            if not round_trip:
                failures.append(f"{name} {LABELS[fmt]}: round trip is not exact")
            if not products:
                failures.append(f"{name} {LABELS[fmt]}: product differs from the dense product "
                                "beyond float32 rounding")
            records[fmt] = {"matrix": name, "format": LABELS[fmt], "rows": n, "cols": m, "density": nnz / W.size,
                            "bits_per_entry": obj.nbits / W.size, "paper_bits_per_entry": np.nan,
                            "encode_s": float(np.median(times)), "encode_peak_vs_dense": memory,
                            "round_trip_exact": round_trip, "products_checked": len(THREADS),
                            "products_ok": products}

    fns = {(fmt, t): (product_fn(objs[fmt], X, t), t, fmt in BLAS_FORMATS) for fmt in objs for t in THREADS}
    product = interleaved_times(fns, args.rounds, args.repeats)
    fns = {(fmt, t): (decode_fn(objs[fmt], t), t, False) for fmt in objs for t in THREADS}
    time.sleep(BLAS_REST)
    decode = interleaved_times(fns, args.rounds, max(1, args.repeats // 2))
    for (fmt, t), seconds in product.items():
        records[fmt][f"ms_per_row_t{t}"] = 1e3 * seconds / args.rows
        records[fmt][f"entries_per_s_t{t}"] = W.size / seconds  # matrix entries per second of product
        records[fmt][f"nonzeros_per_s_t{t}"] = nnz / seconds
        records[fmt][f"decode_entries_per_s_t{t}"] = W.size / decode[(fmt, t)]

    space = hamsham.paper_space(W)
    table = pd.DataFrame(list(records.values()))
    table["paper_bits_per_entry"] = table["format"].map(space)
    for t in THREADS:
        col = f"ms_per_row_t{t}"
        table[f"vs_csc_t{t}"] = table[col] / table.loc[table["format"] == "CSC", col].iloc[0]
        table[f"vs_dense_t{t}"] = table[col] / table.loc[table["format"] == "dense", col].iloc[0]
    # Against CSC at its best thread count (SciPy's product is one loop: its 2-thread split
    # need not be faster than one thread), so that the ratio never flatters.
    csc_best = table.loc[table["format"] == "CSC", [f"ms_per_row_t{t}" for t in THREADS]].min(axis=1).iloc[0]
    table["vs_csc_best_t2"] = table["ms_per_row_t2"] / csc_best
    table["speedup_1_to_2"] = table["ms_per_row_t1"] / table["ms_per_row_t2"]
    if args.native_kernel:
        ratios, builds = variant_ratios(W, args)
        args.builds = builds
        for op, prefix in (("product", "portable_vs_native"), ("decode", "decode_portable_vs_native")):
            for t in THREADS:
                table[f"{prefix}_t{t}"] = [ratios.get((fmt, op, t), np.nan) for fmt in objs]
        for _, rec in table.dropna(subset=["portable_vs_native_t1"]).iterrows():
            print(f"  {name:28s} {rec['format']:6s} portable / native: product {rec['portable_vs_native_t1']:.3f} / "
                  f"{rec['portable_vs_native_t2']:.3f}, decode {rec['decode_portable_vs_native_t1']:.3f} / "
                  f"{rec['decode_portable_vs_native_t2']:.3f} (1 / 2 threads)", file=sys.stderr, flush=True)
    for _, rec in table.iterrows():
        print(f"  {name:28s} {rec['format']:6s} encode {rec['encode_s']:6.3f} s  "
              f"{rec['ms_per_row_t1']:8.4f} / {rec['ms_per_row_t2']:8.4f} ms per row (1 / 2 threads)  "
              f"x CSC {rec['vs_csc_t2']:5.2f}", file=sys.stderr, flush=True)
    return table


# --- goals ---------------------------------------------------------------------------------

def evaluate_goals(result):
    """The performance issue's goals, on the generated matrices present in `result`."""
    rows = []

    def value(matrix, fmt, col):
        sel = result[(result["matrix"] == matrix) & (result["format"] == fmt)]
        return float(sel[col].iloc[0]) if len(sel) else None

    def goal(text, matrix, measured, op, target):
        if measured is None:
            return
        ok = measured <= target if op == "<=" else measured >= target if op == ">=" else measured < target
        rows.append({"goal": text, "matrix": matrix, "measured": measured, "target": f"{op} {target:g}",
                     "pass": bool(ok)})

    for mat in ("nn", "nn_dense"):
        goal("sHAM product time / SciPy CSC, 2 threads", mat, value(mat, "sHAM", "vs_csc_t2"), "<=", 1.5)
    goal("HAM product time / SciPy CSC, 2 threads", "nn", value("nn", "HAM", "vs_csc_t2"), "<=", 3)
    goal("HAM product time / SciPy CSC, 2 threads", "nn_dense", value("nn_dense", "HAM", "vs_csc_t2"), "<=", 2)
    for mat in GENERATED:
        goal("HAM decode, entries per second, 2 threads", mat,
             value(mat, "HAM", "decode_entries_per_s_t2"), ">=", 5e8)
    for mat in GENERATED:
        goal("CSER product time / SciPy CSC, 2 threads", mat, value(mat, "CSER", "vs_csc_t2"), "<=", 2)
    for mat in GENERATED:
        sel = result[result["matrix"] == mat]
        if len(sel):
            worst = sel.loc[sel["encode_s"].idxmax()]
            goal(f"encode time, s (slowest format: {worst['format']})", mat, float(worst["encode_s"]), "<", 1)
            if sel["encode_peak_vs_dense"].notna().any():
                worst = sel.loc[sel["encode_peak_vs_dense"].idxmax()]
                goal(f"encode peak extra memory / dense matrix (largest: {worst['format']})", mat,
                     float(worst["encode_peak_vs_dense"]), "<", 3)
    for fmt in ("HAM", "sHAM"):
        goal(f"{fmt} speed-up from 1 to 2 threads", "nn_dense", value("nn_dense", fmt, "speedup_1_to_2"), ">=", 1.7)
    # RLH, the format beyond the study (docs/entropy_format.md): at most SciPy CSC's time.
    rlh_matrices = ["nn", "nn_dense"] + sorted(
        {m for m in result["matrix"] if str(m).startswith(("vgg_90-0-32-", "vgg_30-0-256-"))})
    for mat in rlh_matrices:
        goal("RLH product time, 2 threads / SciPy CSC's best of 1 and 2 threads", mat,
             value(mat, "RLH", "vs_csc_best_t2"), "<=", 1.0)
    if "portable_vs_native_t1" in result:
        for mat in GENERATED:
            for fmt in ("HAM", "sHAM", "CSER"):
                goal(f"{fmt} product time, portable / native kernel, 1 thread", mat,
                     value(mat, fmt, "portable_vs_native_t1"), "<=", 1.1)
            goal("HAM decode time, portable / native kernel, 1 thread", mat,
                 value(mat, "HAM", "decode_portable_vs_native_t1"), "<=", 1.1)
    import pandas as pd
    return pd.DataFrame(rows, columns=["goal", "matrix", "measured", "target", "pass"])


# --- output --------------------------------------------------------------------------------

SHOWN = {"matrix": "matrix", "format": "format", "bits_per_entry": "bits/entry",
         "encode_s": "encode s", "encode_peak_vs_dense": "encode peak x dense",
         "ms_per_row_t1": "ms/row 1t", "ms_per_row_t2": "ms/row 2t",
         "vs_csc_t1": "x CSC 1t", "vs_csc_t2": "x CSC 2t", "vs_csc_best_t2": "2t x CSC best",
         "vs_dense_t1": "x dense 1t", "vs_dense_t2": "x dense 2t",
         "speedup_1_to_2": "speed-up 1->2", "entries_per_s_t2": "entries/s 2t",
         "nonzeros_per_s_t2": "nonzeros/s 2t", "decode_entries_per_s_t2": "decode entries/s 2t",
         "portable_vs_native_t1": "portable / native 1t", "portable_vs_native_t2": "portable / native 2t",
         "decode_portable_vs_native_t1": "decode portable / native 1t",
         "decode_portable_vs_native_t2": "decode portable / native 2t"}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def render(result, goals, matrices, context):
    """The Markdown report: context, matrices, the table and the goals."""
    lines = [f"`{context['command']}` on {context['date']}: {context['cpu']}, {os.cpu_count()} cores; "
             f"load average {context['load_start']:.2f} at the start, {context['load_end']:.2f} at the end; "
             f"other processes used {context['others']:.2f} cores during the run. "
             f"X has {context['rows']} rows; times are the median over {context['rounds']} interleaved rounds "
             f"of the best of {context['repeats']} calls; `x CSC` and `x dense` are ratios of product times "
             "to SciPy CSC and NumPy dense (BLAS) measured in the same run.", ""]
    if context["builds"]:
        lines += ["`portable / native`: the portable kernel's times (hot loops chosen at run time: "
                  f"{context['builds']['portable']['isa']}) over those of a kernel built with -march=native, "
                  f"timed in alternating worker processes (the fastest of {context['variant_rounds']} rounds).", ""]
    if context["warning"]:
        lines += [f"**Warning:** {context['warning']}", ""]
    lines += [matrices.to_markdown(index=False, floatfmt=".3g"), ""]
    shown = result[[col for col in SHOWN if col in result]].rename(columns=SHOWN)
    lines += [shown.to_markdown(index=False, floatfmt=".3g"), ""]
    if len(goals):
        g = goals.assign(measured=goals["measured"].map(lambda v: f"{v:.3g}"),
                         result=goals["pass"].map({True: "PASS", False: "FAIL"})).drop(columns="pass")
        passed = int(goals["pass"].sum())
        lines += [f"Goals ({passed} of {len(goals)} met):", "", g.to_markdown(index=False), ""]
    return "\n".join(lines)


def write_atomic(path, text):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def update_readme(report, readme=README):
    """Replace the text between the bench markers (adding a "## Performance" section before
    "## License", or at the end, when the markers are absent)."""
    text = readme.read_text()
    block = f"{START}\n{report.rstrip()}\n{END}"
    if START in text and END in text and text.index(START) < text.index(END):
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        section = ("## Performance\n\n`make bench` times every format against SciPy CSC and NumPy dense "
                   "(bench/bench.py; results in `results/bench/`). The latest table, written by "
                   f"`{COMMAND} --update-readme`:\n\n{block}\n\n")
        at = text.find("\n## License")
        text = text.rstrip("\n") + "\n\n" + section if at < 0 else text[:at + 1] + section + text[at + 1:]
    write_atomic(readme, text)


# --- main ----------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds (median taken)")
    parser.add_argument("--repeats", type=int, default=5, help="calls per round (best taken)")
    parser.add_argument("--encode-repeats", type=int, default=3, help="encodes timed (median taken)")
    parser.add_argument("--rows", type=int, default=8, help="rows of X")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench"))
    parser.add_argument("--no-subset", action="store_true", help="skip the real subset's layers")
    parser.add_argument("--only", nargs="*", help="matrix names to run (default: all)")
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the generated matrices' dimensions")
    parser.add_argument("--small", action="store_true",
                        help="a quick smoke run: --scale 0.03 --no-subset --rounds 2 --repeats 1 --encode-repeats 1 "
                             "--no-encode-memory --variant-rounds 2, and --no-native unless --native-kernel is given")
    parser.add_argument("--no-encode-memory", action="store_true", help="skip the encode memory subprocesses")
    parser.add_argument("--update-readme", action="store_true", help="write the report into README.md")
    parser.add_argument("--no-native", action="store_true", help="skip the portable vs native kernel comparison")
    parser.add_argument("--native-build", default=str(ROOT / "build" / "native"),
                        help="build folder of the -march=native kernel (built by this run)")
    parser.add_argument("--native-kernel", help="a folder holding an already built _kernel.so to compare with "
                        "(instead of building one)")
    parser.add_argument("--variant-rounds", type=int, default=5,
                        help="rounds of worker processes timing the portable and native kernels (median taken)")
    parser.add_argument("--time-kernel", metavar="NPY",
                        help="print the kernel's product and decoding times for the matrix in NPY, as JSON, and exit")
    parser.add_argument("--measure-encode", nargs=2, metavar=("JOB", "NPY"),
                        help="print the peak extra memory of one encode (JOB: a format, stats, space or energy) "
                             "of the matrix in NPY, as JSON, and exit")
    args = parser.parse_args(argv)
    if args.small:
        args.scale, args.no_subset, args.rounds, args.repeats, args.encode_repeats = 0.03, True, 2, 1, 1
        args.no_encode_memory, args.variant_rounds = True, 2
        args.no_native = not args.native_kernel
    if min(args.rounds, args.repeats, args.encode_repeats, args.rows, args.variant_rounds) < 1 or args.scale <= 0:
        parser.error("--rounds, --repeats, --encode-repeats, --rows, --variant-rounds and --scale must be positive")
    if args.no_native and args.native_kernel:
        parser.error("--no-native and --native-kernel exclude each other")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.measure_encode:
        measure_encode(*args.measure_encode)
        return 0
    if args.time_kernel:
        time_kernel(args.time_kernel, args.rows, args.repeats)
        return 0
    if not args.no_native and not args.native_kernel:
        args.native_kernel = build_native_kernel(args.native_build)
    args.builds = {}
    import pandas as pd

    meter = CpuMeter()
    print(f"load average at the start: {meter.load_start[0]:.2f} {meter.load_start[1]:.2f} "
          f"{meter.load_start[2]:.2f} ({os.cpu_count()} cores)", file=sys.stderr, flush=True)
    sources = [generated_matrices(args.scale)]
    if SUBSET.exists() and not args.no_subset:
        sources.append(subset_matrices())
    tables, matrices, failures = [], [], []
    for source in sources:
        for name, W in source:
            if args.only and name not in args.only:
                continue
            print(f"{name}: {W.shape[0]} x {W.shape[1]}", file=sys.stderr, flush=True)
            matrices.append({"matrix": name, "rows": W.shape[0], "cols": W.shape[1],
                             "density": np.count_nonzero(W) / W.size, "distinct values": len(np.unique(W)),
                             "dense MB": W.nbytes / 1e6})
            tables.append(bench_matrix(name, W, args, failures))
    if not tables:
        print("no matrix selected", file=sys.stderr)
        return 2
    result = pd.concat(tables, ignore_index=True)
    goals = evaluate_goals(result)

    load_end, others = os.getloadavg(), meter.others_cores()
    warning = ""
    if meter.load_start[0] > 1.0 or others > 0.8:
        warning = (f"the machine was busy (load average {meter.load_start[0]:.2f} at the start, other processes "
                   f"using {others:.2f} of {os.cpu_count()} cores during the run): 2-thread times and speed-ups "
                   "are unreliable; rerun in a quiet moment.")
    options = " --small" if args.small else "" if args.scale == 1 else f" --scale {args.scale:g}"
    context = {"command": COMMAND + options,
               "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
               "cpu": cpu_model(), "load_start": meter.load_start[0], "load_end": load_end[0], "others": others,
               "rows": args.rows, "rounds": args.rounds, "repeats": args.repeats, "warning": warning,
               "builds": args.builds, "variant_rounds": args.variant_rounds}
    report = render(result, goals, pd.DataFrame(matrices), context)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "bench.csv", result.to_csv(index=False))
    write_atomic(out / "goals.csv", goals.to_csv(index=False))
    write_atomic(out / "bench.md", report + "\n")
    print(report)
    if warning:
        print(f"WARNING: {warning}", file=sys.stderr)
    print(f"written: {out / 'bench.csv'}, {out / 'goals.csv'}, {out / 'bench.md'}", file=sys.stderr)
    if args.update_readme:
        if failures:
            print("README.md not updated: a check failed", file=sys.stderr)
        else:
            update_readme(report)
            print(f"updated: {README}", file=sys.stderr)
    if failures:
        print("FAILED checks:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
