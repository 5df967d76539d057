"""Helpers shared by the pipeline tests (tests/test_pipeline*.py).

They run the Snakemake pipeline through its command line in temporary copies of
the workflow: `copy_workflow` copies Snakefile, config.yaml, workflow/, profiles/,
envs/, ext/ and src/ into a folder, `snakemake` runs the venv's snakemake there as
`snakemake --cores 2 ...` (profiles/default is found by Snakemake itself). The
compiled kernel of the checkout is reused (copied and made newer than ext/, so
the `kernel` rule does not rebuild it); without one, the `kernel` rule builds it
once for the session.

Its fixtures (`kernel_so`, `work`) are available to every test module (tests/conftest.py).
"""

import csv
import hashlib
import http.server
import io
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

from hamsham import catalogue

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
KERNEL = Path("src") / "hamsham" / "_kernel.so"

# The formats of a run with the default config, and the keys of its space and energy models.
FORMATS = catalogue.names()
SPACE_FORMATS = catalogue.space_names()
ENERGY_FORMATS = catalogue.energy_names()
COLUMNS = {
    "matrices": ["matrix", "group", "rows", "cols", "nnz", "density", "distinct"],
    "space": ["matrix", "format", "bits_per_entry", "ratio_vs_dense"],
    "energy": ["matrix", "format", "pj_per_entry"],
    "encode": ["matrix", "format", "rows", "cols", "nbits", "bits_per_entry", "encode_seconds",
               "roundtrip_wrong_entries", "roundtrip_max_abs_err"],
    "time": ["matrix", "format", "threads", "rows", "seconds_per_row", "seconds_per_row_std",
             "max_abs_err", "max_rel_err", "timed_from", "timed_to"],
    "nets_space": ["net", "format", "bits_per_entry", "ratio_vs_dense"],
    "nets_energy": ["net", "format", "pj_per_entry"],
    "nets_time": ["net", "format", "threads", "rows", "seconds_per_row", "seconds_per_row_std",
                  "max_abs_err", "max_rel_err"],
}
TABLES = [f"{m}_{p}" for p in ("nets", "benchmark") for m in ("space", "energy", "time")]
FIGURES = TABLES + ["accuracy_space_nets"]  # + accuracy against space of the nets


_BUILT = {}


@pytest.fixture(scope="session")
def kernel_so(tmp_path_factory):
    """A built src/hamsham/_kernel.so: the checkout's, or one the `kernel` rule builds once
    per session (shared by the test modules that import this fixture)."""
    built = ROOT / KERNEL
    if built.is_file():
        return built
    if "kernel" not in _BUILT:
        work = copy_workflow(tmp_path_factory.mktemp("kernel"), kernel=None)
        result = snakemake(work, str(KERNEL), check=False, timeout=900)
        assert result.returncode == 0, f"the kernel rule failed:\n{result.stdout[-4000:]}"
        _BUILT["kernel"] = work / KERNEL
    return _BUILT["kernel"]


def copy_workflow(dest, kernel):
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "_kernel*.so", "build")
    shutil.copy2(ROOT / "Snakefile", dest / "Snakefile")
    shutil.copy2(ROOT / "config.yaml", dest / "config.yaml")
    for folder in ("workflow", "profiles", "envs", "ext", "src"):
        shutil.copytree(ROOT / folder, dest / folder, ignore=ignore)
    if kernel is not None:
        shutil.copy2(kernel, dest / KERNEL)
        os.utime(dest / KERNEL)  # newer than ext/: the kernel rule has nothing to do
    return dest


@pytest.fixture
def work(tmp_path, kernel_so):
    return copy_workflow(tmp_path / "wf", kernel_so)


