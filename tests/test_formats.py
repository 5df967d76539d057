"""Every format: exact round trip, products against the dense product, input handling, stored arrays,
encode memory."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import DenseProduct, assert_product_close, fibonacci_matrix, quantized_matrix

import hamsham
from hamsham.formats import roundtrip_errors
from hamsham.huffman import HuffmanCode
from hamsham.io import load_matrix
from hamsham.timing import paper_dot_time, paper_input, reference_from_blocks, reference_product
from hamsham.values import ValueTable, as_matrix

FORMATS = hamsham.FORMATS
CASES = [  # (n, m, density, k)
    (1, 1, 1.0, 1), (1, 37, 0.5, 4), (53, 1, 0.5, 7), (1, 1, 0.0, 1), (20, 30, 0.0, 1),
    (31, 9, 1.0, 2), (64, 48, 0.1, 32), (100, 77, 0.7, 256), (257, 33, 0.3, 3000),
    (40, 50, 1.0, 1), (300, 5, 0.9, 45), (7, 300, 0.05, 16),
]


def _matrices():
    rng = np.random.default_rng(2024)
    for n, m, density, k in CASES:
        yield f"{n}x{m}-d{density}-k{k}", quantized_matrix(rng, n, m, density, k)
    yield "negative-zero", quantized_matrix(rng, 30, 20, 0.4, 5, negative_zero=True)
    background = np.where(rng.random((40, 25)) < 0.8, 1.5, rng.integers(-3, 4, (40, 25)))
    yield "nonzero-background", background.astype(np.float32)
    yield "random-floats", rng.standard_normal((60, 40)).astype(np.float32)


MATRICES = dict(_matrices())


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", MATRICES)
def test_round_trip_is_exact(name, fmt):
    W = MATRICES[name]
    obj = hamsham.compress(W, fmt)
    D = obj.toarray()
    assert obj.shape == W.shape and D.dtype == np.float32 and D.shape == W.shape
    assert np.array_equal(D, W), "decoded matrix differs"
    assert not np.signbit(D[D == 0]).any(), "zeros are stored as +0.0"
    assert obj.nbits > 0


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", MATRICES)
def test_products_match_the_dense_product(name, fmt):
    W = MATRICES[name]
    obj = hamsham.compress(W, fmt)
    rng = np.random.default_rng(1)
    for r in (1, 3, 8, 17):
        X = rng.random((r, W.shape[0]), dtype=np.float32)
        assert_product_close(X @ obj, X, W)
        for threads in (1, 2, 3, 7):
            assert_product_close(obj.left_matmul(X, threads=threads), X, W)
    x = rng.standard_normal(W.shape[0]).astype(np.float32)
    y = x @ obj
    assert y.shape == (W.shape[1],)
    assert_product_close(y[None, :], x[None, :], W)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", MATRICES)
def test_right_products_match_the_dense_product(name, fmt):
    """W @ X (PyTorch's Linear orientation), against the float64 product W @ X."""
    W = MATRICES[name]
    obj = hamsham.compress(W, fmt)
    bg = obj.to_arrays()["values"][0] if fmt == "cser" and W.size else 0.0
    rng = np.random.default_rng(5)
    for r in (1, 3, 8, 17, 40):
        X = rng.standard_normal((W.shape[1], r)).astype(np.float32)
        assert_product_close((obj @ X).T, X.T, W.T, bg)
        for threads in (None, 0, 1, 2, 3, 7):
            assert_product_close(obj.matmul(X, threads=threads).T, X.T, W.T, bg)
    x = rng.standard_normal(W.shape[1]).astype(np.float32)
    y = obj @ x
    assert y.shape == (W.shape[0],)
    assert_product_close(y[None, :], x[None, :], W.T, bg)
    assert (obj @ np.ones((W.shape[1], 0), np.float32)).shape == (W.shape[0], 0)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", MATRICES)
def test_scipy_attributes(name, fmt):
    W = MATRICES[name]
    obj = hamsham.compress(W, fmt)
    assert obj.nnz == np.count_nonzero(W) and isinstance(obj.nnz, int)
    assert obj.dtype == np.float32 and obj.format == fmt
    assert np.array_equal(obj.toarray(), W) and np.array_equal(obj.to_dense(), W)


@pytest.mark.parametrize("fmt", FORMATS)
def test_nnz_of_all_zero_constant_and_full_matrices(fmt):
    for W in (np.zeros((30, 7), np.float32), np.full((30, 7), -2.5, np.float32),
              np.arange(1, 211, dtype=np.float32).reshape(30, 7)):
        W = W.copy()
        W[:, 3] = 0  # an all-zero column
        assert hamsham.compress(W, fmt).nnz == np.count_nonzero(W)
    for shape in ((0, 5), (5, 0), (0, 0)):
        assert hamsham.compress(np.zeros(shape, np.float32), fmt).nnz == 0
    tall = np.zeros((3000, 700), np.float32)  # IM counts and rebuilds in blocks of rows
    tall[::7, 5] = 1.5
    assert hamsham.compress(tall, fmt).nnz == np.count_nonzero(tall)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["100x77-d0.7-k256", "nonzero-background", "7x300-d0.05-k16", "1x1-d0.0-k1"])
