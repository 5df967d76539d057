# Configuration, paths and the helpers that the other rule files share.

import csv
import fnmatch
import os
import shlex
import sys
from pathlib import Path
from urllib.parse import urlparse

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate
from snakemake_interface_executor_plugins.settings import DeploymentMethod


validate(config, "../schemas/config.schema.yaml")

DATASET = config["dataset"]
FORMATS = list(config["formats"])
THREADS = sorted(config["threads"])
MAX_THREADS = max(THREADS)
TIMING = config["timing"]
# The space model also reports the two upper bounds.
SPACE_FORMATS = ["HAM", "sHAM", "CSC", "IM", "CSER", "dense", "HAM-ub", "sHAM-ub"]
# The names of the paper's tables (results/<dataset>/tables/<name>.{tex,md,html})
# and figures (figures/<dataset>/<name>.{pdf,png}).
TABLES = [
    f"{measure}_{part}"
    for part in ("nets", "benchmark")
    for measure in ("space", "energy", "time")
]
FIGURES = TABLES

ROOT = Path(workflow.basedir)
# Relative to the working directory, so that moving the project changes no params.
SCRIPTS = Path(os.path.relpath(ROOT / "workflow" / "scripts"))
# The compiled kernel lives in the source tree (src/hamsham/_kernel.so); every
# rule that imports hamsham takes it as input, and the scripts put its src/
# folder first on sys.path, so the pipeline works without `make install`.
KERNEL = os.path.relpath(ROOT / "src" / "hamsham" / "_kernel.so")
KERNEL_SOURCES = sorted(
    os.path.relpath(p)
    for pattern in ("build.sh", "CMakeLists.txt", "*.cmake", "src/*", "include/*")
    for p in (ROOT / "ext").glob(pattern)
    if p.is_file()
)

# Shell rules call `python`. With --sdm conda that is the rule environment's;
# otherwise the folder of the interpreter that runs Snakemake (e.g. .venv/bin)
# goes first on the shell rules' PATH, which also gives ext/build.sh the venv's
# pybind11 and cmake.
if DeploymentMethod.CONDA not in workflow.deployment_settings.deployment_method:
    shell.prefix(f"set -euo pipefail; export PATH={shlex.quote(os.path.dirname(sys.executable))}:\"$PATH\"; ")


wildcard_constraints:
    dataset="demo|paper",
    matrix=r"[^/]+",
    net=r"[^/]+",
    format="|".join(["HAM", "sHAM", "CSC", "IM", "CSER", "dense"]),


# ---------------------------------------------------------------- the archive

LANDING_PAGE = "https://www.mediafire.com/file/m0cjv959w4melbu/sHAM_data.tar.gz/file"
DEFAULT_ARCHIVE = "resources/sHAM_data.tar.gz"
ARCHIVE = str(config["archive"])
ARCHIVE_IS_URL = urlparse(ARCHIVE).scheme in ("http", "https")
if ARCHIVE_IS_URL:
    _name = os.path.basename(urlparse(ARCHIVE).path.rstrip("/"))
    if _name in ("", "file") or "." not in _name:
        _name = "sHAM_data.tar.gz"
    ARCHIVE_FILE = f"resources/downloads/{_name}"
else:
    ARCHIVE_FILE = ARCHIVE


def missing_archive_message(path):
    return (
        f"dataset=paper needs the study's data archive, and there is no file at "
        f"'{path}'.\n"
        f"  Get sHAM_data.tar.gz with a web browser from its landing page\n"
        f"    {LANDING_PAGE}\n"
        f"  (that address is an HTML page, not a direct download) and put it at\n"
        f"    {os.path.abspath(DEFAULT_ARCHIVE)}\n"
        f"  or point the pipeline at it: --config dataset=paper archive=/path/to/sHAM_data.tar.gz\n"
        f"  (a direct http(s) URL works too; add archive_sha256=<hex> to check it)."
    )


