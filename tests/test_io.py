"""load_matrix(), convert_to_npy(), sniff_matrix_file() and save_matrix_csv(): formats, rules,
error messages, bounded reading."""
import io
import os
import pickle
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hamsham import io as hio
from hamsham.errors import InputError
from hamsham.io import convert_to_npy, load_matrix, save_matrix_csv, sniff_matrix_file

F32_MAX = float(np.finfo(np.float32).max)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def fails(path, *fragments):
    """Assert load_matrix(path) raises InputError naming the file and every fragment."""
    with pytest.raises(InputError) as info:
        load_matrix(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and info.value.path == path
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_input_error_format():
    err = InputError("a/b.csv", "is bad")
    assert str(err) == "a/b.csv: is bad" and err.path == "a/b.csv" and err.problem == "is bad"
    assert isinstance(err, ValueError)
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is InputError and str(copy) == str(err) and copy.problem == "is bad"


# ---- CSV / TXT -----------------------------------------------------------------------------

def test_csv_dense_float32_c_contiguous(tmp_path):
    W = load_matrix(write(tmp_path, "a.csv", "1,2,3\n4,5,6.5\n"))
    assert W.dtype == np.float32 and W.flags.c_contiguous
    np.testing.assert_array_equal(W, [[1, 2, 3], [4, 5, 6.5]])


def test_csv_tolerates_whitespace_blank_lines_crlf_and_no_trailing_newline(tmp_path):
    W = load_matrix(write(tmp_path, "a.txt", "  1 , 2\r\n\n 3,4 \r\n  \n"))
    np.testing.assert_array_equal(W, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(load_matrix(write(tmp_path, "b.csv", "1,2\n3,4")), [[1, 2], [3, 4]])


def test_one_column_is_one_value_per_line(tmp_path):
    W = load_matrix(write(tmp_path, "a.csv", "1\n2\n3\n"))
    assert W.shape == (3, 1)


def test_one_row_and_one_by_one(tmp_path):
    assert load_matrix(write(tmp_path, "a.csv", "1,2,3\n")).shape == (1, 3)
    assert load_matrix(write(tmp_path, "b.csv", "7.5")).tolist() == [[7.5]]


def test_ragged_row(tmp_path):
    path = write(tmp_path, "a.csv", "1,2,3,4\n5,6,7,8\n1,2,3,4,5\n")
    fails(path, "line 3 has 5 values, expected 4")


def test_non_numeric_cell_names_line_column_and_text(tmp_path):
    fails(write(tmp_path, "a.csv", "1,2\n3, abc\n"), "line 2, column 2", "'abc'")


def test_trailing_comma_is_an_empty_cell(tmp_path):
    fails(write(tmp_path, "a.csv", "1,2,\n3,4,\n"), "line 1, column 3", "''")


@pytest.mark.parametrize("text", ["", "\n\n", "   \n \n"])
def test_empty_file(tmp_path, text):
    fails(write(tmp_path, "a.csv", text), "has no entries")


def test_not_utf8(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"1,2\n\xff\xfe,3\n")
    fails(path, "UTF-8")


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-inf"])
def test_non_finite_rejected_with_count_and_position(tmp_path, cell):
    path = write(tmp_path, "a.csv", f"1,2,3\n4,5,{cell}\n{cell},0,0\n")
    fails(path, "2 non-finite", "row 2, column 3")


def test_overflow_to_float32_rejected(tmp_path):
    fails(write(tmp_path, "a.csv", "1,2\n3,-1e39\n"), "overflow float32", "row 2, column 2")


def test_rounding_and_float32_edges_accepted(tmp_path):
    W = load_matrix(write(tmp_path, "a.csv", "0.1,3.40282347e+38,-3.4028235e38,1e-50\n"))
    assert W[0, 0] == np.float32(0.1)
    assert W[0, 1] == F32_MAX and W[0, 2] == -F32_MAX
    assert W[0, 3] == 0


def test_negative_zero_kept(tmp_path):
    W = load_matrix(write(tmp_path, "a.csv", "-0,0\n"))
    assert np.signbit(W[0, 0]) and not np.signbit(W[0, 1])


# ---- CSV read in many small blocks ----------------------------------------------------------

@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 16 bytes of text and lines of at most 40: every file spans many blocks."""
    monkeypatch.setattr(hio, "BLOCK_BYTES", 16)
    monkeypatch.setattr(hio, "MAX_LINE_BYTES", 40)


def test_blocks_give_the_same_matrix(tmp_path, small_blocks):
    rows = [" 1.5 , 2,3\r\n", "\n", "  \n", "4,5,6\n", "-0,1e-50,3.40282347e+38\n"] * 5
    W = load_matrix(write(tmp_path, "a.csv", "\ufeff" + "".join(rows)))
    assert W.shape == (15, 3) and W.flags.c_contiguous and W.flags.owndata
    np.testing.assert_array_equal(W[:3], [[1.5, 2, 3], [4, 5, 6], [0, 0, F32_MAX]])
    assert np.signbit(W[2, 0])


def test_blocks_locate_problems_by_line(tmp_path, small_blocks):
    good = "1,2,3\n" * 10
    fails(write(tmp_path, "a.csv", good + "\n1,2\n"), "line 12 has 2 values, expected 3 (as on line 1)")
    fails(write(tmp_path, "b.csv", "\n" + good + "1,x,3\n"), "line 12, column 2: 'x' is not a number")
    path = tmp_path / "c.csv"
    path.write_bytes(good.encode() + b"1,\xff,3\n")
    fails(path, "not UTF-8 text", "line 11")


def test_blocks_count_violations_over_the_whole_file(tmp_path, small_blocks):
    text = "1,2\n" * 5 + "3,1e39\n" + "1,2\n" * 5 + "nan,1\n" + "1,2\n" * 5 + "4,-inf\n"
    fails(write(tmp_path, "a.csv", text), "2 non-finite", "first at row 12, column 1")
    fails(write(tmp_path, "b.csv", "1,2\n" * 9 + "3,1e39\n1,-1e40\n"), "2 value(s) overflow float32",
          "row 10, column 2")


def test_overlong_line_while_streaming(tmp_path, small_blocks):
    fails(write(tmp_path, "a.csv", "1,2\n3,4\n" + "5," * 30 + "6\n"), "line 3 is longer than 40 bytes")


# ---- rejecting non-matrix files fast ---------------------------------------------------------

def test_binary_file_without_newlines_rejected_fast(tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "wb") as f:
        for _ in range(200):
            f.write(os.urandom(1 << 20).replace(b"\n", b"x"))
    start = time.perf_counter()
    fails(path, "binary data", "not comma-separated text")
    assert time.perf_counter() - start < 2


def test_sparse_file_of_zeros_rejected_fast(tmp_path):
    path = tmp_path / "zeros.txt"
    with open(path, "wb") as f:
        f.truncate(8 << 30)
    start = time.perf_counter()
    fails(path, "binary data (byte 0x00 at offset 0)")
    with pytest.raises(InputError, match="binary data"):
        convert_to_npy(path, tmp_path / "zeros.npy")
    assert time.perf_counter() - start < 2 and not (tmp_path / "zeros.npy").exists()


def test_overlong_first_line_rejected(tmp_path):
    path = write(tmp_path, "a.csv", "1," * (9 << 20))
    start = time.perf_counter()
    fails(path, "line 1 is longer than 16777216 bytes")
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize("text, where", [("[[1, 2], [3, 4]]\n", "line 1, column 1: '[[1'"),
                                         ("one,two\n1,2\n", "line 1, column 1: 'one'"),
                                         ("1,2\n3,4 # note\n", "line 2, column 2: '4 # note'"),
                                         ("1;2\n", "line 1, column 1: '1;2'")])
def test_foreign_characters_rejected_with_their_cell(tmp_path, text, where):
    fails(write(tmp_path, "a.csv", text), where, "is not a number")


def test_sniff_accepts_matrices_and_checks_the_mtx_header(tmp_path):
    assert sniff_matrix_file(write(tmp_path, "a.csv", "1,2\nnan,-Infinity\n")) is None
    assert sniff_matrix_file(mtx(tmp_path, "1 1 1\n1 1 1\n")) is None
    path = tmp_path / "b.mtx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(InputError, match="%%MatrixMarket"):
        sniff_matrix_file(path)


# ---- size limits ---------------------------------------------------------------------------

def test_huge_declared_mtx_is_rejected_before_reading(tmp_path):
    msg = fails(mtx(tmp_path, "3000000000 2000000000 1\n1 1 1\n"), "needs 24000000000000000048 bytes")
    assert "3000000000 x 2000000000" in msg
    fails(mtx(tmp_path, "200000 200000\n1\n", fmt="array", name="b.mtx"), "needs 480000000000 bytes")
    fails(mtx(tmp_path, "2 2 5\n1 1 1\n", name="c.mtx"), "declares 5 entries for a 2 x 2 matrix")


def test_max_bytes(tmp_path):
    csv = write(tmp_path, "a.csv", "1,2,3\n4,5,6\n")
    with pytest.raises(InputError, match="needs 36 bytes .* at most 35 bytes"):
        load_matrix(csv, max_bytes=35)  # 3 lines (the last one empty) bound the rows
    assert load_matrix(csv, max_bytes=36).shape == (2, 3)
    path = npy(tmp_path, np.zeros((10, 10)))
    with pytest.raises(InputError, match="needs 1200 bytes"):
        load_matrix(path, max_bytes=1000)
    with pytest.raises(InputError, match="needs 52 bytes"):
        convert_to_npy(mtx(tmp_path, "1 1 1\n1 1 2\n"), tmp_path / "a.npy", max_bytes=10)


def test_available_memory():
    assert 0 < hio.available_memory() < os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert hio.available_memory(margin=0) - hio.available_memory() == pytest.approx(512 << 20, rel=0.1)


# ---- convert_to_npy ------------------------------------------------------------------------

@pytest.mark.parametrize("blocks", [1 << 20, 16])
def test_convert_csv_to_npy(tmp_path, monkeypatch, blocks):
    monkeypatch.setattr(hio, "BLOCK_BYTES", blocks)
    text = "\n\n1,2,3\n  \n4,5,6.25\n" + "7,8,9\n" * 20 + "\n\n\n"
    source = write(tmp_path, "a.csv", text)
    dest = tmp_path / "out" / "a.npy"
    assert convert_to_npy(source, dest) == (22, 3)
    W = np.load(dest)
    assert W.dtype == np.float32 and W.flags.c_contiguous and W.tobytes() == load_matrix(source).tobytes()
    assert [p.name for p in dest.parent.iterdir()] == ["a.npy"]


def test_convert_mtx_and_npy(tmp_path):
    assert convert_to_npy(mtx(tmp_path, "2 3 1\n2 3 -2\n"), tmp_path / "m.npy") == (2, 3)
    np.testing.assert_array_equal(np.load(tmp_path / "m.npy"), [[0, 0, 0], [0, 0, -2]])
    assert convert_to_npy(npy(tmp_path, np.eye(2, dtype=np.int64)), tmp_path / "e.npy") == (2, 2)
    assert np.load(tmp_path / "e.npy").dtype == np.float32


def test_convert_failure_leaves_nothing_and_keeps_old_file(tmp_path, monkeypatch):
    monkeypatch.setattr(hio, "BLOCK_BYTES", 16)
    dest = tmp_path / "a.npy"
    dest.write_bytes(b"old")
    with pytest.raises(InputError, match="1 non-finite"):
        convert_to_npy(write(tmp_path, "a.csv", "1,2\n" * 20 + "nan,2\n"), dest)
    assert dest.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "a.npy"]


# ---- Matrix Market ---------------------------------------------------------------------------

MM = "%%MatrixMarket matrix {fmt} {field} {symmetry}\n% a comment\n"


def mtx(tmp_path, body, fmt="coordinate", field="real", symmetry="general", name="a.mtx"):
    return write(tmp_path, name, MM.format(fmt=fmt, field=field, symmetry=symmetry) + body)


def test_mtx_coordinate_general(tmp_path):
    W = load_matrix(mtx(tmp_path, "2 3 2\n1 1 1.5\n2 3 -2\n"))
    assert W.dtype == np.float32 and W.flags.c_contiguous
    np.testing.assert_array_equal(W, [[1.5, 0, 0], [0, 0, -2]])


def test_mtx_integer_field(tmp_path):
    W = load_matrix(mtx(tmp_path, "2 2 1\n1 2 7\n", field="integer"))
    np.testing.assert_array_equal(W, [[0, 7], [0, 0]])


def test_mtx_symmetric_is_expanded(tmp_path):
    W = load_matrix(mtx(tmp_path, "3 3 2\n1 1 1\n3 1 2\n", symmetry="symmetric"))
    np.testing.assert_array_equal(W, [[1, 0, 2], [0, 0, 0], [2, 0, 0]])


def test_mtx_skew_symmetric_is_expanded(tmp_path):
    W = load_matrix(mtx(tmp_path, "3 3 1\n3 1 2\n", symmetry="skew-symmetric"))
    np.testing.assert_array_equal(W, [[0, 0, -2], [0, 0, 0], [2, 0, 0]])


def test_mtx_array_format_is_column_major(tmp_path):
    W = load_matrix(mtx(tmp_path, "2 2\n1\n2\n3\n4\n", fmt="array"))
    np.testing.assert_array_equal(W, [[1, 3], [2, 4]])
    assert W.flags.c_contiguous


def test_mtx_pattern_rejected(tmp_path):
    fails(mtx(tmp_path, "2 2 1\n1 2\n", field="pattern"), "pattern", "values")


def test_mtx_complex_rejected(tmp_path):
    fails(mtx(tmp_path, "2 2 1\n1 2 1 1\n", field="complex"), "complex", "unsupported")


def test_mtx_zero_by_zero_has_no_entries(tmp_path):
    fails(mtx(tmp_path, "0 0 0\n"), "has no entries")


def test_mtx_missing_header(tmp_path):
    fails(write(tmp_path, "a.mtx", "2 2 1\n1 2 3\n"), "%%MatrixMarket")


@pytest.mark.parametrize("banner", ["%%MatrixMarket matrix coordinate reel general",
                                    "%%MatrixMarket tensor coordinate real general"])
def test_mtx_bad_header(tmp_path, banner):
    fails(write(tmp_path, "a.mtx", banner + "\n2 2 1\n1 2 3\n"), "header")


@pytest.mark.parametrize("body", ["2 2 3\n1 2 3\n", "2 2 1\n3 2 1\n", "2 2 1\n1 2 abc\n"])
def test_mtx_malformed_body(tmp_path, body):
    fails(mtx(tmp_path, body), "invalid Matrix Market file")


def test_mtx_nan_and_overflow_located(tmp_path):
    fails(mtx(tmp_path, "3 3 2\n1 1 1\n3 2 nan\n"), "1 non-finite", "row 3, column 2")
    fails(mtx(tmp_path, "3 3 1\n2 3 1e39\n", name="b.mtx"), "overflow float32", "row 2, column 3")


# ---- NPY -----------------------------------------------------------------------------------

def npy(tmp_path, array, name="a.npy"):
    path = tmp_path / name
    np.save(path, array, allow_pickle=True)
    return path


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int64, np.uint8])
def test_npy_numeric(tmp_path, dtype):
    A = np.asfortranarray(np.arange(6, dtype=dtype).reshape(2, 3))
    W = load_matrix(npy(tmp_path, A))
    assert W.dtype == np.float32 and W.flags.c_contiguous
    np.testing.assert_array_equal(W, A)


@pytest.mark.parametrize("shape", [(5,), (2, 2, 2), ()])
def test_npy_must_be_2d(tmp_path, shape):
    fails(npy(tmp_path, np.zeros(shape)), "2-D")


def test_npy_empty_and_non_numeric(tmp_path):
    fails(npy(tmp_path, np.zeros((0, 5))), "has no entries")
    fails(npy(tmp_path, np.zeros((2, 2), complex), "c.npy"), "complex")
    fails(npy(tmp_path, np.array([["a", "b"]]), "s.npy"), "not numeric")
    fails(npy(tmp_path, np.array([[True]]), "b.npy"), "not numeric")
    fails(npy(tmp_path, np.array([[object()]]), "o.npy"), "not a readable .npy")


def test_npy_non_finite_and_overflow(tmp_path):
    fails(npy(tmp_path, np.array([[1.0, np.inf]])), "non-finite", "row 1, column 2")
    fails(npy(tmp_path, np.array([[1.0], [1e300]]), "b.npy"), "overflow float32", "row 2, column 1")


def test_npy_garbage(tmp_path):
    path = tmp_path / "a.npy"
    path.write_bytes(b"not numpy at all")
    fails(path, "not a readable .npy")


# ---- files and extensions --------------------------------------------------------------------

def test_missing_file(tmp_path):
    fails(tmp_path / "nope.csv", "no such file")


def test_directory(tmp_path):
    (tmp_path / "d.csv").mkdir()
    fails(tmp_path / "d.csv", "not a regular file")


def test_unsupported_extension_lists_supported(tmp_path):
    fails(write(tmp_path, "a.json", "[[1]]"), "'.json'", ".csv, .txt, .mtx, .npy")


def test_extension_is_case_insensitive(tmp_path):
    assert load_matrix(write(tmp_path, "A.CSV", "1,2\n")).shape == (1, 2)


# ---- save_matrix_csv -----------------------------------------------------------------------

def test_save_round_trips_float32_exactly(tmp_path):
    info = np.finfo(np.float32)
    W = np.array([[0.1, -0.0, info.max, -info.max], [info.tiny, info.smallest_subnormal, 1 / 3, 1e-30]],
                 dtype=np.float32)
    path = save_matrix_csv(W, tmp_path / "nns" / "data" / "matrices" / "vgg_1-0-2-0-0.5_096.csv")
    back = load_matrix(path)
    assert back.tobytes() == W.tobytes()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_save_one_column_is_one_value_per_line(tmp_path):
    path = save_matrix_csv(np.array([[1.5], [2.0]]), tmp_path / "a.csv")
    assert path.read_text() == "1.5\n2\n"


def test_save_rejects_bad_matrices_and_leaves_old_file(tmp_path):
    path = save_matrix_csv(np.ones((2, 2)), tmp_path / "a.csv")
    before = path.read_bytes()
    for bad in (np.array([[np.nan]]), np.zeros((0, 3)), np.ones(3), np.array([[1e39]])):
        with pytest.raises(InputError, match=str(path)):
            save_matrix_csv(bad, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]
    with pytest.raises(InputError, match=".csv or .txt"):
        save_matrix_csv(np.ones((2, 2)), tmp_path / "a.npy")


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
                  elements=st.floats(width=32, allow_nan=False, allow_infinity=False)))
def test_save_load_round_trip_property(tmp_path_factory, W):
    path = save_matrix_csv(W, tmp_path_factory.mktemp("rt") / "w.csv")
    assert load_matrix(path).tobytes() == np.ascontiguousarray(W).tobytes()


@pytest.mark.parametrize("distinct", [5, hio.FEW_DISTINCT + 1])
def test_save_writes_the_text_of_savetxt(tmp_path, distinct):
    """Few distinct values (a quantized layer) are formatted once each; the text is the same."""
    rng = np.random.default_rng(0)
    values = rng.standard_normal(distinct).astype(np.float32)
    W = values[rng.permutation(np.arange(300 * 300) % distinct)].reshape(300, 300)
    W[rng.random(W.shape) < 0.5] = 0
    W[0, 0] = -0.0
    for name, matrix in (("with_negative_zero", W), ("without", np.where(W == 0, 0, W))):
        path = save_matrix_csv(matrix, tmp_path / f"{name}.csv")
        expected = io.StringIO()
        np.savetxt(expected, matrix, fmt="%.9g", delimiter=",")
        assert path.read_text() == expected.getvalue(), name