def test_columns_are_the_slices(name, fmt):
    W = MATRICES[name]
    obj = hamsham.compress(W, fmt)
    m = W.shape[1]
    for start, stop in ((0, m), (0, 0), (m, m), (0, 1), (m // 3, m // 2 + 1), (m - 1, m)):
        D = obj.columns(start, stop)
        assert D.dtype == np.float32 and D.flags.c_contiguous and D.shape == (W.shape[0], stop - start)
        assert np.array_equal(D, W[:, start:stop])
    for start, stop in ((-1, 1), (1, 0), (0, m + 1)):
        with pytest.raises(ValueError, match="start <= stop"):
            obj.columns(start, stop)


@pytest.mark.parametrize("fmt", FORMATS)
def test_roundtrip_errors(fmt):
    W = MATRICES["100x77-d0.7-k256"]
    obj = hamsham.compress(W, fmt)
    for block_bytes in (1, 400 * 7, 256 << 20):  # one column, 7 columns, all at once
        assert roundtrip_errors(obj, W, block_bytes=block_bytes) == (0, 0.0)
        assert roundtrip_errors(obj, W.astype(np.float64), block_bytes=block_bytes) == (0, 0.0)
    changed = W.copy()
    changed[3, 5] += 2.0
    changed[99, 76] -= 0.5
    for block_bytes in (1, 400 * 7, 256 << 20):
        assert roundtrip_errors(obj, changed, block_bytes=block_bytes) == (2, 2.0)
    with pytest.raises(ValueError, match="shape"):
        roundtrip_errors(obj, W[:, :-1])


VALUE_FIELDS = {"ham": "values", "sham": "values", "cser": "values", "im": "values", "csc": "data", "dense": "W",
                "rlh": "values"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_roundtrip_errors_of_a_corrupted_value_table(fmt):
    """A structure that is valid but holds other values: every changed entry is counted."""
    W = MATRICES["100x77-d0.7-k256"]
    arrays = hamsham.compress(W, fmt).to_arrays()
    field = VALUE_FIELDS[fmt]
    values = arrays[field].copy()
    values[values != 0] += np.float32(1.0)
    arrays[field] = values
    obj = hamsham.from_arrays(fmt, arrays, W.shape)
    assert roundtrip_errors(obj, W, block_bytes=4000) == (np.count_nonzero(W), pytest.approx(1.0, rel=1e-5))


def tall_matrix(n=1_262_102, m=4, density=0.31, k=300):
    """The shape of the study's tallest matrix (imagenet): nonnegative, a few hundred values."""
    rng = np.random.default_rng(0)
    p = 0.98 ** np.arange(k)
    W = rng.choice(np.arange(1, k + 1, dtype=np.float32) * np.float32(0.37), size=(n, m), p=p / p.sum())
    W[rng.random((n, m)) >= density] = 0
    return W


def test_long_columns_are_as_accurate_as_blas():
    W = tall_matrix()
    X = paper_input(W.shape[0])
    exact = reference_product(X, W)
    dense = np.abs(X @ W - exact).max()
    for fmt in ("ham", "sham", "cser", "rlh"):
        obj = hamsham.compress(W, fmt)
        for threads in (1, 2):
            err = np.abs(obj.left_matmul(X, threads=threads) - exact).max()
            assert err <= 2 * dense, (fmt, threads, err, dense)
        err = np.abs(obj.left_matmul(X[0]) - exact[0]).max()
        assert err <= 2 * dense, (fmt, "vector", err, dense)


def test_long_rows_are_as_accurate_as_blas():
    W = np.ascontiguousarray(tall_matrix(n=400_000).T)  # 4 rows of 400000 columns: W @ X sums 400000 terms
    X = paper_input(W.shape[1]).T.copy()
    exact = reference_product(X.T, W.T).T
    dense = np.abs(W @ X - exact).max()
    for fmt in ("ham", "sham", "cser", "rlh"):
        obj = hamsham.compress(W, fmt)
        for threads in (1, 2):
            err = np.abs(obj.matmul(X, threads=threads) - exact).max()
            assert err <= 2 * dense, (fmt, threads, err, dense)
        err = np.abs(obj @ X[:, 0] - exact[:, 0]).max()
        assert err <= 2 * dense, (fmt, "vector", err, dense)


def test_reference_product_in_blocks():
    rng = np.random.default_rng(3)
    W = rng.standard_normal((1000, 30)).astype(np.float32)
    X = rng.random((5, 1000), dtype=np.float32)
    full = X.astype(np.float64) @ W.astype(np.float64)
    for block_rows in (None, 1, 7, 999, 5000):
        assert np.allclose(reference_product(X, W, block_rows=block_rows), full, rtol=1e-13, atol=1e-12)
    # the same sum from blocks read one by one (the pipeline's reference rule)
    blocks = [(start, W[start:start + 7]) for start in range(0, len(W), 7)]
    assert np.allclose(reference_from_blocks(X, blocks, W.shape[1]), full, rtol=1e-13, atol=1e-12)
    with pytest.raises(ValueError, match="does not match"):
        reference_product(X[:, :-1], W)


def test_paper_dot_time_errors():
    W = MATRICES["100x77-d0.7-k256"]
    obj = hamsham.compress(W, "sham")
    X = paper_input(W.shape[0], 4)
    reference = reference_product(X, W)
    by_reference = paper_dot_time(obj, reference=reference, rows=4, repeats=2)
    by_matrix = paper_dot_time(obj, W=W, rows=4, repeats=2)
    for result in (by_reference, by_matrix):
        assert result["seconds_per_row"] > 0 and result["seconds_per_row_std"] >= 0
        assert result["max_abs_err"] == by_reference["max_abs_err"] < 1e-3
        assert result["max_rel_err"] == by_reference["max_abs_err"] / np.abs(reference).max()
    shifted = paper_dot_time(obj, reference=reference + 1.0, rows=4, repeats=1)
    assert abs(shifted["max_abs_err"] - 1.0) < 1e-3
    zero = hamsham.compress(np.zeros((6, 3), np.float32), "ham")
    assert paper_dot_time(zero, W=np.zeros((6, 3)), repeats=1)["max_rel_err"] == 0.0
    with pytest.raises(ValueError, match="reference"):
        paper_dot_time(obj, repeats=1)
    with pytest.raises(TypeError):  # W or the reference only by name: no guessing which
        paper_dot_time(obj, W, rows=4, repeats=1)
    with pytest.raises(ValueError, match="shape"):
        paper_dot_time(obj, reference=reference[:, :-1], rows=4, repeats=1)


def imagenet_like(path, n=55_000, m=900, density=0.31, k=824):
    """An ~200 MB .npy matrix with imagenet's statistics (density 0.31, 824 nonzero values), in row blocks."""
    rng = np.random.default_rng(0)
    levels = np.arange(1, k + 1, dtype=np.float32) * np.float32(0.37)
    W = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, m))
    for start in range(0, n, 5000):
        rows = min(n, start + 5000) - start
        block = levels[(rng.random((rows, m), dtype=np.float32) ** 3 * k).astype(np.int16)]
        block[rng.random((rows, m), dtype=np.float32) >= density] = 0
        W[start:start + rows] = block
    W.flush()
    return W.nbytes


@pytest.mark.slow
def test_encode_memory_is_the_result_plus_a_bounded_working_set(tmp_path):
    """Each encoder and the model, in a fresh process: the peak resident memory beyond W is at
    most the encoded result + 0.3 x W + 64 MiB (no copy of W, no n m symbols)."""
    path = tmp_path / "W.npy"
    w_bytes = imagenet_like(path)
    bench = Path(__file__).resolve().parents[1] / "bench" / "bench.py"
    for job in FORMATS + ("stats", "space", "energy"):
        run = subprocess.run([sys.executable, str(bench), "--measure-encode", job, str(path)],
                             capture_output=True, text=True, check=True, timeout=300)
        result = json.loads(run.stdout.strip().splitlines()[-1])
        assert result["dense_bytes"] == w_bytes  # stored_bytes: the result's (0 for the model)
        assert result["peak_extra_bytes"] <= result["stored_bytes"] + 0.3 * w_bytes + (64 << 20), (job, result)


def test_columns_start_at_bit_31():
    # k = 2 -> 1-bit codes; 31 rows -> 31-bit columns starting at bits 0, 31, 62, ... (31 mod 32 included)
    W = np.where(np.random.default_rng(0).random((31, 40)) < 0.5, 1.0, 2.0).astype(np.float32)
    obj = hamsham.compress(W, "ham")
    offsets = obj.to_arrays()["bit_offsets"]
    assert (offsets[:-1] % 32 == 31).any()
    assert np.array_equal(obj.toarray(), W)
    X = np.random.default_rng(1).random((8, 31), dtype=np.float32)
    for threads in (1, 2, 3):
        assert_product_close(obj.left_matmul(X, threads=threads), X, W)


def test_codes_longer_than_32_bits():
    W = fibonacci_matrix(34)  # 9.2M entries; the two rarest values get 33-bit codes
    np.random.default_rng(0).shuffle(W[0])
    assert HuffmanCode.of(ValueTable.of(W)).lmax == 33
    tall = W[:, : W.size - W.size % 8].reshape(8, -1)
    for M in (W, tall, W.reshape(-1, 1)):
        for fmt in ("ham", "sham"):
            obj = hamsham.compress(M, fmt)
            assert np.array_equal(obj.toarray(), M)
            X = np.random.default_rng(0).random((2, M.shape[0]), dtype=np.float32)
            assert_product_close(obj.left_matmul(X, threads=2), X, M)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 0)])
