"""bench/lookalike.py: the study's matrices' shapes, densities and distinct counts; exact round trip."""
import hashlib
import importlib.util
import json
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from hamsham.io import load_matrix

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "lookalike.py"
SCALE = 0.001


@pytest.fixture(scope="module")
def la():
    spec = importlib.util.spec_from_file_location("hamsham_lookalike", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def written(la, tmp_path_factory):
    """All three look-alikes at SCALE, written by the command line with a manifest and a tar."""
    out = tmp_path_factory.mktemp("lookalike")
    la.main([str(out / "data"), "--scale", str(SCALE), "--manifest", "--tar", str(out / "la.tar")])
    return out


@pytest.mark.parametrize("name", ["covtype", "census", "imagenet"])
def test_statistics_match_the_study(la, name):
    spec = la.STUDY[name]
    W = la.lookalike(name, SCALE)
    assert W.dtype == np.float32 and W.shape == (round(spec.rows * SCALE), spec.cols)
    assert np.count_nonzero(W) / W.size == pytest.approx(spec.density, rel=0.01)
    assert len(np.unique(W)) == spec.distinct
    if spec.integers:
        assert np.array_equal(W, np.round(W))


@pytest.mark.parametrize("name", ["covtype", "census", "imagenet"])
def test_file_loads_back_exactly(la, written, name):
    W = load_matrix(written / "data" / "benchmark" / "data" / "matrices" / f"{name}.csv")
    assert W.tobytes() == la.lookalike(name, SCALE).tobytes()


def test_manifest_and_tar(la, written):
    manifest = json.loads((written / "data" / "manifest.json").read_text())
    assert set(manifest) == {"covtype", "census", "imagenet"}
    W = la.lookalike("census", SCALE)
    assert manifest["census"] == {"rows": W.shape[0], "cols": 68, "nnz": int(np.count_nonzero(W)),
                                  "distinct": 45, "sha256": hashlib.sha256(W.tobytes()).hexdigest()}
    with tarfile.open(written / "la.tar") as tar:
        member = tar.getmember("sHAM_data/benchmark/data/matrices/census.csv")
        assert tar.extractfile(member).read() == \
            (written / "data" / "benchmark" / "data" / "matrices" / "census.csv").read_bytes()
    assert [p.name for p in written.iterdir() if p.name.startswith(".")] == []


def test_deterministic_and_seeded(la):
    a = la.lookalike("covtype", SCALE, seed=3)
    assert a.tobytes() == la.lookalike("covtype", SCALE, seed=3).tobytes()
    assert a.tobytes() != la.lookalike("covtype", SCALE, seed=4).tobytes()


def test_many_small_blocks_write_the_same_text(la, tmp_path, monkeypatch):
    """Blocks of a few rows, written by 2 threads, still give the in-memory matrix."""
    monkeypatch.setattr(la, "BLOCK_ENTRIES", 500)
    path = la.write_csv("census", tmp_path, SCALE, seed=1, threads=2)
    assert la.Lookalike("census", SCALE, 1).blocks > 100
    assert load_matrix(path).tobytes() == la.lookalike("census", SCALE, seed=1).tobytes()


def test_too_small_a_scale_is_refused(la):
    with pytest.raises(ValueError, match="distinct values"):
        la.lookalike("covtype", 0.0001)
