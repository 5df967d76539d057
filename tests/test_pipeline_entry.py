"""`snakemake --cores N` as users type it: the default profile, --config overrides of every
kind, timings that never overlap, reruns after code edits, the data from the published
landing page or from primary sources, parts of the data that are absent, and memory."""

import csv
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from pipeline_helpers import (
    FORMATS,
    ROOT,
    check_outputs,
    read_csv,
    snakemake,
    tiny_archive,
    write_config,
)

sys.path.insert(0, str(Path(__file__).parent))
import test_landing  # noqa: E402
import test_primary  # noqa: E402
from http_server import LoopbackServer, Route  # noqa: E402

PER_MATRIX_RULES = ("to_npy", "reference", "model", "encode", "time")


def job_counts(output):
    """{rule: count} from Snakemake's "Job stats" table."""
    table = output.split("Job stats:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE) if m[1] != "total"}


def job_spans(work):
    """(log, start, finish) of every job whose script logged its start and finish."""
    spans = []
    for path in (Path(work) / "logs").rglob("*.log"):
        text = path.read_text(errors="replace")
        start = re.search(r"job started at (\d+\.\d+)", text)
        finish = re.search(r"job finished at (\d+\.\d+)", text)
        if start and finish:
            spans.append((path, float(start[1]), float(finish[1])))
    return spans


# ------------------------------------------------------------ entry and config


def test_plain_snakemake_uses_the_default_profile(work):
    result = snakemake(work, "-n")
    assert "Using workflow specific profile profiles/default" in result.stdout


@pytest.mark.parametrize("overrides", [
    ["threads=[1]"],  # a list of numbers
    ["threads=2"],  # a scalar where the schema wants a list
    ["timing={repeats: 3, rows: 4}"],  # a nested mapping of numbers
    ["demo={pruning: [50, 90], clusters: [4]}"],  # nested lists
    ["archive_sha256=null", "memory_mb=8000", "time_matrices=[mlp_*]"],  # null, number, strings
])
def test_config_overrides_of_every_kind(work, overrides):
    result = snakemake(work, "-n", "--config", *overrides, check=False)
    assert result.returncode == 0, result.stdout[-3000:]


def test_config_override_that_does_not_fit_is_reported(work):
    result = snakemake(work, "-n", "--config", "threads=[zero]", check=False)
    assert result.returncode != 0
    assert "zero" in result.stdout and "threads" in result.stdout


@pytest.mark.slow
def test_overrides_reach_the_jobs(work, tmp_path):
    archive = tiny_archive(tmp_path / "tiny.tar.gz")
    result = snakemake(work, "--config", "dataset=paper", f"archive={archive}", "threads=[1]",
                       "formats=[HAM, CSC]", "timing={rows: 4, repeats: 2}", "time_matrices=[small]")
    # a local run limits the jobs' declared memory to the machine's, and timings to one at a time
    assert re.search(r"Provided resources: .*mem_mb=Resource\(\"mem_mb\", \d+\)", result.stdout)
    assert 'timing=Resource("timing", 1)' in result.stdout
    time_rows = read_csv(work / "results" / "paper" / "time.csv")
    assert {(r["matrix"], r["format"], r["threads"], r["rows"]) for r in time_rows} == {
        ("small", "HAM", "1", "4"), ("small", "CSC", "1", "4")}


# ------------------------------------------------------------------ timings


@pytest.mark.slow
def test_timings_never_overlap_other_jobs_at_4_cores(work, tmp_path):
    """At --cores 4 (more than the 2 timing threads), while a product is timed no other
    job runs: checked from the run's own records (time CSVs, job logs)."""
    archive = tiny_archive(tmp_path / "tiny.tar.gz")
    snakemake(work, "--config", "dataset=paper", f"archive={archive}", "threads=[1, 2]",
              "timing={repeats: 40}", cores=4)
    windows = [(r["matrix"], r["format"], float(r["timed_from"]), float(r["timed_to"]))
               for r in read_csv(work / "results" / "paper" / "time.csv")]
    assert len(windows) == 5 * len(FORMATS) * 2
    spans = job_spans(work)
    for matrix, fmt, start, end in windows:
        own = Path("logs", "paper", "time", matrix, f"{fmt}.log")
        for path, job_start, job_end in spans:
            if path.relative_to(work) != own:
                assert job_end <= start or job_start >= end, (
                    f"{path} ran from {job_start} to {job_end}, while {matrix} {fmt} was timed "
                    f"({start} to {end})")
    # Other jobs did run side by side (the check above can fail).
    others = sorted((s, e) for p, s, e in spans if "/time/" not in str(p))
    assert any(b[0] < a[1] for a, b in zip(others, others[1:])), "no two jobs ever overlapped"


# ------------------------------------------------------------- code changes


def edit(path):
    """Change `path` (a comment at its end): Snakemake reruns on new content, not on a touch."""
    comment = "// edited\n" if path.suffix == ".cpp" else "# edited\n"
    path.write_text(path.read_text() + comment)
    stamp = time.time() + 2
    os.utime(path, (stamp, stamp))


@pytest.mark.slow
def test_an_edit_reruns_exactly_what_depends_on_it(work, tmp_path):
    archive = tiny_archive(tmp_path / "tiny.tar.gz")
    config = ["--config", "dataset=paper", f"archive={archive}", "threads=[1]", "formats=[HAM, CSC]",
              "timing={repeats: 2}"]
    snakemake(work, *config)
    assert "Nothing to be done" in snakemake(work, *config, "-n").stdout
    downstream = {"aggregate", "table", "figure", "accuracy_figure", "benchmarks", "all"}

    edit(work / "src" / "hamsham" / "model.py")
    assert set(job_counts(snakemake(work, *config, "-n").stdout)) == {"model", "net_model"} | downstream
    snakemake(work, *config)

    edit(work / "workflow" / "scripts" / "figures.py")
    assert set(job_counts(snakemake(work, *config, "-n").stdout)) == {
        "figure", "accuracy_figure", "benchmarks", "all"}
    snakemake(work, *config)

    edit(work / "src" / "hamsham" / "timing.py")  # encoded files are temporary: re-timing re-encodes
    assert set(job_counts(snakemake(work, *config, "-n").stdout)) == {"reference", "encode", "time"} | downstream
    snakemake(work, *config)

    edit(work / "ext" / "src" / "kernels.cpp")  # rebuilds the kernel; loading and extraction stay
    assert set(job_counts(snakemake(work, *config, "-n").stdout)) == {
        "kernel", "model", "net_model", "encode", "time"} | downstream


# --------------------------------------------------------------- the data


def landing_routes(archive_bytes, page=None):
    link = "/xyz/sHAM_data.tar.gz"
    return {
        test_landing.LANDING: Route(body=page or test_landing.page(button=test_landing.button("LINK"))),
        link: Route(body=archive_bytes),
    }, link


@pytest.mark.slow
def test_paper_data_from_the_published_landing_page(work, tmp_path):
    """No archive on disk: the landing page (a look-alike on loopback) is resolved to its
    direct link and the archive downloaded, then the whole run."""
    archive = tiny_archive(tmp_path / "tiny.tar.gz").read_bytes()
    routes, link = landing_routes(archive)
    env = {**os.environ, "HAMSHAM_TEST_LANDING_HOSTS": "127.0.0.1"}
    with LoopbackServer(routes) as server:
        routes[test_landing.LANDING].body = test_landing.page(button=test_landing.button(server.url(link)))
        snakemake(work, "--config", "dataset=paper", f"archive_url={server.url(test_landing.LANDING)}",
                  "threads=[1]", "timing={repeats: 2}", env=env)
    assert (work / "resources" / "sHAM_data.tar.gz").read_bytes() == archive
    check_outputs(work, "paper")
    assert len(read_csv(work / "results" / "paper" / "matrices.csv")) == 5


@pytest.mark.parametrize("page, reason", [
    (test_landing.page(body='<form action="/captcha"><div class="g-recaptcha"></div></form>'), "captcha"),
    (test_landing.page(body="<h1>File Removed</h1>"), "removed"),
])
def test_landing_page_failure_stops_with_the_reason_and_manual_route(work, tmp_path, page, reason):
    routes, _ = landing_routes(b"", page=page)
    env = {**os.environ, "HAMSHAM_TEST_LANDING_HOSTS": "127.0.0.1"}
    with LoopbackServer(routes) as server:
        result = snakemake(work, "--config", "dataset=paper",
                           f"archive_url={server.url(test_landing.LANDING)}", "--until", "download_archive",
                           env=env, check=False)
    assert result.returncode != 0
    assert reason in result.stdout.lower()
    assert "resources/sHAM_data.tar.gz" in result.stdout and "archive=" in result.stdout
    assert not (work / "resources" / "sHAM_data.tar.gz").exists()


@pytest.mark.slow
def test_benchmark_matrices_from_primary_sources_without_networks(work):
    """benchmark_source=primary: SuiteSparse and UCI files (their formats, on loopback) are
    converted into the archive layout; the absent networks are skipped with a note."""
    with LoopbackServer(test_primary.routes()) as server:
        urls = test_primary.urls(server)
        config = write_config(work, dataset="paper", benchmark_source="primary", primary_urls=urls,
                              threads=[1], timing={"repeats": 2})
        snakemake(work, "--configfile", config)
    results = check_outputs(work, "paper")
    matrices = {row["matrix"]: row for row in read_csv(results / "matrices.csv")}
    assert set(matrices) == {"orsreg_1", "SiNa", "covtype", "census"}
    assert (matrices["covtype"]["cols"], matrices["census"]["cols"]) == ("54", "68")
    assert read_csv(results / "nets_space.csv") == []
    assert "No networks" in (results / "tables" / "space_nets.md").read_text()
    assert "note: no networks" in (work / "logs" / "paper" / "discover.log").read_text()


def test_archive_expanding_past_the_limit_is_refused(work, tmp_path):
    archive = tiny_archive(tmp_path / "tiny.tar.gz")
    result = snakemake(work, "--config", "dataset=paper", f"archive={archive}", "max_archive_bytes=100",
                       "--until", "extract_archive", check=False)
    assert result.returncode != 0
    assert "passes 100 bytes" in result.stdout and "max_archive_bytes" in result.stdout, result.stdout[-3000:]
    assert not (work / "resources" / "paper" / "data").exists()


def test_a_member_that_is_no_matrix_is_refused_within_seconds(work, tmp_path):
    """200 MB of binary bytes named like a matrix: refused when the archive is listed,
    naming the file, not after minutes of parsing (or a MemoryError)."""
    junk = tmp_path / "benchmark" / "data" / "matrices" / "junk.csv"
    junk.parent.mkdir(parents=True)
    with open(junk, "wb") as handle:
        for _ in range(200):
            handle.write(os.urandom(1 << 20))
    archive = write_tar(tmp_path / "junk.tar", {"benchmark": tmp_path / "benchmark"})
    start = time.monotonic()
    result = snakemake(work, "--config", "dataset=paper", f"archive={archive}", "--until", "discover",
                       check=False)
    assert result.returncode != 0
    assert "junk.csv" in result.stdout and "binary" in result.stdout, result.stdout[-3000:]
    assert time.monotonic() - start < 60
    assert "MemoryError" not in result.stdout


# ------------------------------------------------------------------ memory


def write_tar(path, files):
    with tarfile.open(path, "w") as tar:
        for name, source in files.items():
            tar.add(source, arcname=name)
    return path


@pytest.mark.slow
def test_memory_bound_on_a_scaled_down_lookalike(work, tmp_path):
    """imagenet's look-alike at 1/16 of its rows (78881 x 900, 284 MB as float32): every
    per-matrix job keeps under 1.6 x matrix + 1 GiB, and under what it declared."""
    subprocess.run([sys.executable, str(ROOT / "bench" / "lookalike.py"), str(tmp_path / "data"),
                    "--scale", "0.0625", "--names", "imagenet"], check=True)
    archive = write_tar(tmp_path / "look.tar", {"benchmark": tmp_path / "data" / "benchmark"})
    snakemake(work, "--config", "dataset=paper", f"archive={archive}", "threads=[1]",
              "timing={repeats: 2}", timeout=1200)
    rows = list(csv.DictReader(open(work / "results" / "paper" / "benchmarks.csv", newline="")))
    per_matrix = [row for row in rows if row["rule"] in PER_MATRIX_RULES]
    assert {row["rule"] for row in per_matrix} == set(PER_MATRIX_RULES)
    assert len(per_matrix) == 3 + 2 * len(FORMATS)
    for row in per_matrix:
        peak, matrix = float(row["peak_rss_mib"]), float(row["matrix_mib"])
        assert matrix > 250
        assert peak <= 1.6 * matrix + 1024, row
        assert row["within_bound"] == "True"
        assert peak <= float(row["declared_mib"]), f"{row['rule']} {row['job']}: peak above its declared need"


def test_too_large_a_matrix_stops_before_it_is_loaded(work, tmp_path):
    """A run allowed less memory (memory_mb) than a matrix's jobs need stops, naming the
    matrix and the memory it needs, instead of being killed."""
    subprocess.run([sys.executable, str(ROOT / "bench" / "lookalike.py"), str(tmp_path / "data"),
                    "--scale", "0.35", "--names", "census"], check=True)
    archive = write_tar(tmp_path / "look.tar", {"benchmark": tmp_path / "data" / "benchmark"})
    result = snakemake(work, "--config", "dataset=paper", f"archive={archive}", "memory_mb=900",
                       check=False)
    assert result.returncode != 0
    assert re.search(r"matrix census needs \d+ MiB of memory", result.stdout), result.stdout[-3000:]
    assert not list((work / "results" / "paper" / "runs").glob("encode/census/*.csv"))