if DATASET == "paper" and not ARCHIVE_IS_URL and not os.path.isfile(ARCHIVE_FILE):
    raise WorkflowError(missing_archive_message(ARCHIVE_FILE))


# ------------------------------------------------------- data and its matrices


def data_root(dataset):
    """The folder that hamsham.archive.discover() searches."""
    return f"resources/{dataset}/data"


def inventory_file(wildcards):
    """The checkpoint's inventory: asking for it defers the DAG until discovery ran."""
    return checkpoints.discover.get(dataset=wildcards.dataset).output.inventory


_INVENTORY_CACHE = {}


def inventory(dataset):
    """Rows of results/<dataset>/inventory.csv (name, path, group, net, layer, ...)."""
    path = checkpoints.discover.get(dataset=dataset).output.inventory
    key = (path, os.path.getmtime(path))
    if key not in _INVENTORY_CACHE:
        with open(path, newline="") as handle:
            _INVENTORY_CACHE[key] = list(csv.DictReader(handle))
    return _INVENTORY_CACHE[key]


def matrix_names(dataset):
    return [row["name"] for row in inventory(dataset)]


def matrix_row(dataset, name):
    for row in inventory(dataset):
        if row["name"] == name:
            return row
    raise WorkflowError(f"no matrix named {name!r} in the {dataset} inventory")


def net_names(dataset):
    return sorted({row["net"] for row in inventory(dataset) if row["net"]})


def net_layers(dataset, net):
    rows = [row for row in inventory(dataset) if row["net"] == net]
    return [row["name"] for row in sorted(rows, key=lambda row: row["layer"])]


def is_timed(name):
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in config["time_matrices"])


def npy(dataset, name):
    return f"resources/{dataset}/npy/{name}.npy"


# ------------------------------------------------------------- input functions


def dataset_data(wildcards):
    if wildcards.dataset == "demo":
        return ["resources/demo/data/nns", "resources/demo/data/benchmark"]
    return ["resources/paper/data"]


def run_files(wildcards):
    dataset = wildcards.dataset
    names = matrix_names(dataset)
    nets = net_names(dataset)
    runs = f"results/{dataset}/runs"
    return {
        "stats": [f"{runs}/matrix/{name}.csv" for name in names],
        "space": [f"{runs}/space/{name}.csv" for name in names],
        "energy": [f"{runs}/energy/{name}.csv" for name in names],
        "encode": [f"{runs}/encode/{name}/{fmt}.csv" for name in names for fmt in FORMATS],
        "time": [f"{runs}/time/{name}/{fmt}.csv" for name in names for fmt in FORMATS],
        "nets_space": [f"{runs}/nets_space/{net}.csv" for net in nets],
        "nets_energy": [f"{runs}/nets_energy/{net}.csv" for net in nets],
    }


def measure_inputs(wildcards):
    prefix = "nets_" if wildcards.part == "nets" else ""
    return {
        "data": f"results/{wildcards.dataset}/{prefix}{wildcards.measure}.csv",
        "matrices": f"results/{wildcards.dataset}/matrices.csv",
        "inventory": inventory_file(wildcards),
    }


# ------------------------------------------------------------------ targets


def aggregated_outputs(dataset):
    names = ["matrices", "space", "energy", "time", "encode", "nets_space", "nets_energy", "nets_time"]
    return [f"results/{dataset}/{name}.csv" for name in names]


def table_outputs(dataset):
    return [
        f"results/{dataset}/tables/{name}.{ext}"
        for name in TABLES
        for ext in ("tex", "md", "html")
    ]


def figure_outputs(dataset):
    return [f"figures/{dataset}/{name}.{ext}" for name in FIGURES for ext in ("pdf", "png")]


def final_outputs(dataset):
    return aggregated_outputs(dataset) + table_outputs(dataset) + figure_outputs(dataset)


def source_mb(wildcards):
    """Size in MB of a matrix's source file (for memory requests)."""
    path = matrix_row(wildcards.dataset, wildcards.matrix)["path"]
    return int(os.path.getsize(path) / 1e6) if os.path.exists(path) else 0