def test_empty_matrices(fmt, shape):
    W = np.zeros(shape, np.float32)
    obj = hamsham.compress(W, fmt)
    assert obj.toarray().shape == shape
    X = np.ones((3, shape[0]), np.float32)
    assert np.array_equal(X @ obj, np.zeros((3, shape[1]), np.float32))
    for threads in (None, 1, 2):
        Y = obj.matmul(np.ones((shape[1], 3), np.float32), threads=threads)
        assert Y.dtype == np.float32 and np.array_equal(Y, np.zeros((shape[0], 3), np.float32))


@pytest.mark.parametrize("fmt", FORMATS)
def test_input_conversion_and_errors(fmt):
    W = MATRICES["64x48-d0.1-k32"]
    obj = hamsham.compress(W.astype(np.float64), fmt)  # float64 input is cast to float32
    assert np.array_equal(obj.toarray(), W)
    X = np.random.default_rng(0).random((5, 128))[:, ::2]  # float64, non-contiguous, (5, 64)
    assert_product_close(X @ obj, X.astype(np.float32), W)
    with pytest.raises(ValueError, match="shape mismatch"):
        np.ones((2, 63), np.float32) @ obj
    with pytest.raises(ValueError, match="vector or a matrix"):
        obj.left_matmul(np.ones((2, 2, 64), np.float32))
    with pytest.raises(ValueError, match="threads"):
        obj.left_matmul(np.ones((2, 64), np.float32), threads=-1)


