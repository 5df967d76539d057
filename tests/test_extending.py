"""Adding a format the way README "Extending" says, and the round-trip record.

A copy of the workflow gets one module (tests/extension/coo.py: the COO class, its
model terms and their measure) and one line in hamsham.catalogue, nothing else; a small
demo run then carries COO, a format not in the study, through every step into the CSVs,
tables and figures (marked there as not in the study). A format whose
round trip is not exact is recorded as such by its `encode` job and stops the run at
`aggregate`.
"""
import importlib.util
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from pipeline_helpers import (
    TABLES,
    check_outputs,
    read_csv,
    snakemake,
    tiny_archive,
    write_config,
)

from hamsham import catalogue

EXTENSION = Path(__file__).parent / "extension" / "coo.py"


def add_catalogue_entry(work, entry):
    """Add `entry` as the last item of FORMATS in the copy's src/hamsham/catalogue.py."""
    path = Path(work) / "src" / "hamsham" / "catalogue.py"
    text = path.read_text()
    end = text.index("\n)\n", text.index("FORMATS = ("))
    path.write_text(text[:end] + "\n    " + entry + text[end:])


def test_unknown_format_in_the_config_is_refused_with_the_known_ones(work):
    result = snakemake(work, "-n", "--config", "formats=[HAM, COO]", check=False)
    assert result.returncode != 0
    assert f"'COO' is not one of {catalogue.names()}" in result.stdout  # every format, RLH too


@pytest.mark.slow
def test_a_format_added_through_the_catalogue_runs_through_the_pipeline(work):
    shutil.copy2(EXTENSION, work / "src" / "hamsham" / "coo.py")
    spec = importlib.util.spec_from_file_location("coo", EXTENSION)
    coo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(coo)
    add_catalogue_entry(work, coo.ENTRY)
    config = write_config(
        work, formats=["CSC", "COO"], threads=[1], timing={"repeats": 2},
        demo={"hidden": [64], "epochs": 2, "pruning": [90], "clusters": [32], "finetune_epochs": 1,
              "benchmark": ["bar"]})
    snakemake(work, "--configfile", config)
    results = check_outputs(work, "demo")
    matrices = {row["matrix"] for row in read_csv(results / "matrices.csv")}
    nets = {row["net"] for row in read_csv(results / "nets_space.csv")}
    assert len(matrices) == 3 and len(nets) == 1

    def rows(name, fmt="COO"):
        return [row for row in read_csv(results / f"{name}.csv") if row["format"] == fmt]

    encode = rows("encode")
    assert {row["matrix"] for row in encode} == matrices
    assert all(row["roundtrip_wrong_entries"] == "0" and int(row["nbits"]) > 0 for row in encode)
    for name in ("space", "energy"):
        assert {row["matrix"] for row in rows(name)} == matrices, name
    for name in ("nets_space", "nets_energy"):
        assert {row["net"] for row in rows(name)} == nets, name
    # COO's model counts what its class stores, measured by encoding each matrix.
    stored = {row["matrix"]: float(row["bits_per_entry"]) for row in encode}
    for row in rows("space"):
        assert float(row["bits_per_entry"]) == pytest.approx(stored[row["matrix"]], rel=1e-12), row
    bits = {row["matrix"]: (int(row["nbits"]), int(row["rows"]) * int(row["cols"])) for row in encode}
    for row in rows("nets_space"):
        layers = [bits[r["name"]] for r in read_csv(results / "inventory.csv") if r["net"] == row["net"]]
        expected = sum(b for b, _ in layers) / sum(entries for _, entries in layers)
        assert float(row["bits_per_entry"]) == pytest.approx(expected, rel=1e-12), row
    assert {row["matrix"] for row in rows("time")} == matrices
    assert all(float(row["max_rel_err"]) < 1e-5 for row in rows("time"))
    assert {row["net"] for row in rows("nets_time")} == nets
    for name in TABLES:
        lines = (results / "tables" / f"{name}.md").read_text().splitlines()
        header = next(line for line in lines if line.startswith("| "))
        assert header.endswith("| CSC | COO† |"), (name, header)
        assert any(line.startswith("† not part of the study") for line in lines), name
    for name in TABLES:
        log = (work / "logs" / "demo" / "figure" / f"{name}.log").read_text()
        assert "values of CSC, COO" in log, name
    # The module is code of the jobs that load it: an edit reruns them, not the loading.
    module = work / "src" / "hamsham" / "coo.py"
    module.write_text(module.read_text() + "\n# edited\n")
    os.utime(module, (time.time() + 2, time.time() + 2))
    dry = snakemake(work, "--configfile", config, "-n").stdout
    rerun = set(re.findall(r"^([a-z_]+)\s+\d+$", dry, re.MULTILINE))
    assert {"encode", "time", "model", "net_model"} <= rerun and not {"to_npy", "reference"} & rerun, rerun


@pytest.mark.slow
def test_an_inexact_round_trip_is_recorded_and_stops_the_run(work, tmp_path):
    """CSC made to decode one entry wrong (in the copy): each encode job records it, and
    `aggregate` stops the run naming the matrices, the format and the error."""
    formats = work / "src" / "hamsham" / "formats.py"
    formats.write_text(formats.read_text() + (
        "\n\n_exact_columns = CSC._columns\n\n\n"
        "def _one_wrong(self, start, stop):\n"
        "    out = _exact_columns(self, start, stop).copy()\n"
        "    if start == 0 and out.size:\n"
        "        out[0, 0] += 0.5\n"
        "    return out\n\n\n"
        "CSC._columns = _one_wrong\n"))
    archive = tiny_archive(tmp_path / "tiny.tar.gz")
    config = write_config(work, dataset="paper", archive=str(archive), formats=["CSC"], threads=[1],
                          time_matrices=[], timing={"repeats": 2})
    result = snakemake(work, "results/paper/encode.csv", "--configfile", config, check=False)
    assert result.returncode != 0
    runs = sorted((work / "results" / "paper" / "runs" / "encode").glob("*/CSC.csv"))
    assert len(runs) == 5
    for path in runs:
        (row,) = read_csv(path)
        assert (row["roundtrip_wrong_entries"], float(row["roundtrip_max_abs_err"])) == ("1", 0.5), path
    log = (work / "logs" / "paper" / "aggregate.log").read_text()
    assert "inexact round trips" in log and "small as CSC: 1 entries differ, max |error| 0.5" in log
    assert "small as CSC" in result.stdout
    assert not (work / "results" / "paper" / "encode.csv").exists()
