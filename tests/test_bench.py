"""Smoke tests of the benchmark (bench/bench.py) on small generated matrices.

They check what the benchmark writes and that it checks every product; no timing
is asserted here (the timing goals live in the benchmark's own goals section).
"""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hamsham import catalogue

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench" / "bench.py"
FORMATS = set(catalogue.names())
COLUMNS = {"matrix", "format", "rows", "cols", "density", "bits_per_entry", "paper_bits_per_entry", "encode_s",
           "encode_peak_vs_dense", "round_trip_exact", "products_checked", "products_ok"}
for _t in (1, 2):
    COLUMNS |= {f"ms_per_row_t{_t}", f"entries_per_s_t{_t}", f"nonzeros_per_s_t{_t}", f"decode_entries_per_s_t{_t}",
                f"vs_csc_t{_t}", f"vs_dense_t{_t}"}
COLUMNS.add("speedup_1_to_2")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("hamsham_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    # The portable vs native comparison, run here against the same (in-place) kernel.
    from hamsham.kernel import kernel

    run = subprocess.run([sys.executable, str(BENCH), "--small", "--out", str(out),
                          "--native-kernel", str(Path(kernel.__file__).parent)],
                         capture_output=True, text=True, timeout=300)
    return run, out


def test_small_run_writes_every_column_for_every_format(small_run):
    run, out = small_run
    assert run.returncode == 0, run.stderr
    table = pd.read_csv(out / "bench.csv")
    assert COLUMNS <= set(table.columns)
    assert set(table["matrix"]) == {"nn", "nn_dense", "census_like"}
    for _, group in table.groupby("matrix"):
        assert set(group["format"]) == FORMATS
    numeric = table[sorted(COLUMNS - {"matrix", "format", "encode_peak_vs_dense", "round_trip_exact",
                                      "products_ok", "paper_bits_per_entry"})]
    assert np.isfinite(numeric.to_numpy(float)).all() and (numeric.to_numpy(float) > 0).all()
    # Every product (1 and 2 threads) was checked against the dense product, every decode was exact.
    assert table["products_ok"].all() and (table["products_checked"] == 2).all()
    assert table["round_trip_exact"].all()
    # The ratios are to CSC and dense of the same matrix.
    assert np.allclose(table.loc[table["format"] == "CSC", ["vs_csc_t1", "vs_csc_t2"]], 1)
    assert np.allclose(table.loc[table["format"] == "dense", ["vs_dense_t1", "vs_dense_t2"]], 1)
    # Portable / native ratios for the kernel's formats only (here: a kernel against itself).
    ratios = table[[f"{op}portable_vs_native_t{t}" for op in ("", "decode_") for t in (1, 2)]]
    kernel_rows = table["format"].isin([f.name for f in catalogue.FORMATS if f.product == "kernel"])
    assert ratios[~kernel_rows].isna().all().all()
    assert np.isfinite(ratios[kernel_rows].to_numpy(float)).all() and (ratios[kernel_rows] > 0).all().all()


def test_small_run_reports_goals_and_load(small_run):
    run, out = small_run
    goals = pd.read_csv(out / "goals.csv")
    assert list(goals.columns) == ["goal", "matrix", "measured", "target", "pass"]
    assert len(goals) >= 15 and goals["pass"].isin([True, False]).all()
    report = (out / "bench.md").read_text()
    assert run.stdout.strip() == report.strip()
    assert "load average" in report and "| goal" in report and ("PASS" in report or "FAIL" in report)


def test_wrong_product_fails_the_run(bench, tmp_path, monkeypatch):
    import hamsham.formats

    wrong = hamsham.formats.CSER._product
    monkeypatch.setattr(hamsham.formats.CSER, "_product", lambda self, X, threads: wrong(self, X, threads) + 1)
    status = bench.main(["--small", "--only", "nn", "--out", str(tmp_path)])
    assert status == 1
    table = pd.read_csv(tmp_path / "bench.csv")
    assert not table.loc[table["format"] == "CSER", "products_ok"].any()
    assert table.loc[table["format"] != "CSER", "products_ok"].all()


def test_measure_encode_reports_extra_memory(tmp_path):
    W = np.random.default_rng(0).random((300, 200)).astype(np.float32)
    path = tmp_path / "W.npy"
    np.save(path, W)
    run = subprocess.run([sys.executable, str(BENCH), "--measure-encode", "sham", str(path)],
                         capture_output=True, text=True, check=True, timeout=120)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["dense_bytes"] == W.nbytes and result["peak_extra_bytes"] >= 0 and result["seconds"] > 0


def test_update_readme_inserts_then_replaces_the_section(bench, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# title\n\ntext\n\n## License\n\nMIT\n")
    bench.update_readme("first table", readme=readme)
    text = readme.read_text()
    assert text.index("## Performance") < text.index(bench.START) < text.index("first table") \
        < text.index(bench.END) < text.index("## License")
    bench.update_readme("second table", readme=readme)
    text = readme.read_text()
    assert "first table" not in text and text.count(bench.START) == 1 and "second table" in text
    assert text.endswith("## License\n\nMIT\n")


# --- bench/entropy.py ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def entropy():
    spec = importlib.util.spec_from_file_location("hamsham_entropy", ROOT / "bench" / "entropy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_entropy_measures_gap_value_column_major(entropy):
    # Column-major: 0 0 3 0 | 3 5 0 0 -> zero runs 2, 1, 0 (H = log2 3), values 3, 3, 5 (H = log2 3 - 2/3),
    # 3 nonzeros over 8 entries. Row-major order would give the runs 1, 1, 0 instead.
    W = np.array([[0, 3], [0, 5], [3, 0], [0, 0]], dtype=np.float32)
    expected = (2 * np.log2(3) - 2 / 3) * 3 / 8
    assert entropy.gap_value_bits(W) == pytest.approx(expected, rel=1e-12)
    row = entropy.measure("tiny", "network", W)
    assert row["gap_value"] == pytest.approx(expected, rel=1e-12)
    from hamsham.runlength import RLH

    assert row["rlh"] == RLH.encode(W).nbits / W.size and row["mode"] in {"joint", "factored", "product", "entries"}
    assert row["rlh_vs_gap_value"] == pytest.approx(row["rlh"] / expected)
    assert row["k"] == 2 and row["nnz"] == 3 and row["zstd19"] > 0 and row["xz9"] > 0
    assert row["entropy_goal"] == (row["rlh_vs_gap_value"] <= 1.05)
    assert row["model_goal"] == (row["rlh"] < min(row["ham"], row["sham"]))

    # A benchmark matrix has no entropy goal; a diagonal has zero runs n (after the first) and one value.
    D = np.eye(5, dtype=np.float32) * 2
    bench_row = entropy.measure("diag", "benchmark", D)
    assert bench_row["gap_value"] == pytest.approx(entropy.order0_entropy([0, 5, 5, 5, 5]) * 5 / 25)
    assert bench_row["entropy_goal"] is None

    import pandas as pd

    report = entropy.render(pd.DataFrame([row, bench_row]), [], {"command": "entropy.py", "date": "today",
                                                                  "seconds": 1, "counts": "2 matrices"})
    assert "| tiny " in report and "| diag " in report and "of 1" in report and "of 2" in report


def test_entropy_update_readme_replaces_between_markers(entropy, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{entropy.START}\nold\n{entropy.END}\n\n## License\n")
    entropy.update_readme("new table", readme=readme)
    text = readme.read_text()
    assert "old" not in text and f"{entropy.START}\nnew table\n{entropy.END}" in text and text.endswith("## License\n")