@pytest.mark.parametrize("fmt", FORMATS)
def test_right_product_input_conversion_and_errors(fmt):
    W = MATRICES["64x48-d0.1-k32"]
    obj = hamsham.compress(W, fmt)
    rng = np.random.default_rng(0)
    X = rng.random((96, 5))[::2]  # float64, non-contiguous, (48, 5)
    assert_product_close((obj @ X).T, X.T.astype(np.float32), W.T)
    X = rng.integers(-3, 4, (48, 4))  # integers
    assert_product_close(obj.matmul(X, threads=2).T, X.T.astype(np.float32), W.T)
    assert_product_close((obj @ np.asfortranarray(X)).T, X.T.astype(np.float32), W.T)
    with pytest.raises(ValueError, match=r"\(64, 48\).*\(47, 5\)"):  # names both shapes
        obj @ np.ones((47, 5), np.float32)
    with pytest.raises(ValueError, match=r"\(2, 63\).*\(64, 48\)"):
        np.ones((2, 63), np.float32) @ obj
    with pytest.raises(ValueError, match="vector or a matrix"):
        obj @ np.ones((48, 2, 2), np.float32)
    with pytest.raises(ValueError, match="threads"):
        obj.matmul(np.ones(48, np.float32), threads=-1)
    with pytest.raises(TypeError, match="threads"):
        obj.matmul(np.ones(48, np.float32), threads=1.5)
    with pytest.raises(TypeError, match="real"):
        obj @ np.ones(48, np.complex64)