def snakemake(work, *args, check=True, timeout=600, profile="default", cores=2, env=None):
    """Run `snakemake --cores 2 ARGS` in `work`, as a user types it: profiles/default is
    picked up by Snakemake itself; another profile is passed as --workflow-profile."""
    result = subprocess.run(
        snakemake_command(*args, profile=profile, cores=cores), env=env,
        cwd=work, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check:
        assert result.returncode == 0, f"snakemake {' '.join(args)} failed:\n{result.stdout[-6000:]}"
    return result


def write_config(work, **config):
    path = Path(work) / "test-config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def header(path):
    with open(path, newline="") as handle:
        return next(csv.reader(handle))


def check_outputs(work, dataset):
    """Aggregated CSVs with exactly the agreed columns, tables and figures, all non-empty."""
    results = Path(work) / "results" / dataset
    for name, columns in COLUMNS.items():
        assert header(results / f"{name}.csv") == columns, name
    for name in TABLES:
        for ext in ("tex", "md", "html"):
            path = results / "tables" / f"{name}.{ext}"
            assert path.stat().st_size > 0, path
    from PIL import Image

    for name in FIGURES:
        pdf = Path(work) / "figures" / dataset / f"{name}.pdf"
        png = pdf.with_suffix(".png")
        assert pdf.read_bytes()[:5] == b"%PDF-", pdf
        with Image.open(png) as image:
            assert image.size[0] > 400 and image.size[1] > 200, png
    return results


def tiny_archive(path, bad=None, prefix="sHAM_data"):
    """A small archive in the study's layout: two 2-layer nets and one Matrix Market matrix.

    `bad`: text for an extra, malformed layer file.
    """
    rng = np.random.default_rng(0)
    values = np.array([-0.5, -0.25, 0.25, 0.5, 1.0], dtype=np.float32)
    files = {}
    for net, density in (("tiny_50-0-4-0-0.91", 0.5), ("tiny_90-0-4-0-0.85", 0.1)):
        for layer, shape in (("000", (12, 8)), ("001", (8, 3))):
            W = rng.choice(values, size=shape) * (rng.random(shape) < density)
            text = "\n".join(",".join(f"{v:.9g}" for v in row) for row in W) + "\n"
            files[f"nns/data/matrices/{net}_{layer}.csv"] = text.encode()
    if bad is not None:
        files["nns/data/matrices/tiny_99-0-4-0-0.5_000.csv"] = bad.encode()
    entries = [(i % 10 + 1, i // 10 + 1, float(values[i % 5])) for i in range(0, 100, 7)]
    mtx = f"%%MatrixMarket matrix coordinate real general\n10 10 {len(entries)}\n"
    mtx += "".join(f"{i} {j} {v:.9g}\n" for i, j, v in entries)
    files["benchmark/data/matrices/small.mtx"] = mtx.encode()
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{prefix}/{name}")
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


class serve:
    """Serve a folder over HTTP on 127.0.0.1 (an ephemeral port) for the block's duration."""

    def __init__(self, folder):
        self.folder = str(folder)

    def __enter__(self):
        folder = self.folder

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=folder, **kwargs)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def snakemake_command(*args, profile="default", cores=2):
    """The command line that `snakemake()` runs (for subprocess.Popen)."""
    chosen = [] if profile == "default" else ["--workflow-profile", f"profiles/{profile}"]
    return [SNAKEMAKE, *chosen, "--cores", str(cores), *args]


def hidden_files(folder):
    """Files and folders below `folder` whose name starts with '.' (temporaries), except
    Snakemake's own .snakemake_timestamp markers of directory outputs."""
    folder = Path(folder)
    if not folder.exists():
        return []
    return sorted(str(p) for p in folder.rglob(".*") if p.name != ".snakemake_timestamp")


def assert_results_complete(work):
    """No half-written result is left: every CSV under results/ parses with its header (every
    row as long as the header), every .npy under resources/*/npy loads, and no temporary
    (a hidden file) is left under results/, figures/ or resources/*/npy."""
    work = Path(work)
    for folder in (work / "results", work / "figures", *(work / "resources").glob("*/npy")):
        assert not hidden_files(folder), f"temporaries left: {hidden_files(folder)}"
    for path in sorted((work / "results").rglob("*.csv")):
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
        assert rows and rows[0] and all(rows[0]), f"{path}: no header"
        assert all(len(row) == len(rows[0]) for row in rows[1:]), f"{path}: ragged rows"
    for path in sorted((work / "resources").glob("*/npy/*.npy")):
        assert np.load(path).ndim == 2, path


def deterministic_results(work, dataset):
    """The aggregated results that do not depend on timing: CSV texts of matrices, space,
    energy, nets_space, nets_energy; encode.csv without its encode_seconds; the keys
    (matrix/net, format, threads, rows) of time.csv and nets_time.csv."""
    results = Path(work) / "results" / dataset
    out = {name: (results / f"{name}.csv").read_text()
           for name in ("matrices", "space", "energy", "nets_space", "nets_energy")}
    out["encode"] = [{k: v for k, v in row.items() if k != "encode_seconds"}
                     for row in read_csv(results / "encode.csv")]
    for name, key in (("time", "matrix"), ("nets_time", "net")):
        out[name] = [(row[key], row["format"], row["threads"], row["rows"])
                     for row in read_csv(results / f"{name}.csv")]
        assert all(float(row["seconds_per_row"]) > 0 for row in read_csv(results / f"{name}.csv"))
    return out
