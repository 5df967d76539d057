# Configuration, paths, code dependencies, memory needs and the helpers that the
# other rule files share.

import ast
import copy
import csv
import fnmatch
import math
import os
import shlex
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate
from snakemake_interface_executor_plugins.settings import DeploymentMethod

ROOT = Path(workflow.basedir)
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
SRC = ROOT / "src"

# The formats (hamsham.catalogue) and the memory readers (hamsham.memory) of this
# checkout; neither imports anything heavy.
sys.path.insert(0, str(SRC))
from hamsham import catalogue, memory

# ------------------------------------------------------------ configuration


def coerce_to_schema(value, schema):
    """`value` with the strings that `--config` hands over turned into the schema's types.

    Snakemake parses `--config key=value` itself only at the top level (int, float,
    bool, else YAML read as strings): `threads=[1]` arrives as ['1'] and
    `timing={rows: 4}` as {'rows': '4'}. Strings are read as YAML where the schema
    wants a number, boolean, null, list or mapping; a scalar given for a list becomes
    a one-item list. What still does not fit is left for the validation to report.
    """
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    if isinstance(value, str) and not (
        types == ["string"] or ("string" in types and value.lower() not in ("null", "none", "~"))
    ):
        try:
            value = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            return value
        if value is None and "null" not in types and "string" in types:
            return ""
    if "array" in types and value is not None and not isinstance(value, list):
        value = [value]
    if isinstance(value, list) and "items" in schema:
        return [coerce_to_schema(item, schema["items"]) for item in value]
    if isinstance(value, dict) and "properties" in schema:
        return {
            key: coerce_to_schema(item, schema["properties"].get(key, {}))
            for key, item in value.items()
        }
    if (
        "string" in types
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not {"integer", "number"} & set(types)
    ):
        return str(value)
    return value


def validate_config(config, schema):
    """Validate `config` against `schema` (the loaded schema file) with the formats of
    hamsham.catalogue as the allowed values of `formats` and all of them as its default
    (the schema file names none: the catalogue is their one list)."""
    schema = copy.deepcopy(schema)
    formats = schema["properties"]["formats"]
    formats["items"]["enum"] = catalogue.names()
    formats["default"] = catalogue.names()
    with tempfile.TemporaryDirectory(prefix="hamsham-schema-") as folder:
        path = Path(folder) / SCHEMA.name
        path.write_text(yaml.safe_dump(schema, sort_keys=False))
        validate(config, str(path))


with open(SCHEMA) as _handle:
    _SCHEMA = yaml.safe_load(_handle)
for _key in list(config):
    config[_key] = coerce_to_schema(config[_key], _SCHEMA["properties"].get(_key, {}))
validate_config(config, _SCHEMA)

DATASET = config["dataset"]
FORMATS = list(config["formats"])
THREADS = sorted(config["threads"])
MAX_THREADS = max(THREADS)
TIMING = config["timing"]
# The keys of the space model: formats and their upper bounds (the order of the results).
SPACE_FORMATS = catalogue.space_names()
# The names of the paper's tables (results/<dataset>/tables/<name>.{tex,md,html})
# and figures (figures/<dataset>/<name>.{pdf,png}).
TABLES = [
    f"{measure}_{part}" for part in ("nets", "benchmark") for measure in ("space", "energy", "time")
]
# Each network's accuracy against its space occupancy (rule accuracy_figure).
FIGURES = TABLES + ["accuracy_space_nets"]


# ------------------------------------------------------ code the rules run

# The compiled kernel lives in the source tree (src/hamsham/_kernel.so). The
# scripts put src/ first on sys.path (workflow/scripts/_pipeline.py), so the
# pipeline runs this checkout's hamsham whether or not it is installed.
SCRIPTS = ROOT / "workflow" / "scripts"
KERNEL = os.path.relpath(SRC / "hamsham" / "_kernel.so")
KERNEL_SOURCES = sorted(
    os.path.relpath(p)
    for pattern in ("build.sh", "CMakeLists.txt", "src/*")
    for p in (ROOT / "ext").glob(pattern)
    if p.is_file()
)