@pytest.mark.parametrize("bad", [np.float32([[1, np.nan]]), np.float32([[np.inf, 0]]), np.float64([[1e39]])])
def test_non_finite_values_are_rejected(bad):
    with pytest.raises(ValueError, match="non-finite"):
        hamsham.compress(bad, "ham")


def test_as_matrix_copies_only_to_fix():
    W = MATRICES["64x48-d0.1-k32"].copy()
    W.setflags(write=False)
    assert as_matrix(W) is W  # float32, C order, finite, no -0.0: used as is
    assert as_matrix(W, private=True) is not W
    negative = MATRICES["negative-zero"]
    assert np.signbit(negative[negative == 0]).any()
    before = negative.copy()
    fixed = as_matrix(negative)
    assert fixed is not negative and np.array_equal(fixed, negative) and not np.signbit(fixed[fixed == 0]).any()
    assert np.array_equal(np.signbit(negative), np.signbit(before))  # the caller's array is left alone
    for other in (W.astype(np.float64), np.asfortranarray(W), W[:, ::2]):
        assert np.array_equal(as_matrix(other), other) and as_matrix(other).flags.c_contiguous
    source = W.copy()
    kept = hamsham.compress(source, "dense").to_arrays()["W"]  # dense stores a copy of its own
    assert np.array_equal(kept, W) and not np.shares_memory(kept, source)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown format"):
        hamsham.compress(np.eye(2), "zip")
    with pytest.raises(ValueError, match="2-D"):
        hamsham.compress(np.ones(3), "ham")


@pytest.mark.parametrize("fmt", FORMATS)
def test_save_and_load(fmt, tmp_path):
    W = MATRICES["100x77-d0.7-k256"]
    obj = hamsham.compress(W, fmt)
    hamsham.save(obj, tmp_path / "w.npz")
    back = hamsham.load(tmp_path / "w.npz")
    assert type(back) is type(obj) and back.nbits == obj.nbits
    assert np.array_equal(back.toarray(), W)


