"""Robustness of the pipeline as a user runs it (`snakemake` with the default profile).

Bad input stops the run with a non-zero status and one clear message (the
`ERROR:` line of the failed job's log, which the profile's show-failed-logs
prints) naming the file or archive member and the problem; nothing is extracted
from a bad archive, nothing is written outside the work folder and no half-written
result is left. A run killed with SIGKILL reruns to the same results (after the
documented `snakemake ... --unlock`); concurrent runs in two work folders share
no temporary file; a cut download resumes and a bad checksum leaves nothing.

The library-level cases are in test_io.py, test_archive.py and test_download.py.
Runs use tiny generated archives and a reduced configuration (one or two formats,
few timed matrices, two timing repeats); the independent runs go in parallel.
"""

import ast
import concurrent.futures
import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import tarfile
import time

import numpy as np
import pandas as pd
import pytest
from http_server import LoopbackServer, Route
from pipeline_helpers import (
    ROOT,
    assert_results_complete,
    copy_workflow,
    deterministic_results,
    hidden_files,
    sha256,
    snakemake,
    snakemake_command,
    tiny_archive,
    write_config,
)

SMALL_MTX = b"%%MatrixMarket matrix coordinate real general\n3 3 2\n1 1 0.5\n3 2 -0.25\n"
# Runs that fail early: one format, nothing timed.
FAST = {"formats": ["CSC"], "time_matrices": [], "threads": [1], "timing": {"repeats": 2}}
# Complete runs (killed, concurrent): two formats, three matrices timed.
SMALL = {"formats": ["CSC", "HAM"], "time_matrices": ["small", "tiny_50-*"], "threads": [1],
         "timing": {"repeats": 2}}


def make_tar(path, members):
    """A tar.gz of `members`: (name, bytes) files or (name, "->", target) symbolic links."""
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            info = tarfile.TarInfo(member[0])
            if len(member) == 3:
                info.type, info.linkname = tarfile.SYMTYPE, member[2]
                tar.addfile(info)
            else:
                info.size, info.mode = len(member[1]), 0o644
                tar.addfile(info, io.BytesIO(member[1]))
    return path


def error_lines(output):
    return [line for line in output.splitlines() if "ERROR: " in line]


