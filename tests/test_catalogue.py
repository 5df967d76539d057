"""hamsham.catalogue: every entry names what it says, and the library, the schema and the
pipeline's scripts take their formats from it."""
import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

import hamsham
from hamsham import catalogue

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("entry", catalogue.FORMATS, ids=lambda f: f.name)
def test_entry_names_its_class_and_model_terms(entry):
    cls = entry.load("cls")
    assert issubclass(cls, hamsham.EncodedMatrix) and cls.format == entry.code
    for what in ("space", "energy", "bound", "measure"):
        assert not getattr(entry, what) or callable(entry.load(what))
    assert entry.product in ("kernel", "scipy", "numpy")
    assert len(catalogue.style(entry.name)) == 3


def test_names_and_codes_are_unique():
    assert len(set(catalogue.names())) == len(catalogue.FORMATS)
    assert len(set(catalogue.codes())) == len(catalogue.FORMATS)
    assert not set(catalogue.space_names()) - set(catalogue.names()) - set(catalogue.bound_of())


def test_the_study_formats():
    assert catalogue.study_names() == ["HAM", "sHAM", "CSC", "IM", "CSER", "dense"]
    assert hamsham.FORMATS == ("ham", "sham", "csc", "im", "cser", "dense", "rlh")  # RLH: beyond the study
    assert [f.name for f in catalogue.FORMATS if not f.study] == ["RLH"]


def test_formats_not_in_the_study_come_after_the_study_s(monkeypatch):
    extra = catalogue.Format("X", "x", "m:X", "numpy", space="m:x_space", bound="m:x_ub_space")
    monkeypatch.setattr(catalogue, "FORMATS", (extra,) + catalogue.FORMATS)
    assert not catalogue.is_study("X") and not catalogue.is_study("X-ub")
    assert catalogue.is_study("sHAM") and catalogue.is_study("sHAM-ub")
    assert catalogue.study_first(["X", "CSC", "X-ub", "HAM", "HAM-ub"]) == ["CSC", "HAM", "HAM-ub", "X", "X-ub"]
    with pytest.raises(ValueError, match="unknown format 'Y'"):
        catalogue.is_study("Y")


def test_the_rules_code_has_every_module_the_catalogue_names():
    """workflow/rules/common.smk counts as a job's code the modules that hamsham loads through
    the catalogue: every field naming a "module:attribute" is read there."""
    text = (ROOT / "workflow" / "rules" / "common.smk").read_text()
    block = text[text.index("_LOADED_BY_NAME = {"):]
    block = block[:block.index("}")]
    read = {field for fields in re.findall(r":\s*\(([^)]*)\)", block) for field in re.findall(r'"(\w+)"', fields)}
    named = {f.name for f in dataclasses.fields(catalogue.Format) if f.type is str} - {"name", "code", "product"}
    assert read == named == {"cls", "space", "energy", "bound", "measure"}


def test_model_keys_are_the_catalogue_s():
    W = np.array([[0, 1, 2], [0, 0, 1], [3, 0, 0]], np.float32)
    assert list(hamsham.paper_space(W)) == catalogue.space_names()
    assert catalogue.space_names()[-2:] == ["HAM-ub", "sHAM-ub"]
    assert list(hamsham.paper_energy(W)) == catalogue.energy_names() == ["HAM", "sHAM", "CSC", "IM", "CSER", "RLH"]


def test_unknown_format_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown format 'coo'; expected one of ham, sham"):
        hamsham.compress(np.ones((2, 2)), "coo")
    with pytest.raises(ValueError, match="unknown format 'SHAM'; expected one of HAM, sHAM"):
        catalogue.by_name("SHAM")
    assert catalogue.by_code("SHAM").name == "sHAM"


def test_a_format_without_a_style_gets_one_of_its_own():
    taken = {f.style[0] for f in catalogue.FORMATS if f.style}
    plain = catalogue.Format("X", "x", "m:X", "numpy")
    original = catalogue.FORMATS
    try:
        catalogue.FORMATS = original + (plain,)
        color, marker, line = catalogue.style("X")
    finally:
        catalogue.FORMATS = original
    assert color not in taken and line == "-"


def test_the_schema_file_leaves_the_formats_to_the_catalogue():
    """workflow/rules/common.smk adds the enum and the default; a list in the schema file
    would be a second list to keep in step."""
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    formats = schema["properties"]["formats"]
    assert "enum" not in formats["items"] and "default" not in formats
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert "formats" not in config  # the default comes from the catalogue


@pytest.mark.parametrize("path", ["workflow/rules/common.smk", "workflow/scripts/_pipeline.py",
                                  "workflow/scripts/_results.py", "workflow/scripts/model.py",
                                  "workflow/scripts/net_model.py", "workflow/scripts/figures.py",
                                  "workflow/scripts/aggregate.py", "workflow/scripts/tables.py",
                                  "workflow/scripts/encode.py", "tests/pipeline_helpers.py"])
def test_no_other_list_of_formats(path):
    """The pipeline and the test helpers spell no format list of their own."""
    text = (ROOT / path).read_text()
    assert '"CSER"' not in text and "'CSER'" not in text and "HAM-ub" not in text, path