STRUCTURAL_CORRUPTIONS = {
    "ham": [("words", lambda a: a[: len(a) // 2]), ("bit_offsets", lambda a: a + np.uint64(10**9)),
            ("bit_offsets", lambda a: a[::-1].copy()), ("lengths", lambda a: a[:-1]),
            ("bit_offsets", lambda a: a[:-1])],
    "sham": [("row_index", lambda a: a + a.dtype.type(200)), ("col_ptr", lambda a: a[::-1].copy()),
             ("words", lambda a: a[:3]), ("bit_offsets", lambda a: a[:-1])],
    "cser": [("col_index", lambda a: a + a.dtype.type(250)), ("value_index", lambda a: a + a.dtype.type(255)),
             ("value_ptr", lambda a: a[::-1].copy()), ("row_ptr", lambda a: a + a.dtype.type(5))],
    "csc": [("indices", lambda a: a + 1000), ("indptr", lambda a: a[::-1].copy())],
    "im": [("index", lambda a: a + a.dtype.type(255))],
    "rlh": [("words", lambda a: a[:3]), ("block_offsets", lambda a: a[::-1].copy()),
            ("block_offsets", lambda a: a[:-1]), ("values", lambda a: a[:0]),
            ("col_mask", lambda a: np.ones(3, np.uint8))],
}


@pytest.mark.parametrize("fmt,field,corrupt",
                         [(f, field, c) for f, cases in STRUCTURAL_CORRUPTIONS.items() for field, c in cases],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_corrupted_structures_are_rejected(fmt, field, corrupt):
    W = MATRICES["100x77-d0.7-k256"]
    arrays = hamsham.compress(W, fmt).to_arrays()
    arrays[field] = corrupt(arrays[field])
    with pytest.raises(ValueError):
        hamsham.from_arrays(fmt, arrays, W.shape)


@pytest.mark.parametrize("fmt", ["ham", "sham", "rlh"])
def test_corrupted_bitstreams_fail_cleanly(fmt):
    """Flipped bits may still decode (a complete code decodes any bits) but never crash or
    read out of bounds: each decode either raises ValueError or returns a matrix of W's shape."""
    W = MATRICES["100x77-d0.7-k256"]
    rng = np.random.default_rng(5)
    errors = 0
    for trial in range(40):
        arrays = hamsham.compress(W, fmt).to_arrays()
        words = arrays["words"].copy()
        flips = rng.integers(0, len(words) - 2, size=1 + trial % 4)
        words[flips] ^= rng.integers(1, 2**32, size=len(flips), dtype=np.uint64).astype(np.uint32)
        arrays["words"] = words
        obj = hamsham.from_arrays(fmt, arrays, W.shape)
        try:
            assert obj.columns(10, 30).shape == (W.shape[0], 20)
            assert obj.toarray().shape == W.shape
            assert (np.ones((2, W.shape[0]), np.float32) @ obj).shape == (2, W.shape[1])
        except ValueError as err:
            assert "corrupt" in str(err)
            errors += 1
    assert errors > 0  # a flipped bit almost always moves a column end


def test_k1_stream_with_a_one_bit_is_rejected():
    W = np.full((5, 3), 2.5, np.float32)
    arrays = hamsham.compress(W, "ham").to_arrays()
    assert arrays["words"][0] == 0
    arrays["words"] = arrays["words"].copy()
    arrays["words"][0] = np.uint32(1 << 31)
    with pytest.raises(ValueError, match="corrupt"):
        hamsham.from_arrays("ham", arrays, W.shape).toarray()


def test_real_subset_round_trip_and_products(subset_entries):
    rng = np.random.default_rng(0)
    for entry in subset_entries:
        W = load_matrix(entry.path)
        X = rng.random((8, W.shape[0]), dtype=np.float32)
        reference = DenseProduct(X, W)
        for fmt in FORMATS:
            obj = hamsham.compress(W, fmt)
            assert np.array_equal(obj.toarray(), W), (entry.name, fmt)
            reference.check(obj.left_matmul(X, threads=2))