def files_under(folder):
    return sorted(str(p) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture(scope="module")
def pipeline_module():
    """workflow/scripts/_pipeline.py, the scripts' shared helpers."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_pipeline", ROOT / "workflow" / "scripts" / "_pipeline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dead_pid():
    """The pid of a process that has exited."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# ----------------------------------------------------------- bad local archives
#
# Each case: build(archive path, work folder, outside folder) writes the archive;
# expect(archive, work, outside) gives the strings the one ERROR line must hold;
# `stage` is where it fails: "archive" (nothing may be extracted), "layout" or
# "matrix" (a valid archive, extracted whole, with bad content).


def truncated(path, work, outside):
    whole = tiny_archive(path.with_name("whole.tar.gz")).read_bytes()
    path.write_bytes(whole[: len(whole) // 2])


def not_a_tar(path, work, outside):
    path.write_bytes(b"<html><body>this is not an archive</body></html>\n" * 40)


def dotdot_member(path, work, outside):
    # Relative to resources/paper/data (and to its temporary siblings), this member
    # names a file in `outside`, beside the work folder.
    escape = os.path.relpath(outside / "escaped.txt", work / "resources" / "paper" / "data")
    make_tar(path, [("sHAM_data/benchmark/data/matrices/small.mtx", SMALL_MTX),
                    (escape, b"written outside the tree\n")])


def symlink_out(path, work, outside):
    # A link to a folder outside, then a file written through it.
    folder = "sHAM_data/benchmark/data/matrices"
    make_tar(path, [(f"{folder}/small.mtx", SMALL_MTX), (f"{folder}/out", "->", str(outside)),
                    (f"{folder}/out/pwned.mtx", SMALL_MTX)])


def no_matrices(path, work, outside):
    make_tar(path, [("sHAM_data/README.txt", b"no matrices here\n"),
                    ("sHAM_data/other/data/values.csv", b"1,2\n3,4\n")])


def duplicate_names(path, work, outside):
    make_tar(path, [("sHAM_data/benchmark/data/matrices/x.mtx", SMALL_MTX),
                    ("sHAM_data/benchmark/data/matrices/x.csv", b"1,0\n0,2\n")])


def bad_csv(text):
    def build(path, work, outside):
        make_tar(path, [("sHAM_data/benchmark/data/matrices/small.mtx", SMALL_MTX),
                        ("sHAM_data/benchmark/data/matrices/bad.csv", text)])
    return build


BAD_CSV = "resources/paper/data/sHAM_data/benchmark/data/matrices/bad.csv"
CASES = {
    "truncated_gzip": (truncated, "archive",
                       lambda a, w, o: [f"{a}: ", "corrupt or truncated archive"]),
    "not_a_tar": (not_a_tar, "archive",
                  lambda a, w, o: [f"{a}: ", "not a readable tar or tar.gz archive"]),
    "dotdot_member": (dotdot_member, "archive",
                      lambda a, w, o: [f"{a}: member '../", "escaped.txt' has a '..' component"]),
    "symlink_out_of_tree": (symlink_out, "archive", lambda a, w, o: [
        f"{a}: member 'sHAM_data/benchmark/data/matrices/out' is a symbolic link (to '{o}')",
        "links are not accepted"]),
    "no_matrices": (no_matrices, "layout", lambda a, w, o: [
        "resources/paper/data: no matrices found", f"(from {a})"]),
    "duplicate_names": (duplicate_names, "layout", lambda a, w, o: [
        "matrices/x.mtx: matrix name 'x' is also used by ",
        "resources/paper/data/sHAM_data/benchmark/data/matrices/x.csv", f"(from {a})"]),
    "csv_with_nan": (bad_csv(b"1,2,3\n4,nan,6\n"), "matrix", lambda a, w, o: [
        f"{BAD_CSV}: 1 non-finite value(s) (NaN or Inf); first at row 2, column 2"]),
    "ragged_csv": (bad_csv(b"1,2,3\n4,5\n6,7,8\n"), "matrix", lambda a, w, o: [
        f"{BAD_CSV}: line 2 has 2 values, expected 3"]),
    # A good archive whose archive_sha256 is wrong.
    "sha256_mismatch": (lambda p, w, o: tiny_archive(p), "archive", lambda a, w, o: [
        f"{a}: sha256 mismatch: the file has {sha256(a)}, archive_sha256 expects {'ab' * 32}",
        "nothing was extracted"]),
}


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory, kernel_so):
    """Run every case (default target, dataset=paper, local archive), three at a time."""
    def run(case):
        build, stage, expect = CASES[case]
        base = tmp_path_factory.mktemp(case)
        work, outside = copy_workflow(base / "work", kernel_so), base / "outside"
        outside.mkdir()
        archive = base / "archives" / f"{case}.tar.gz"
        archive.parent.mkdir()
        build(archive, work, outside)
        config = dict(FAST, dataset="paper", archive=str(archive))
        if case == "sha256_mismatch":
            config["archive_sha256"] = "AB" * 32  # upper case is accepted
        result = snakemake(work, "--configfile", write_config(work, **config), check=False)
        return case, (result, work, outside, expect(archive, work, outside), stage)

    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        return dict(pool.map(run, CASES))


@pytest.mark.parametrize("case", list(CASES))
def test_bad_archive_stops_with_one_clear_message(bad_runs, case):
    result, work, outside, expected, stage = bad_runs[case]
    assert result.returncode != 0, result.stdout[-3000:]
    errors = error_lines(result.stdout)
    assert len(errors) == 1, f"expected one ERROR line, got {errors}:\n{result.stdout[-3000:]}"
    for text in expected:
        assert text in errors[0], f"{text!r} not in {errors[0]!r}"
    # Nothing escaped the work folder, and nothing there is a link.
    assert not list(outside.iterdir())
    assert not [p for p in work.rglob("*") if p.is_symlink()]
    data = work / "resources" / "paper" / "data"
    if stage == "archive":  # nothing extracted, no partial extraction left beside it
        assert not data.exists()
        assert not hidden_files(data.parent)
    else:  # a valid archive: extracted whole
        assert (data / ".extracted").is_file()
        assert not [p for p in data.parent.iterdir() if p.name.startswith(".")]
    if stage in ("archive", "layout"):
        assert not files_under(work / "results")  # not even an inventory
    assert_results_complete(work)
    assert not (work / "results" / "paper" / "space.csv").exists()


# ------------------------------------------------------ killed and concurrent runs


@pytest.fixture(scope="module")
def small_archive(tmp_path_factory):
    return tiny_archive(tmp_path_factory.mktemp("archive") / "tiny.tar.gz")


@pytest.fixture(scope="module")
def clean_runs(tmp_path_factory, kernel_so, small_archive):
    """Two complete runs of the same workflow and configuration, at the same time, in two
    work folders, with one shared (and otherwise empty) TMPDIR."""
    base = tmp_path_factory.mktemp("concurrent")
    shared_tmp = base / "tmp"
    shared_tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(shared_tmp))
    works, procs = [], []
    for name in ("a", "b"):
        work = copy_workflow(base / name, kernel_so)
        config = write_config(work, dataset="paper", archive=str(small_archive), **SMALL)
        out = open(work / "run.out", "w")
        procs.append(subprocess.Popen(snakemake_command("--configfile", config), cwd=work, env=env,
                                      stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL))
        works.append(work)
        out.close()
    for proc in procs:
        proc.wait(timeout=600)
    return [(proc.returncode, work) for proc, work in zip(procs, works)], shared_tmp


def test_concurrent_runs_in_two_folders_share_nothing(clean_runs):
    runs, shared_tmp = clean_runs
    for code, work in runs:
        assert code == 0, (work / "run.out").read_text()[-4000:]
        assert_results_complete(work)
        assert (work / "figures" / "paper" / "space_nets.pdf").is_file()
    (_, a), (_, b) = runs
    assert deterministic_results(a, "paper") == deterministic_results(b, "paper")
    assert not [p.name for p in shared_tmp.iterdir()], "temporaries left in TMPDIR"


def test_scripts_write_temporaries_beside_their_outputs():
    """Every temporary a script makes is in the output's folder under a unique name: no
    fixed names, no shared temporary folder (static check of workflow/)."""
    makers = {"mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryDirectory", "TemporaryFile",
              "SpooledTemporaryFile"}
    sources = sorted((ROOT / "workflow" / "scripts").glob("*.py"))
    sources += sorted((ROOT / "workflow" / "rules").glob("*.smk")) + [ROOT / "Snakefile"]
    for path in sources:
        text = path.read_text()
        assert not re.search(r"/tmp\b|/var/tmp|gettempdir|\bTMPDIR\b", text), path
        assert not re.search(r"""["'][^"'\s{}]+\.(tmp|part|partial)["']""", text), (
            f"{path}: a fixed temporary name")
        if path.suffix != ".py":
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", None))
                if name in makers:
                    assert "dir" in {k.arg for k in node.keywords}, (
                        f"{path}:{node.lineno}: {name}() without dir= (the output's folder)")


def test_atomic_writes_use_unique_names_and_clean_up_after_killed_writers(tmp_path, pipeline_module):
    _pipeline = pipeline_module
    out = tmp_path / "results" / "x.csv"
    host, dead = _pipeline._HOST, dead_pid()
    out.parent.mkdir(parents=True)
    stale = out.parent / f".x.csv.{host}.{dead}.abcdefgh.tmp"
    live = out.parent / f".x.csv.{host}.{os.getppid()}.abcdefgh.tmp"
    other = out.parent / f".y.csv.{host}.{dead}.abcdefgh.tmp"
    for path in (stale, live, other):
        path.write_text("matrix,form")
    with _pipeline.atomic_path(out, suffix=".tmp") as first, \
            _pipeline.atomic_path(out.with_name("x2.csv"), suffix=".tmp") as second:
        assert first.parent == out.parent and first != second
        assert first.name.startswith(f".x.csv.{host}.{os.getpid()}.")
        first.write_text("a\n1\n")
        second.write_text("a\n2\n")
    assert out.read_text() == "a\n1\n"
    assert not stale.exists() and live.exists() and other.exists()
    with pytest.raises(RuntimeError), _pipeline.atomic_path(out, suffix=".tmp") as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert out.read_text() == "a\n1\n"
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(
        ["x.csv", "x2.csv", live.name, other.name])


def test_run_killed_mid_job_reruns_to_the_same_results(tmp_path, kernel_so, small_archive, clean_runs,
                                                       pipeline_module):
    work = copy_workflow(tmp_path / "work", kernel_so)
    config = write_config(work, dataset="paper", archive=str(small_archive), **SMALL)
    args = ("--configfile", config)
    runs = work / "results" / "paper" / "runs"
    with open(work / "killed.out", "w") as out:
        proc = subprocess.Popen(snakemake_command(*args), cwd=work, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if runs.is_dir() and sum(1 for p in runs.rglob("*.csv") if not p.name.startswith(".")) >= 4:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # snakemake and its jobs (same process group)
        proc.wait()
    assert not (work / "results" / "paper" / "matrices.csv").exists(), "killed too late"
    # What a write killed midway leaves: a temporary of a process that no longer runs.
    leftover = work / "results" / "paper" / f".space.csv.{pipeline_module._HOST}.{dead_pid()}.x1y2z3w4.tmp"
    leftover.write_text("matrix,format,bits_per\n")

    # Snakemake's lock survives SIGKILL: a plain rerun says how to remove it.
    blocked = snakemake(work, *args, check=False)
    if blocked.returncode != 0:
        assert "LockException" in blocked.stdout and "--unlock" in blocked.stdout, blocked.stdout[-3000:]
        snakemake(work, *args, "--unlock")
    snakemake(work, *args)  # the profile's rerun-incomplete redoes the interrupted jobs

    assert_results_complete(work)  # the stale temporary is gone too
    assert not leftover.exists()
    code, reference = clean_runs[0][0]
    assert code == 0
    assert deterministic_results(work, "paper") == deterministic_results(reference, "paper")
    assert "Nothing to be done" in snakemake(work, *args, "-n").stdout


# --------------------------------------------------------------------- downloads


def test_cut_download_resumes_and_interrupted_extraction_is_cleaned(work, small_archive):
    """A previous run killed during the download (a .part) and during the extraction (a
    partial folder); this run's download is cut once more; all is resumed and cleaned."""
    body = small_archive.read_bytes()
    first, cut = len(body) // 4, len(body) // 4
    downloads, paper = work / "resources" / "downloads", work / "resources" / "paper"
    downloads.mkdir(parents=True)
    (downloads / "tiny.tar.gz.part").write_bytes(body[:first])
    partial = paper / ".data.partial-0123456789ab"
    (partial / "sHAM_data").mkdir(parents=True)
    (partial / "sHAM_data" / "half.csv").write_text("1,2\n3,")
    with LoopbackServer({"/tiny.tar.gz": Route(body=body, cut_after=cut)}) as server:
        config = write_config(work, dataset="paper", archive=server.url("/tiny.tar.gz"),
                              archive_sha256=sha256(small_archive), **FAST)
        result = snakemake(work, "resources/paper/data", "--configfile", config)
        ranges = [headers.get("Range") for _, headers in server.requests]
    assert ranges == [f"bytes={first}-", f"bytes={first + cut}-"], ranges
    assert (downloads / "tiny.tar.gz").read_bytes() == body
    assert sorted(p.name for p in downloads.iterdir()) == ["tiny.tar.gz"]
    assert sorted(p.name for p in paper.iterdir()) == ["data"]
    assert (paper / "data" / "sHAM_data" / "benchmark" / "data" / "matrices" / "small.mtx").is_file()
    log = (work / "logs" / "paper" / "download_archive.log").read_text()
    assert "retrying" in log, log
    assert "left by an interrupted extraction" in result.stdout + (
        work / "logs" / "paper" / "extract_archive.log").read_text()


def test_download_with_wrong_checksum_leaves_nothing(work, small_archive):
    body = small_archive.read_bytes()
    with LoopbackServer({"/tiny.tar.gz": Route(body=body)}) as server:
        url = server.url("/tiny.tar.gz")
        config = write_config(work, dataset="paper", archive=url, archive_sha256="0" * 64, **FAST)
        result = snakemake(work, "--configfile", config, check=False)
    assert result.returncode != 0
    errors = error_lines(result.stdout)
    assert len(errors) == 1, result.stdout[-3000:]
    assert f"could not get the archive: {url}: sha256 mismatch: expected {'0' * 64}, got " \
           f"{sha256(small_archive)}; the downloaded file was deleted" in errors[0]
    downloads = work / "resources" / "downloads"
    assert not downloads.exists() or not list(downloads.iterdir())
    assert not (work / "resources" / "paper").exists()
    assert not (work / "results").exists()


# ------------------------------------------------- reference and timing scripts


def run_script(name, kernel, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HAMSHAM_KERNEL_DIR": str(kernel.parent)}
    return subprocess.run([sys.executable, str(ROOT / "workflow" / "scripts" / name), *map(str, args)],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)


def test_reference_and_timing_scripts(tmp_path, kernel_so):
    """reference.py computes the float64 product from W's row blocks; time_product.py times
    from it and stops, naming the file, when the reference does not fit the matrix."""
    from hamsham.formats import compress, save
    from hamsham.timing import paper_input, reference_product

    W = np.random.default_rng(5).integers(-3, 4, (300, 40)).astype(np.float32)
    np.save(tmp_path / "W.npy", W)
    save(compress(W, "ham"), tmp_path / "W.npz")
    ref = tmp_path / "ref.npy"
    result = run_script("reference.py", kernel_so, "--npy", tmp_path / "W.npy", "--rows", 4, "--seed", 0,
                        "--output", ref, "--mem-mb", 500)
    assert result.returncode == 0, result.stdout
    assert np.allclose(np.load(ref), reference_product(paper_input(300, 4, 0), W), rtol=1e-13)
    timing = ["--encoded", tmp_path / "W.npz", "--matrix", "W", "--format", "HAM", "--threads", "1",
              "--rows", 4, "--repeats", 2, "--mem-mb", 500, "--output", tmp_path / "t.csv"]
    result = run_script("time_product.py", kernel_so, "--reference", ref, *timing)
    assert result.returncode == 0, result.stdout
    assert float(pd.read_csv(tmp_path / "t.csv")["max_rel_err"][0]) < 1e-6
    np.save(tmp_path / "short.npy", np.load(ref)[:, :-1])
    (tmp_path / "t.csv").unlink()
    result = run_script("time_product.py", kernel_so, "--reference", tmp_path / "short.npy", *timing)
    assert result.returncode == 1
    assert f"ERROR: {tmp_path / 'short.npy'}: the reference product has shape (4, 39), expected (4, 40)" \
        in result.stdout
    assert not (tmp_path / "t.csv").exists()
