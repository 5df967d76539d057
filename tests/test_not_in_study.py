"""Tables and figures with a format that is not one of the study's (COO here): it comes
after the study's formats, is marked (a dagger and a footnote in the tables, "(not in
study)" and a look of its own in the figures), is never bold, and leaves the study's
columns exactly as they are.

The scripts run as Snakemake runs them, with a stand-in for its `snakemake` object, on
small results written here.
"""
import atexit
import html
import runpy
import sys
from pathlib import Path

import pytest

from hamsham import catalogue

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
# Listed first in the catalogue: the tables and figures still put it last.
COO = catalogue.Format("COO", "coo", "hamsham.coo:COO", "numpy", space="hamsham.coo:coo_space", study=False)
FOOTNOTE = "not part of the study: added by this project (see README)"
NETS = ["mlp_50-0-32-0-0.91", "mlp_90-0-32-0-0.88"]
# psi/32 per net: COO is the smallest of each row, HAM the best of the study's in the
# first, CSC in the second.
SPACE = {NETS[0]: {"HAM": 0.1, "CSC": 0.2, "COO": 0.05}, NETS[1]: {"HAM": 0.3, "CSC": 0.25, "COO": 0.01}}


class Named(dict):
    """A dict read by attribute too: what the scripts read of Snakemake's `snakemake` object."""

    __getattr__ = dict.__getitem__


@pytest.fixture
def results(tmp_path, monkeypatch):
    """The catalogue with COO; nets_space.csv, space.csv and the inventory of two nets and
    one benchmark matrix; the scripts' helpers importable (and imported afresh)."""
    monkeypatch.setattr(catalogue, "FORMATS", (COO,) + catalogue.FORMATS)
    monkeypatch.syspath_prepend(str(SCRIPTS))
    monkeypatch.delitem(sys.modules, "_results", raising=False)
    for name in ("stdout", "stderr"):  # start_job sends them to the job's log
        monkeypatch.setattr(sys, name, getattr(sys, name))
    monkeypatch.setattr(atexit, "register", lambda finish: None)  # and logs the job's end at exit
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    rows = ["net,format,bits_per_entry,ratio_vs_dense"]
    rows += [f"{net},{fmt},{32 * v},{v}" for net, values in SPACE.items() for fmt, v in values.items()]
    (tmp_path / "nets_space.csv").write_text("\n".join(rows) + "\n")
    rows = ["matrix,format,bits_per_entry,ratio_vs_dense"]
    rows += [f"bar,{fmt},{32 * v},{v}" for fmt, v in SPACE[NETS[0]].items()]
    (tmp_path / "space.csv").write_text("\n".join(rows) + "\n")
    rows = ["name,group,net,layer,pruning,clusters,score"]
    rows += [f"{net}_0,mlp,{net},0,{net[4:6]},32,{net.split('-')[-1]}" for net in NETS]
    rows += ["bar,benchmark,,,,,"]
    (tmp_path / "inventory.csv").write_text("\n".join(rows) + "\n")
    yield tmp_path
    sys.modules.pop("_results", None)  # its MEASURES hold COO


def run(script, folder, name, formats, part="nets", **params):
    """Run workflow/scripts/`script` on the results in `folder`; its globals."""
    prefix = "nets_" if part == "nets" else ""
    out = {ext: str(folder / f"{name}.{ext}") for ext in ("md", "tex", "html", "pdf", "png")}
    sm = Named(log=[str(folder / f"{name}.log")], wildcards=Named(measure="space", part=part, dataset="demo"),
               input=Named(data=str(folder / f"{prefix}space.csv"), inventory=str(folder / "inventory.csv")),
               params=Named(formats=formats, **params), output=Named(out))
    return runpy.run_path(str(SCRIPTS / script), init_globals={"snakemake": sm}, run_name="__snakemake__")


def table(folder, name, formats):
    """The space table of the nets with `formats`: (md, tex, html)."""
    run("tables.py", folder, name, formats)
    return tuple((folder / f"{name}.{ext}").read_text(encoding="utf-8") for ext in ("md", "tex", "html"))


def test_tables_put_it_last_marked_and_never_bold(results):
    md, tex, htm = table(results, "with", ["HAM", "CSC", "COO"])
    assert "| net | HAM | CSC | COO† |" in md.splitlines()
    assert f"| {NETS[0]} | **0.1000** | 0.2000 | 0.0500 |" in md.splitlines()
    assert f"| {NETS[1]} | 0.3000 | **0.2500** | 0.0100 |" in md.splitlines()
    assert f"† {FOOTNOTE}" in md
    assert r"net & HAM & CSC & COO\dag{} \\" in tex.splitlines()
    assert rf"{NETS[1]} & 0.3000 & \textbf{{0.2500}} & 0.0100 \\" in tex.replace(r"\_", "_").splitlines()
    assert r"\dag{} " + FOOTNOTE in tex
    assert "<th>net</th><th>HAM</th><th>CSC</th><th>COO&dagger;</th></tr>" in htm
    assert "<td>0.0500</td>" in htm and "<td><b>0.1000</b></td>" in htm and "<b>0.0100</b>" not in htm
    assert f"† {FOOTNOTE}" in html.unescape(htm)


def test_the_study_s_columns_stay_as_they_are(results):
    """The table with COO is the study's table with one more column (and the footnote)."""
    study = table(results, "study", ["HAM", "CSC"])
    assert not any("†" in text or "dag" in text for text in study)
    md = table(results, "with", ["HAM", "CSC", "COO"])[0]

    def cells(text):
        return [line.strip("|").split("|") for line in text.splitlines() if line.startswith("|")]

    assert [row[:-1] for row in cells(md)] == cells(study[0])


def test_figures_mark_it_in_legends_titles_and_lines(results):
    formats = ["HAM", "CSC", "COO"]
    script = run("figures.py", results, "nets", formats)
    assert (results / "nets.png").stat().st_size > 0
    assert [script["legend_label"](f) for f in formats] == ["HAM", "CSC", "COO (not in study)"]
    table = script["load"]("space", "nets", str(results / "nets_space.csv"), str(results / "inventory.csv"))
    fig = script["nets_figure"](table, "space", script["formats_for"]("space", formats), "demo")
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert labels[:3] == ["HAM", "CSC", "COO (not in study)"] and "HAM-ub (upper bound)" in labels
    lines = {line.get_color(): line for line in fig.axes[0].get_lines()}
    coo, ham = lines[catalogue.style("COO")[0]], lines[catalogue.style("HAM")[0]]
    assert (coo.get_linestyle(), coo.get_markerfacecolor()) == ("-.", "none")
    assert (ham.get_linestyle(), ham.get_marker(), ham.get_markerfacecolor()) == ("-", "o", catalogue.style("HAM")[0])

    run("figures.py", results, "benchmark", formats, part="benchmark")
    table = script["load"]("space", "benchmark", str(results / "space.csv"), str(results / "inventory.csv"))
    fig = script["benchmark_figure"](table, "space", formats, "demo")
    assert [text.get_text() for text in fig.legends[0].get_texts()] == ["HAM", "CSC", "COO (not in study)"]
    assert [patch.get_hatch() for patch in fig.legends[0].get_patches()] == [None, None, "////"]

    run("figures.py", results, "accuracy", formats, figure="accuracy_space")
    table = script["load"]("space", "nets", str(results / "nets_space.csv"), str(results / "inventory.csv"))
    fig = script["accuracy_space_figure"](table, ["HAM", "CSC", "COO"], "demo")
    assert [ax.get_title() for ax in fig.axes] == ["mlp, HAM", "mlp, CSC", "mlp, COO (not in study)"]
