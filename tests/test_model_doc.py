"""docs/model.md against the code: its worked example is recomputed with `hamsham`, and
every link to one of its sections (from the code, the README and the page itself) resolves.

The worked example's blocks are found by their markers, `<!-- worked-example:NAME -->`,
each followed by a fenced block or a Markdown table. Printed numbers must equal the
computed ones rounded to the printed number of decimals.
"""
import itertools
import re
from pathlib import Path

import numpy as np
import pytest

import hamsham
from hamsham import catalogue
from hamsham.formats import cser_arrays
from hamsham.huffman import HuffmanCode, code_ub_space
from hamsham.model import LayerStats
from hamsham.values import ValueTable

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "model.md"
TEXT = DOC.read_text()


def block(name):
    """The lines of the fenced block or table that follows the marker `name`."""
    marker = f"<!-- worked-example:{name} -->"
    assert TEXT.count(marker) == 1, f"{marker} must occur exactly once in {DOC}"
    lines = TEXT.split(marker, 1)[1].lstrip("\n").splitlines()
    if lines[0].startswith("```"):
        end = lines.index("```", 1)
        return lines[1:end]
    assert lines[0].startswith("|"), f"{marker} is followed by neither a fenced block nor a table"
    return list(itertools.takewhile(lambda line: line.startswith("|"), lines))


def table(name):
    """The table after marker `name` as a list of dicts (header -> cell text)."""
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in block(name)]
    header, rule, body = rows[0], rows[1], rows[2:]
    assert all(set(cell) <= set("-: ") for cell in rule)
    return [dict(zip(header, row, strict=True)) for row in body]


def assignments(name):
    """`name = [list]` or `name = number` lines after marker `name`, as a dict."""
    out = {}
    for line in block(name):
        key, value = (part.strip() for part in line.split("=", 1))
        out[key] = eval(value, {"__builtins__": {}})  # a literal list or number of the doc
    return out


def printed(value: float, text: str) -> bool:
    """`value` rounded to the decimals of `text` reads as `text`."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return f"{value:.{decimals}f}" == text


@pytest.fixture(scope="module")
def W():
    rows = [[float(x) for x in line.split()] for line in block("matrix")]
    return np.array(rows, np.float32)


def test_the_example_is_the_matrix_the_text_describes(W):
    # the prose around the example states these; keep them true
    assert W.shape == (4, 6)
    assert np.count_nonzero(W) == 10
    assert ValueTable.of(W).k == 4


def test_codes(W):
    rows = table("codes")
    ham = HuffmanCode.of(ValueTable.of(W))
    sham = HuffmanCode.of(ValueTable.of(W).without_zero())
    assert [int(r["symbol"]) for r in rows] == list(range(ham.k))
    assert [float(r["value"]) for r in rows] == ham.table.values.tolist()
    assert [int(r["count"]) for r in rows] == ham.table.counts.tolist()
    assert [int(r["HAM length"]) for r in rows] == ham.lengths.tolist()
    assert [r["HAM codeword"].strip("`") for r in rows] == [
        format(int(c), f"0{int(length)}b") for c, length in zip(ham.codewords, ham.lengths)]
    nonzero = [r for r in rows if float(r["value"]) != 0]
    assert all(r["sHAM length"] == r["sHAM codeword"] == "-" for r in rows if float(r["value"]) == 0)
    assert [float(r["value"]) for r in nonzero] == sham.table.values.tolist()
    assert [int(r["sHAM length"]) for r in nonzero] == sham.lengths.tolist()
    assert [r["sHAM codeword"].strip("`") for r in nonzero] == [
        format(int(c), f"0{int(length)}b") for c, length in zip(sham.codewords, sham.lengths)]


def test_code_figures(W):
    codes = {"HAM": HuffmanCode.of(ValueTable.of(W)), "sHAM": HuffmanCode.of(ValueTable.of(W).without_zero())}
    rows = {r["quantity"]: r for r in table("code-figures")}
    for name, code in codes.items():
        long_entries = int(code.table.counts[code.lengths > code.t].sum())
        stream_bits = int(code.table.counts @ code.lengths.astype(np.int64))  # every entry's codeword
        expected = {
            "symbols (`k`, `k'`)": code.k,
            "`lmax`": code.lmax,
            "`t`": code.t,
            "stream bits `B`": stream_bits,
            "words `N`": -(-stream_bits // 32),
            "long entries `D`": long_entries,
            "`code_space`": code.space_bits(),
            "`code_ub_space`": code_ub_space(code.k),
        }
        assert set(rows) == set(expected)
        assert {q: int(rows[q][name]) for q in expected} == expected, name


def test_decoding_tables(W):
    code = HuffmanCode.of(ValueTable.of(W))
    doc = assignments("tables")
    assert doc == {"first_symbol": code.first_symbol.tolist(), "first_code_l": code.first_code_l.tolist(),
                   "partial_table": code.partial_table.tolist()}


def test_cser_arrays(W):
    doc = assignments("cser")
    arrays = cser_arrays(W, ValueTable.of(W))
    assert doc.pop("O") == arrays["values"].tolist()
    assert doc.pop("colI") == arrays["col_index"].tolist()
    assert doc.pop("OI") == arrays["value_index"].tolist()
    assert doc.pop("OPtr") == arrays["value_ptr"].tolist()
    assert doc.pop("rowPtr") == arrays["row_ptr"].tolist()
    assert doc.pop("m*avg_k") == LayerStats.of(W).cser.extra_values
    assert not doc


def study_part(figures):
    """The figures of the study's formats (and their bounds): docs/model.md is the study's model."""
    beyond = {f.name for f in catalogue.FORMATS if not f.study}
    return {name: value for name, value in figures.items() if name not in beyond}


def test_space(W):
    space = study_part(hamsham.paper_space(W))
    rows = table("space")
    assert [r["format"] for r in rows] == list(space)
    for r in rows:
        f = r["format"]
        assert int(r["bits"]) == pytest.approx(space[f] * W.size, abs=1e-9), f
        assert printed(space[f], r["psi"]), (f, space[f], r["psi"])


def test_energy(W):
    energy = study_part(hamsham.paper_energy(W))
    rows = table("energy")
    assert [r["format"] for r in rows] == list(energy)
    for r in rows:
        f = r["format"]
        assert printed(energy[f] * W.size, r["pJ"]), (f, energy[f] * W.size, r["pJ"])
        assert printed(energy[f], r["pJ per entry"]), (f, energy[f], r["pJ per entry"])


def _anchor(heading):
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path):
    return {_anchor(h) for h in re.findall(r"^#+ (.+)$", path.read_text(), flags=re.M)}


def test_section_links_resolve():
    """Markdown links with a #section in the docs and the README, and the code's
    `docs/model.md#<section>` pointers, name sections that exist."""
    links = []  # (where, target file, anchor)
    for path in [ROOT / "README.md", *ROOT.glob("docs/*.md")]:
        for target, anchor in re.findall(r"\]\(([^)#\s]*)#([\w-]+)\)", path.read_text()):
            links.append((path.name, (path.parent / target).resolve() if target else path, anchor))
    for path in [*ROOT.glob("src/hamsham/*.py"), *ROOT.glob("tests/*.py"), *ROOT.glob("ext/src/*")]:
        links += [(path.name, DOC, a) for a in re.findall(r"docs/model\.md#([\w-]+)", path.read_text())]
    assert any(target == DOC for _, target, _ in links), "no links to sections of docs/model.md found"
    missing = [(where, target.name, a) for where, target, a in links if a not in _anchors(target)]
    assert not missing, f"links to sections that do not exist: {missing}"
