"""The Snakemake pipeline, run through its command line in temporary copies of the workflow.

Each test copies Snakefile, config.yaml, workflow/, envs/, ext/ and src/ into its
own folder and runs `snakemake` there (the venv's, beside sys.executable). The
compiled kernel of the checkout is reused (copied and made newer than ext/, so
the `kernel` rule does not rebuild it); without one, the `kernel` rule builds it
once for the session. The helpers are in tests/pipeline_helpers.py.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pipeline_helpers import (
    COLUMNS,
    ENERGY_FORMATS,
    FORMATS,
    ROOT,
    SPACE_FORMATS,
    check_outputs,
    header,
    read_csv,
    serve,
    sha256,
    snakemake,
    tiny_archive,
    write_config,
)

SUBSET = Path(os.environ.get(
    "HAMSHAM_SUBSET", ROOT.parent / "shared" / "data" / "sham_data_subset.tar.gz"))
SUBSET_SHA256 = "0799801b739341ca17444dc3034739eb35c39a2bb446661c2e36c76095a68a5e"
LANDING_PAGE = "https://www.mediafire.com/file/m0cjv959w4melbu/sHAM_data.tar.gz/file"


# ------------------------------------------------------------------- tests


def test_lint(work):
    result = snakemake(work, "--lint", check=False)
    assert result.returncode == 0, result.stdout


def test_dry_run_demo(work):
    result = snakemake(work, "-n")
    for rule in ("demo_nets", "demo_benchmark", "discover"):
        assert rule in result.stdout
    assert not re.search(r"^kernel\s+\d+$", result.stdout, re.MULTILINE)  # reused, not rebuilt


def test_dry_run_paper(work, tmp_path):
    archive = tiny_archive(tmp_path / "tiny.tar.gz")
    result = snakemake(work, "-n", "--config", "dataset=paper", f"archive={archive}")
    assert "extract_archive" in result.stdout and "discover" in result.stdout


def test_dry_run_slurm_profile(work):
    result = snakemake(work, "-n", profile="slurm")
    assert "profiles/slurm" in result.stdout and "demo_nets" in result.stdout


def test_kernel_is_portable_unless_native_is_asked_for():
    """ext/build.sh builds a portable kernel (it runs on every node of a cluster, in a SLURM
    job or not); HAMSHAM_NATIVE=ON asks for -march=native."""

    def native(**env):
        base = {k: v for k, v in os.environ.items() if k not in ("SLURM_JOB_ID", "HAMSHAM_NATIVE")}
        result = subprocess.run(["bash", str(ROOT / "ext" / "build.sh"), "--native"],
                                env={**base, **env}, capture_output=True, text=True)
        return result.stdout.strip() or result.stderr

    assert native() == "OFF"
    assert native(SLURM_JOB_ID="42") == "OFF"
    assert native(HAMSHAM_NATIVE="on") == "ON"
    assert native(SLURM_JOB_ID="42", HAMSHAM_NATIVE="ON") == "ON"
    assert "HAMSHAM_NATIVE must be ON or OFF" in native(HAMSHAM_NATIVE="auto")


def test_slurm_profile_fits_a_two_cpu_node():
    """The SLURM profile's requests fit the CI's one-node cluster (2 CPUs): no thread
    count above `cores`, timed jobs exclusive, the per-matrix jobs grouped."""
    import yaml

    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    assert profile["cores"] <= 2
    assert all(int(n) <= profile["cores"] for n in profile.get("set-threads", {}).values())
    assert "--exclusive" in profile["set-resources"]["time"]["slurm_extra"]
    assert profile["slurm-status-command"] == "squeue"
    for rule in ("to_npy", "reference", "model", "encode", "time", "net_model"):
        assert profile["groups"][rule] in profile["group-components"]


def test_slurm_profile_groups_every_rule_but_the_single_jobs(work):
    """Each rule is grouped in the SLURM profile, or one of the single jobs of a run: a new
    rule left out of the `report` group would make Snakemake refuse the whole cluster run
    ("depends on rule(s) ... from outside the group"), which a dry run does not show."""
    import yaml

    single = {"all", "kernel", "demo_nets", "demo_benchmark", "discover", "download_archive",
              "extract_archive", "primary_benchmark"}
    result = snakemake(work, "--list-rules")
    rules = {line.strip() for line in result.stdout.splitlines()
             if line.strip() and " " not in line.strip() and not line.startswith("Using")}
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    assert set(profile["groups"]) == rules - single  # (the demo's rules)


def test_config_is_validated(work):
    result = snakemake(work, "-n", "--config", "dataset=nonsense", check=False)
    assert result.returncode != 0
    assert "dataset" in result.stdout and "nonsense" in result.stdout


def test_missing_archive_says_where_to_get_it(work):
    result = snakemake(work, "-n", "--config", "dataset=paper", "archive=elsewhere/sHAM_data.tar.gz",
                       check=False)
    assert result.returncode != 0
    assert "no file at 'elsewhere/sHAM_data.tar.gz'" in result.stdout
    assert LANDING_PAGE in result.stdout
    assert "resources/sHAM_data.tar.gz" in result.stdout
    assert "archive=" in result.stdout


def test_default_archive_location_is_filled_from_the_published_link(work):
    """No file at the default location: the run plans to download it (a dry run: no network)."""
    result = snakemake(work, "-n", "--config", "dataset=paper")
    assert "download_archive" in result.stdout and "extract_archive" in result.stdout


@pytest.mark.slow
def test_paper_run_from_url_of_tiny_archive(work, tmp_path):
    """Download (local HTTP server) with a checksum, extract, discover, encode, aggregate;
    a net whose layers are not all timed gets no network time."""
    (tmp_path / "serve").mkdir()
    archive = tiny_archive(tmp_path / "serve" / "tiny.tar.gz")
    with serve(archive.parent) as base:
        config = write_config(work, dataset="paper", archive=f"{base}/tiny.tar.gz",
                              archive_sha256=sha256(archive), threads=[1, 2],
                              timing={"repeats": 3}, time_matrices=["tiny_50-*", "small"])
        snakemake(work, "results/paper/matrices.csv", "--configfile", config)
    assert (work / "resources" / "downloads" / "tiny.tar.gz").is_file()
    results = work / "results" / "paper"
    for name, columns in COLUMNS.items():
        assert header(results / f"{name}.csv") == columns, name
    matrices = read_csv(results / "matrices.csv")
    assert {row["matrix"] for row in matrices} == {
        "tiny_50-0-4-0-0.91_000", "tiny_50-0-4-0-0.91_001", "tiny_90-0-4-0-0.85_000",
        "tiny_90-0-4-0-0.85_001", "small"}
    small = next(row for row in matrices if row["matrix"] == "small")
    assert (small["group"], small["rows"], small["cols"], small["nnz"]) == ("benchmark", "10", "10", "15")
    assert len(read_csv(results / "space.csv")) == 5 * len(SPACE_FORMATS)
    assert len(read_csv(results / "energy.csv")) == 5 * len(ENERGY_FORMATS)
    assert len(read_csv(results / "encode.csv")) == 5 * len(FORMATS)
    time = read_csv(results / "time.csv")
    assert {row["matrix"] for row in time} == {"tiny_50-0-4-0-0.91_000", "tiny_50-0-4-0-0.91_001", "small"}
    assert len(time) == 3 * len(FORMATS) * 2
    nets_time = read_csv(results / "nets_time.csv")
    assert {row["net"] for row in nets_time} == {"tiny_50-0-4-0-0.91"}
    assert len(nets_time) == len(FORMATS) * 2
    layer_sum = sum(float(r["seconds_per_row"]) for r in time
                    if r["matrix"].startswith("tiny_50") and r["format"] == "HAM" and r["threads"] == "1")
    net_ham = next(r for r in nets_time if r["format"] == "HAM" and r["threads"] == "1")
    assert float(net_ham["seconds_per_row"]) == pytest.approx(layer_sum)
    assert {row["net"] for row in read_csv(results / "nets_space.csv")} == {
        "tiny_50-0-4-0-0.91", "tiny_90-0-4-0-0.85"}


def test_landing_page_url_is_refused_with_advice(work, tmp_path):
    (tmp_path / "serve").mkdir()
    (tmp_path / "serve" / "file").write_text("<!DOCTYPE html><html><head><title>MediaFire</title></head></html>")
    with serve(tmp_path / "serve") as base:
        config = write_config(work, dataset="paper", archive=f"{base}/file")
        result = snakemake(work, "--configfile", config, "--until", "download_archive", check=False)
    assert result.returncode != 0
    assert "the server sent an HTML page instead of the archive" in result.stdout
    assert LANDING_PAGE in result.stdout
    assert not (work / "resources" / "downloads" / "sHAM_data.tar.gz").exists()


@pytest.mark.slow
def test_bad_matrix_file_stops_with_a_clear_message(work, tmp_path):
    archive = tiny_archive(tmp_path / "bad.tar.gz", bad="1,2,3\n4,five,6\n")
    config = write_config(work, dataset="paper", archive=str(archive), timing={"repeats": 2})
    result = snakemake(work, "--configfile", config, check=False)
    assert result.returncode != 0
    name = "tiny_99-0-4-0-0.5_000"
    # refused when the archive's files are listed, before any loading
    log = work / "logs" / "paper" / "discover.log"
    text = log.read_text()
    assert f"{name}.csv" in text and "ERROR" in text
    assert "'five' is not a number" in text
    assert "'five' is not a number" in result.stdout  # the profile's show-failed-logs
    assert not (work / "resources" / "paper" / "npy" / f"{name}.npy").exists()
    assert not list((work / "resources" / "paper" / "npy").glob(".*"))  # no temporaries left
    assert not (work / "results" / "paper" / "space.csv").exists()


@pytest.mark.slow
def test_demo_run_and_report(work):
    # The default demo's structure (two hidden layers: 3 layers per net), narrower.
    config = write_config(
        work, threads=[1, 2],
        demo={"hidden": [64, 64], "epochs": 20, "pruning": [50, 95], "clusters": [32, 256],
              "finetune_epochs": 5, "benchmark": ["bar", "digits"]})
    snakemake(work, "--configfile", config)
    results = check_outputs(work, "demo")
    matrices = read_csv(results / "matrices.csv")
    nets = {row["matrix"].rsplit("_", 1)[0] for row in matrices if row["group"] == "mlp"}
    assert len(nets) == 4 and all(net.startswith(("mlp_50-0-", "mlp_95-0-")) for net in nets)
    shapes = {(row["rows"], row["cols"]) for row in matrices if row["group"] == "mlp"}
    assert shapes == {("64", "64"), ("64", "10")}  # 64 x 64 twice: the input and the hidden layer
    assert {row["matrix"] for row in matrices if row["group"] == "benchmark"} == {"bar", "digits"}
    training = read_csv(results / "demo_training.csv")
    assert len(training) == 4 and all(row["layers"] == "3" for row in training)
    # A trained net: digits is easy (chance is 0.1); half its weights pruned, it still is.
    assert all(float(row["accuracy_dense"]) > 0.9 for row in training)
    assert all(float(row["accuracy"]) > 0.85 for row in training if row["pruning"] == "50")
    assert all(row["net"].endswith(row["accuracy"]) for row in training)
    for row in matrices:  # quantized nets: at most k nonzero values per layer, plus zero
        if row["group"] == "mlp":
            k = int(row["matrix"].split("-")[2])
            assert int(row["distinct"]) <= k + 1
    space_md = (results / "tables" / "space_nets.md").read_text()
    assert "**" in space_md and "mlp_50-0-32-" in space_md
    assert r"\textbf{" in (results / "tables" / "energy_benchmark.tex").read_text()
    encode = read_csv(results / "encode.csv")
    assert len(encode) == len(matrices) * len(FORMATS)
    assert all(row["roundtrip_wrong_entries"] == "0" and float(row["roundtrip_max_abs_err"]) == 0
               for row in encode)
    assert len(read_csv(results / "time.csv")) == len(matrices) * len(FORMATS) * 2
    assert len(read_csv(results / "nets_time.csv")) == 4 * len(FORMATS) * 2
    report = work / "report.html"
    snakemake(work, "--configfile", config, "--report", str(report))
    assert report.stat().st_size > 100_000
    text = report.read_text(errors="replace")
    assert "space_nets.png" in text and "time_benchmark.html" in text
    assert "accuracy_space_nets.png" in text
    # A second run has nothing to do.
    again = snakemake(work, "--configfile", config, "-n")
    assert "Nothing to be done" in again.stdout


@pytest.mark.slow
@pytest.mark.skipif(not SUBSET.is_file(), reason=f"{SUBSET} not present")
def test_paper_subset_agrees_with_the_library(work):
    timed = ["orsreg_1", "dta_30-0-16-0-0.23243_014"]
    config = write_config(work, dataset="paper", archive=str(SUBSET), archive_sha256=SUBSET_SHA256,
                          time_matrices=timed, threads=[1, 2])
    snakemake(work, "--configfile", config, timeout=1200)
    results = check_outputs(work, "paper")
    manifest = json.loads(SUBSET.with_name("sham_data_subset.manifest.json").read_text())
    by_name = {Path(entry["file"]).stem: entry for entry in manifest}
    assert len(by_name) == 38

    matrices = {row["matrix"]: row for row in read_csv(results / "matrices.csv")}
    assert set(matrices) == set(by_name)
    space = {(r["matrix"], r["format"]): r for r in read_csv(results / "space.csv")}
    energy = {(r["matrix"], r["format"]): r for r in read_csv(results / "energy.csv")}
    nets_space = {(r["net"], r["format"]): r for r in read_csv(results / "nets_space.csv")}
    nets_energy = {(r["net"], r["format"]): r for r in read_csv(results / "nets_energy.csv")}

    sys.path.insert(0, str(work / "src"))
    try:
        import hamsham
    finally:
        sys.path.pop(0)
    for name, entry in by_name.items():
        W = np.load(work / "resources" / "paper" / "npy" / f"{name}.npy")
        assert W.dtype == np.float32
        assert hashlib.sha256(np.ascontiguousarray(W).tobytes()).hexdigest() == entry["sha256_float32"]
        row = matrices[name]
        assert (int(row["rows"]), int(row["cols"]), int(row["nnz"]), int(row["distinct"])) == (
            entry["rows"], entry["cols"], entry["nnz"], entry["distinct"])
        expected_space = hamsham.paper_space(W)
        for fmt in SPACE_FORMATS:
            got = float(space[(name, fmt)]["bits_per_entry"])
            assert got == pytest.approx(expected_space[fmt], rel=1e-12), (name, fmt)
            assert float(space[(name, fmt)]["ratio_vs_dense"]) == pytest.approx(got / 32, rel=1e-12)
        expected_energy = hamsham.paper_energy(W)
        for fmt in ENERGY_FORMATS:
            assert float(energy[(name, fmt)]["pj_per_entry"]) == pytest.approx(
                expected_energy[fmt], rel=1e-12), (name, fmt)
        if name.startswith(("vgg", "dta")):  # one layer per net in the subset
            net = name.rsplit("_", 1)[0]
            net_space, net_energy = hamsham.network_space([W]), hamsham.network_energy([W])
            for fmt in SPACE_FORMATS:
                assert float(nets_space[(net, fmt)]["bits_per_entry"]) == pytest.approx(
                    net_space[fmt], rel=1e-12), (net, fmt)
            for fmt in ENERGY_FORMATS:
                assert float(nets_energy[(net, fmt)]["pj_per_entry"]) == pytest.approx(
                    net_energy[fmt], rel=1e-12), (net, fmt)

    time = read_csv(results / "time.csv")
    assert {row["matrix"] for row in time} == set(timed)
    assert len(time) == len(timed) * len(FORMATS) * 2
    from hamsham.timing import paper_input

    for name in timed:
        W = np.load(work / "resources" / "paper" / "npy" / f"{name}.npy").astype(np.float64)
        scale = np.abs(paper_input(W.shape[0]).astype(np.float64) @ W).max()
        for row in (r for r in time if r["matrix"] == name):
            assert row["rows"] == "8" and float(row["seconds_per_row"]) > 0
            assert float(row["max_abs_err"]) <= 1e-5 * scale, row
    nets_time = read_csv(results / "nets_time.csv")
    assert {row["net"] for row in nets_time} == {"dta_30-0-16-0-0.23243"}
    space_md = (results / "tables" / "space_nets.md").read_text()
    assert "vgg_30-0-32-0-0.9952" in space_md and "**" in space_md