def _module_file(name):
    """The file of a module of ours (a workflow script helper or hamsham), or None."""
    parts = name.split(".")
    if parts[0] == "hamsham":
        base = SRC.joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None
    candidate = SCRIPTS / f"{name}.py"
    return candidate if len(parts) == 1 and candidate.is_file() else None


def _imports(path):
    """Modules of ours that `path` imports anywhere (top level or inside functions)."""
    names = set()
    for node in ast.walk(ast.parse(Path(path).read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            # `from hamsham import io` imports the submodule hamsham.io
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    found = set()
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c imports a and a.b first
            path = _module_file(".".join(parts[:i]))
            if path is not None:
                found.add(path)
    return found


# hamsham loads these by name from its catalogue: hamsham.formats the formats'
# classes, hamsham.model their model terms and the measures those terms read.
_LOADED_BY_NAME = {
    SRC / "hamsham" / "formats.py": ("cls",),
    SRC / "hamsham" / "model.py": ("space", "energy", "bound", "measure"),
}


def _loaded_by_name(path):
    """The files of the modules that module `path` loads through hamsham.catalogue."""
    names = catalogue.modules(*_LOADED_BY_NAME.get(path, ()))
    return {_module_file(name) for name in names} - {None}


_CODE_CACHE = {}


def code(script):
    """The files that running workflow/scripts/`script` reads: the script, the modules
    of ours it imports (transitively, with those it loads through hamsham.catalogue)
    and, when hamsham.kernel is among them, the compiled kernel.
    Rules take these as input, so an edit reruns exactly the jobs whose code changed,
    and a rule that needs no kernel never waits for it."""
    if script not in _CODE_CACHE:
        todo, seen = [SCRIPTS / script], set()
        while todo:
            path = todo.pop()
            if path not in seen:
                seen.add(path)
                todo.extend((_imports(path) | _loaded_by_name(path)) - seen)
        files = sorted(os.path.relpath(p) for p in seen)
        if SRC / "hamsham" / "kernel.py" in seen:
            files.append(KERNEL)
        _CODE_CACHE[script] = files
    return _CODE_CACHE[script]


def python(script):
    """The command that runs a workflow script (its path relative to the working folder)."""
    return f"python {shlex.quote(os.path.relpath(SCRIPTS / script))}"


# Shell rules call `python`. With --sdm conda that is the rule environment's;
# otherwise the folder of the interpreter that runs Snakemake (e.g. .venv/bin)
# goes first on the shell rules' PATH, which also gives ext/build.sh the venv's
# pybind11 and cmake.
if DeploymentMethod.CONDA not in workflow.deployment_settings.deployment_method:
    shell.prefix(
        f'set -euo pipefail; export PATH={shlex.quote(os.path.dirname(sys.executable))}:"$PATH"; '
    )


wildcard_constraints:
    dataset="demo|paper",
    matrix=r"[^/]+",
    net=r"[^/]+",
    format="|".join(catalogue.names()),


# ------------------------------------------------------ memory and timing

MIB = 2**20


# A local run never starts jobs whose declared memory adds up to more than the
# machine has (or `memory_mb`; a --resources mem_mb=... given by the user wins),
# and only one job holds the `timing` resource at a time. (This file is read before
# the executor is known, so the submitting side of a cluster run registers them too:
# there `mem_mb` is what one group job may use, set by profiles/slurm, and one timed
# group job runs at a time.)
if workflow.local_exec:
    LOCAL_MEMORY_MB = config["memory_mb"] or memory.limit_bytes() // MIB
    if "mem_mb" not in workflow.global_resources:
        workflow.register_resource("mem_mb", LOCAL_MEMORY_MB)
    if "timing" not in workflow.global_resources:
        workflow.register_resource("timing", 1)
else:
    LOCAL_MEMORY_MB = None

# What each job may need, as (MiB, multiple of its float32 matrix): an upper
# envelope of the peak resident memory measured with bench/scale.py on the
# look-alikes of imagenet (density 0.31) and census (density 0.57); the factors of
# the `encode` and `time` jobs are each format's in hamsham.catalogue. The model
# jobs also run the `measure` of every format that has one (it may encode the
# matrix): their factor is at least each such format's `encode` factor. At full size
# (imagenet 4333 MiB): encode dense 4539, HAM 4950, CSER 5891, sHAM 6163, IM 6706,
# CSC 7345 MiB; time IM 6589, dense 4499, CSC 2851 MiB; model 4374 MiB; to_npy
# and reference ~300 MiB (README, "At full size"). It is declared as the job's
# `mem_mb` and checked by its script before it loads the matrix. (CSC and sHAM
# grow with the density: a fully dense matrix would need more.)
MODEL_MEMORY = max([1.2] + [f.encode_memory for f in catalogue.FORMATS if f.measure])
MEMORY = {
    # rules whose need does not grow with a matrix
    "kernel": (1500, 0.0),  # CMake + g++
    "demo_nets": (1000, 0.0),
    "demo_benchmark": (600, 0.0),
    "download_archive": (300, 0.0),
    "primary_benchmark": (500, 0.0),  # streams the text line by line
    "extract_archive": (300, 0.0),
    "discover": (300, 0.0),  # reads the first 64 KiB of each file
    "aggregate": (1000, 0.0),
    "table": (500, 0.0),
    "figure": (600, 0.0),
    "benchmarks": (300, 0.0),
    # per-matrix rules
    "to_npy": (500, 0.0),  # streams the text in blocks
    "reference": (500, 0.0),  # reads the matrix in row blocks
    "model": (400, MODEL_MEMORY),
    "net_model": (400, MODEL_MEMORY),  # the layers one after the other (declared for all)
    **{("encode", f.name): (400, f.encode_memory) for f in catalogue.FORMATS},
    **{("time", f.name): (400, f.time_memory) for f in catalogue.FORMATS},
}


def matrix_mb(wildcards):
    """The float32 matrix's size in MiB (its .npy), 0 while it does not exist yet."""
    path = npy(wildcards.dataset, wildcards.matrix)
    return os.path.getsize(path) / MIB if os.path.exists(path) else 0.0


def layers_mb(wildcards):
    """The float32 size in MiB of a network's layers (those that exist yet)."""
    paths = [npy(wildcards.dataset, name) for name in net_layers(wildcards.dataset, wildcards.net)]
    return sum(os.path.getsize(path) for path in paths if os.path.exists(path)) / MIB


def memory_need_mb(step, size_mb, what):
    """MiB that `step` (a rule, or (rule, format)) needs for a matrix of `size_mb`; stops
    the run with a clear message, before the job starts, when it cannot have that much."""
    fixed, factor = MEMORY[step]
    step = "/".join(step) if isinstance(step, tuple) else step
    need = int(math.ceil(fixed + factor * size_mb))
    # Checked where the job runs: a local run, or inside a cluster job (against its
    # node). Not on the submitting side of a cluster run (this file is read before the
    # executor is known; `workflow.local_exec` is right by the time jobs are sized):
    # there SLURM grants memory per job on nodes larger than the login node.
    if LOCAL_MEMORY_MB is not None and workflow.local_exec and need > LOCAL_MEMORY_MB:
        raise WorkflowError(
            f"{what} needs {need} MiB of memory for its {step} step ({size_mb:.0f} MiB as float32), "
            f"but this run may use {LOCAL_MEMORY_MB} MiB (memory_mb, or the machine's). Run it on a "
            f"larger machine or a cluster (profiles/slurm), or leave it out of the archive."
        )
    return need


def memory(step):
    """A `mem_mb` resource function for a per-matrix step."""

    def mem_mb(wildcards, attempt):
        key = (step, wildcards.format) if step in ("encode", "time") else step
        return memory_need_mb(key, matrix_mb(wildcards), f"matrix {wildcards.matrix}")

    return mem_mb


# Run time (minutes) that a per-matrix job may take on a cluster, as (fixed, minutes
# per GiB of the float32 matrix): the SLURM profile requests it (`runtime`, sbatch -t),
# Snakemake sums it over the layers of a group job; a local run ignores it. SLURM
# kills a job that overruns, so these err high: far above what bench/bench.py measures
# (an encoding, or a whole timing job with its 25 calls per thread count, takes
# seconds per 100 MiB). to_npy is sized by the text it parses (its .npy does not
# exist yet).
RUNTIME = {
    "to_npy": (5, 20.0),  # per GiB of text
    "reference": (5, 5.0),
    "model": (5, 10.0),
    "net_model": (5, 10.0),
    "encode": (5, 15.0),
    "time": (5, 30.0),
}


def runtime_min(step):
    """A `runtime` resource function (minutes) for a per-matrix step."""
    fixed, per_gib = RUNTIME[step]

    def runtime(wildcards):
        if step == "to_npy":
            source = matrix_row(wildcards.dataset, wildcards.matrix)["path"]
            size_mb = os.path.getsize(source) / MIB if os.path.exists(source) else 0.0
        elif step == "net_model":
            size_mb = layers_mb(wildcards)
        else:
            size_mb = matrix_mb(wildcards)
        return int(math.ceil(fixed + per_gib * size_mb / 1024))

    return runtime


def timing_threads(wildcards):
    """A timed job takes every core of the run: nothing else runs while it times."""
    try:
        return max(MAX_THREADS, int(workflow.cores))
    except (WorkflowError, TypeError, ValueError):
        return MAX_THREADS


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
    ARCHIVE_URL = ARCHIVE
else:
    ARCHIVE_FILE = ARCHIVE
    # Only the default location is filled from the published link by itself.
    ARCHIVE_URL = config["archive_url"] if os.path.normpath(ARCHIVE) == DEFAULT_ARCHIVE else None
PRIMARY = config["benchmark_source"] == "primary"


def manual_instructions(path=DEFAULT_ARCHIVE):
    return (
        f"  Get sHAM_data.tar.gz with a web browser from its landing page\n"
        f"    {LANDING_PAGE}\n"
        f"  and put it at\n"
        f"    {os.path.abspath(path)}\n"
        f"  or point the pipeline at it: --config dataset=paper archive=/path/to/sHAM_data.tar.gz\n"
        f"  (a direct http(s) URL works too; add archive_sha256=<hex> to check it).\n"
        f"  Without the archive, --config benchmark_source=primary builds the benchmark matrices\n"
        f"  from their primary sources (SuiteSparse, UCI); the networks need the archive."
    )


if (
    DATASET == "paper"
    and not PRIMARY
    and not ARCHIVE_IS_URL
    and ARCHIVE_URL is None
    and not os.path.isfile(ARCHIVE_FILE)
):
    raise WorkflowError(
        f"dataset=paper needs the study's data archive, and there is no file at '{ARCHIVE_FILE}'.\n"
        + manual_instructions()
    )


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


def encoded(dataset, name, fmt):
    return f"resources/{dataset}/encoded/{name}/{fmt}.npz"


# ------------------------------------------------------------- input functions


def dataset_data(wildcards):
    if wildcards.dataset == "demo":
        return ["resources/demo/data/nns", "resources/demo/data/benchmark"]
    return ["resources/paper/data"]


def run_files(wildcards):
    dataset = wildcards.dataset
    names = matrix_names(dataset)
    timed = [name for name in names if is_timed(name)]
    nets = net_names(dataset)
    runs = f"results/{dataset}/runs"
    return {
        "stats": [f"{runs}/matrix/{name}.csv" for name in names],
        "space": [f"{runs}/space/{name}.csv" for name in names],
        "energy": [f"{runs}/energy/{name}.csv" for name in names],
        "encode": [f"{runs}/encode/{name}/{fmt}.csv" for name in names for fmt in FORMATS],
        "time": [f"{runs}/time/{name}/{fmt}.csv" for name in timed for fmt in FORMATS],
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
    names = [
        "matrices",
        "space",
        "energy",
        "time",
        "encode",
        "nets_space",
        "nets_energy",
        "nets_time",
    ]
    return [f"results/{dataset}/{name}.csv" for name in names]


def table_outputs(dataset):
    return [
        f"results/{dataset}/tables/{name}.{ext}" for name in TABLES for ext in ("tex", "md", "html")
    ]


def figure_outputs(dataset):
    return [f"figures/{dataset}/{name}.{ext}" for name in FIGURES for ext in ("pdf", "png")]


def final_outputs(dataset):
    return (
        aggregated_outputs(dataset)
        + table_outputs(dataset)
        + figure_outputs(dataset)
        + [f"results/{dataset}/benchmarks.csv"]
    )
