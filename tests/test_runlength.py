"""RLH (hamsham.runlength, ext/src/runlength*.cpp): exact round trips and both products in each
of its four coding modes, edge shapes, long runs and long codewords, column slices, the
stored arrays, the encoder's block widths, and validation: corrupted arrays raise ValueError,
flipped bits never crash.

A small Python writer of RLH streams (`written`: one fixed-length joint code) checks the
decoder against the layout of ext/src/runlength.hpp independently of the C++ encoder, and
builds streams the encoder never writes (kept all-zero columns: runs across several columns;
block widths of its choosing).
"""
import numpy as np
import pytest
from helpers import DenseProduct

import hamsham
from hamsham.bits import index_dtype
from hamsham.io import load_matrix
from hamsham.runlength import RLH

FIELDS = ("values", "code1_symbols", "code1_counts", "code2_counts", "run_weights", "value_weights", "zero_rank",
          "row_mask", "col_mask", "block_cols", "words", "block_offsets")
INTEGER_FIELDS = ("code1_symbols", "code1_counts", "code2_counts", "run_weights", "value_weights", "zero_rank",
                  "block_cols")
WIDTHS = (1, 2, 8, 9, 17, 40)
THREADS = (1, 2, 3)
MAX_JOINT_VALUES = (1 << 22) // 136  # beyond this many distinct values only the factored mode is tried


# --- matrices ----------------------------------------------------------------------------

def from_pairs(n, m, pairs):
    """An n x m matrix whose column-major entries are the given (zeros before, value) pairs."""
    flat = np.zeros(n * m, np.float32)
    position = 0
    for run, value in pairs:
        position += run
        flat[position] = value
        position += 1
    return np.ascontiguousarray(flat.reshape(m, n).T)


def joint_matrix(rng, n=120, m=150):
    """Runs and values in lockstep (each run length comes with its own value): one code over
    the pairs needs half the bits of a run code plus a value code."""
    choices = [(0, 1.5), (3, -2.0), (7, 0.25), (21, 4.0)]
    pairs, used = [], 0
    while True:
        run, value = choices[rng.integers(len(choices))]
        if used + run + 1 > n * m:
            break
        pairs.append((run, value))
        used += run + 1
    return from_pairs(n, m, pairs)


def product_matrix(rng, n=300, m=70):
    """Independent runs and a few integer values: the pair code built from run and value
    weights is about as short as the listed one, without listing its symbols."""
    return np.where(rng.random((n, m)) < 0.3, rng.integers(-3, 4, (n, m)), 0).astype(np.float32)


def factored_matrix(rng, n=300, m=70):
    """Many distinct values: listing a pair code would cost more than it saves."""
    return np.where(rng.random((n, m)) < 0.3, rng.standard_normal((n, m)).round(2), 0).astype(np.float32)


def entries_matrix(rng, n=150, m=140):
    """Half the entries zero, independently, and 16 values: one bit per zero is the runs'
    entropy, and a code over the entries (counts per length only) is cheaper than pair tables."""
    return np.where(rng.random((n, m)) < 0.5, rng.choice(np.linspace(-1, 1, 16), (n, m)), 0).astype(np.float32)


MODE_MATRICES = {"joint": joint_matrix, "product": product_matrix, "factored": factored_matrix,
                 "entries": entries_matrix}
MODES = tuple(MODE_MATRICES)
# The arrays each mode stores (beyond values, masks, block_cols, words and block_offsets).
MODE_ARRAYS = {"joint": ("code1_symbols", "code1_counts"),
               "factored": ("code1_symbols", "code1_counts", "code2_counts"),
               "product": ("run_weights", "value_weights"),
               "entries": ("code1_counts", "zero_rank")}


def expected_kept(W):
    """The rows and columns the encoder keeps (rlh_encode): all-zero ones are dropped when they
    hold at least twice as many entries as their mask has bits; with no nonzero, none is kept."""
    n, m = W.shape
    rows, cols = W.any(axis=1), W.any(axis=0)
    if rows.any():
        zero_rows, zero_cols = n - int(rows.sum()), m - int(cols.sum())
        if zero_rows * (m - zero_cols) < 2 * n:
            rows = np.ones(n, bool)
        if zero_cols * (n - zero_rows) < 2 * m:
            cols = np.ones(m, bool)
    return rows, cols


def expected_block_cols(kept_rows, kept_cols, nonzeros):
    """The encoder's block width (rlh_encode): about max(4, nonzeros / 2^15) blocks of whole
    64-column units, at most one block per unit, and a block wider than one unit at most 2^24
    entries (kept rows x block width)."""
    units = -(-kept_cols // 64)
    wanted = max(1, min(units, max(4, nonzeros >> 15)))
    per_block = max(1, min(-(-units // wanted), (1 << 18) // max(1, kept_rows)))
    return 64 * per_block


@pytest.fixture(scope="module", params=sorted(MODE_MATRICES))
def mode_case(request):
    W = MODE_MATRICES[request.param](np.random.default_rng(7))
    obj = hamsham.compress(W, "rlh")
    assert obj.mode == request.param, f"the encoder chose {obj.mode} for the {request.param} matrix"
    return W, obj


# --- checks ------------------------------------------------------------------------------

def check_products(obj, W, widths=WIDTHS, threads=THREADS, seed=0):
    """X @ W and W @ X, matrices of each width and vectors, against the float64 products."""
    rng = np.random.default_rng(seed)
    n, m = W.shape
    for r in widths:
        X = rng.standard_normal((r, n)).astype(np.float32)
        left = DenseProduct(X, W)
        left.check(X @ obj)
        Z = rng.standard_normal((m, r)).astype(np.float32)
        right = DenseProduct(Z.T, W.T)
        right.check((obj @ Z).T)
        for t in threads:
            left.check(obj.left_matmul(X, threads=t))
            right.check(obj.matmul(Z, threads=t).T)
    x, z = rng.standard_normal(n).astype(np.float32), rng.standard_normal(m).astype(np.float32)
    for t in (None,) + tuple(threads):
        y = obj.left_matmul(x, threads=t)
        assert y.shape == (m,)
        DenseProduct(x[None, :], W).check(y[None, :])
        y = obj.matmul(z, threads=t)
        assert y.shape == (n,)
        DenseProduct(z[None, :], W.T).check(y[None, :])


def check_exact(obj, W):
    D = obj.toarray()
    assert D.dtype == np.float32 and D.shape == W.shape and D.flags.c_contiguous
    assert np.array_equal(D, W)
    assert obj.nnz == np.count_nonzero(W)


def check_columns(obj, W, ranges):
    for start, stop in ranges:
        D = obj.columns(start, stop)
        assert D.shape == (W.shape[0], stop - start) and D.flags.c_contiguous, (start, stop)
        assert np.array_equal(D, W[:, start:stop]), (start, stop)


def check_stored_arrays(obj, W):
    """The layout's promises about the stored arrays (ext/src/runlength.hpp)."""
    a = obj.to_arrays()
    assert set(a) == set(FIELDS)
    assert obj.nbits == 8 * sum(v.nbytes for v in a.values())
    assert a["values"].dtype == np.float32 and a["words"].dtype == np.uint32
    assert a["row_mask"].dtype == np.uint8 and a["col_mask"].dtype == np.uint8
    for name in INTEGER_FIELDS:  # the narrowest unsigned type: the encoder counted its bits that way
        largest = int(a[name].max()) if len(a[name]) else 0
        assert a[name].dtype == index_dtype(largest), (name, a[name].dtype, largest)
    assert a["block_offsets"].dtype in (np.uint32, np.uint64)
    n, m = W.shape
    rows, cols = expected_kept(W)
    assert np.array_equal(a["row_mask"], np.packbits(rows) if not rows.all() else np.zeros(0, np.uint8))
    assert np.array_equal(a["col_mask"], np.packbits(cols) if not cols.all() else np.zeros(0, np.uint8))
    kept = int(cols.sum()) if rows.any() else 0
    assert len(a["block_cols"]) == 1
    width = int(a["block_cols"][0])
    assert width == expected_block_cols(int(rows.sum()), kept, np.count_nonzero(W))
    offsets = a["block_offsets"].astype(np.int64)
    assert len(offsets) == -(-kept // width) + 1 and offsets[0] == 0 and (np.diff(offsets) >= 0).all()
    total = int(offsets[-1])
    assert len(a["words"]) == -(-total // 32) + 2 and not a["words"][-2:].any()
    if np.count_nonzero(W):
        for name in INTEGER_FIELDS:
            if name != "block_cols":
                assert bool(len(a[name])) == (name in MODE_ARRAYS[obj.mode]), (obj.mode, name)
    distinct = np.unique(W[W != 0])
    k = len(distinct)
    assert len(a["values"]) == k and (a["values"] != 0).all()
    assert np.array_equal(np.sort(a["values"]), distinct)
    if obj.mode in ("joint", "product"):
        assert np.array_equal(a["values"], distinct)
    if obj.mode == "entries":  # one code over the k values and the zero, the zero at its rank
        assert len(a["zero_rank"]) == 1 and a["zero_rank"][0] <= k
        assert int(a["code1_counts"].sum()) == k + 1


def roundtrip(W, expect_mode=None, widths=(1, 9), threads=(1, 2)):
    obj = hamsham.compress(W, "rlh")
    if expect_mode:
        assert obj.mode == expect_mode
    check_exact(obj, W)
    check_stored_arrays(obj, W)
    check_products(obj, W, widths, threads)
    return obj


# --- the four modes -------------------------------------------------------------------------

def test_each_mode_round_trips_exactly(mode_case):
    W, obj = mode_case
    check_exact(obj, W)
    check_stored_arrays(obj, W)


def test_each_mode_multiplies_like_the_dense_product(mode_case):
    W, obj = mode_case
    check_products(obj, W)


def test_each_mode_decodes_any_column_slice(mode_case):
    W, obj = mode_case
    m = W.shape[1]
    cuts = sorted({0, 1, 5, 63, 64, 65, m // 2, m - 1, m})
    check_columns(obj, W, [(a, b) for a in cuts for b in cuts if a <= b])
    for threads in THREADS:
        assert np.array_equal(obj._matrix.columns(3, m - 2, threads), W[:, 3:m - 2])


def test_each_mode_saves_and_loads(mode_case, tmp_path):
    W, obj = mode_case
    hamsham.save(obj, tmp_path / "w.npz")
    back = hamsham.load(tmp_path / "w.npz")
    assert type(back) is RLH and back.mode == obj.mode and back.shape == obj.shape and back.nbits == obj.nbits
    before, after = obj.to_arrays(), back.to_arrays()
    for name in FIELDS:
        assert after[name].dtype == before[name].dtype and np.array_equal(after[name], before[name]), name
    check_exact(back, W)


def test_the_modes_rebuild_from_their_arrays(mode_case):
    W, obj = mode_case
    again = hamsham.from_arrays("rlh", {k: v.copy() for k, v in obj.to_arrays().items()}, W.shape)
    assert again.mode == obj.mode
    check_exact(again, W)


def test_the_chosen_mode_stores_fewer_bits_than_a_plain_sparse_matrix(mode_case):
    W, obj = mode_case
    assert obj.nbits < hamsham.compress(W, "sham").nbits


# --- edge cases ----------------------------------------------------------------------------

def test_one_distinct_value():
    rng = np.random.default_rng(1)
    sparse = np.where(rng.random((90, 130)) < 0.2, np.float32(-0.75), np.float32(0))
    roundtrip(sparse)
    obj = roundtrip(np.full((40, 70), 2.5, np.float32))  # no zero at all: every run is 0
    assert len(obj.to_arrays()["values"]) == 1


def test_all_zero_matrix():
    W = np.zeros((30, 70), np.float32)
    obj = roundtrip(W)
    a = obj.to_arrays()
    assert np.array_equal(a["row_mask"], np.zeros(4, np.uint8)) and np.array_equal(a["col_mask"], np.zeros(9, np.uint8))
    assert len(a["values"]) == 0 and len(a["block_offsets"]) == 1
    check_columns(obj, W, [(0, 70), (10, 20), (5, 5)])


def test_all_zero_rows_and_columns_are_dropped():
    rng = np.random.default_rng(2)
    W = product_matrix(rng, 75, 140)
    W[[0, 3, 4, 40, 74]] = 0
    W[:, [0, 1, 63, 64, 65, 100, 139]] = 0
    W[:, 66:90] = 0
    obj = roundtrip(W, widths=WIDTHS, threads=THREADS)
    a = obj.to_arrays()
    assert len(a["row_mask"]) == 10 and len(a["col_mask"]) == 18
    assert a["block_cols"][0] == 64 and len(a["block_offsets"]) == 3  # 140 - 31 = 109 kept columns: two blocks
    check_columns(obj, W, [(0, 140), (0, 2), (60, 70), (63, 66), (66, 90), (64, 139), (139, 140), (1, 64)])


def test_a_few_zero_rows_are_kept_when_their_mask_costs_more():
    """A 2048 x 10 layer with one all-zero row: the 2048-bit mask would cost more than the ten
    zeros it drops, so the row is kept (coded as zeros) and no row mask is stored."""
    rng = np.random.default_rng(21)
    W = np.where(rng.random((2048, 10)) < 0.7, rng.integers(1, 9, (2048, 10)), 0).astype(np.float32)
    W[5] = 0
    W[:, 3] = 0  # a zero column: 2048 entries against a 10-bit mask, dropped
    obj = roundtrip(W, widths=(1, 8), threads=(1, 2))
    a = obj.to_arrays()
    assert len(a["row_mask"]) == 0 and np.array_equal(a["col_mask"], np.packbits(W.any(axis=0)))


@pytest.mark.parametrize("shape", [(1, 1), (1, 200), (1, 64), (300, 1), (5000, 1), (2, 65)])
def test_one_row_or_one_column(shape):
    rng = np.random.default_rng(sum(shape))
    W = np.where(rng.random(shape) < 0.4, rng.integers(1, 6, shape), 0).astype(np.float32)
    W.flat[0] = 3.0  # never all zero
    roundtrip(W, widths=(1, 2, 17), threads=THREADS)


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 0), (0, 130), (130, 0)])
def test_empty_shapes(shape):
    W = np.zeros(shape, np.float32)
    obj = hamsham.compress(W, "rlh")
    check_exact(obj, W)
    assert obj.nbits == 8 * sum(v.nbytes for v in obj.to_arrays().values())
    for threads in THREADS:
        for r in (0, 1, 3):
            Y = obj.left_matmul(np.ones((r, shape[0]), np.float32), threads=threads)
            assert Y.shape == (r, shape[1]) and not Y.any()
            Y = obj.matmul(np.ones((shape[1], r), np.float32), threads=threads)
            assert Y.shape == (shape[0], r) and not Y.any()
    assert obj.columns(0, shape[1]).shape == shape


def test_runs_cross_column_boundaries():
    # A nonzero near the top of each column and one near the bottom of the next: every run
    # goes past a column's end, within a block and at the boundary between blocks. The last
    # column is full, so that no row is dropped.
    n, m = 500, 151
    W = np.zeros((n, m), np.float32)
    W[np.arange(m) % 2 * (n - 3) + 1, np.arange(m)] = np.arange(1, m + 1) % 7 + 1
    W[0, 64] = 9.0
    W[:, -1] = 0.5
    obj = roundtrip(W, widths=WIDTHS, threads=THREADS)
    assert len(obj.to_arrays()["row_mask"]) == 0


def test_very_long_runs():
    """n = 1e6 rows all kept (the first column is full) and a handful of nonzeros in the
    others: runs up to about 2e6 fall in buckets with up to 19 extra bits (decoded past the
    table), and cross column boundaries."""
    n, m = 1_000_000, 4
    W = np.zeros((n, m), np.float32)
    W[:, 0] = 0.5
    W[[7, 999_990], 1] = [1.5, -2.0]
    W[[3, 500_000, 500_001], 2] = [1.5, 1.5, 4.0]
    W[999_999, 3] = -2.0
    obj = roundtrip(W, widths=(1, 2), threads=(1, 2))
    assert len(obj.to_arrays()["row_mask"]) == 0
    check_columns(obj, W, [(1, 2), (2, 3), (1, 4), (3, 4)])
    assert obj.nbits < 2 * n  # the long runs take (almost) no room


def test_tall_matrix_is_encoded_in_groups_of_columns():
    """300000 kept rows: a 64-column block transposed would be 19.2 million floats, above
    the encoder's 2^24-float buffer, so the block is read in groups of 55 columns; the
    zero runs (about 50 entries at density 0.02) carry over from one group to the next."""
    rng = np.random.default_rng(11)
    n, m = 300_000, 70
    W = np.where(rng.random((n, m)) < 0.02, rng.integers(1, 6, (n, m)), 0).astype(np.float32)
    roundtrip(W, widths=(1, 3), threads=(1, 2))


def geometric_matrix(rng, k=40, ratio=0.7, density=1.0, top=100_000):
    """Value i about top * ratio**i times (at least once): Huffman codes far longer than
    the 12-bit decoding table."""
    counts = np.maximum(1, np.round(top * ratio ** np.arange(k))).astype(np.int64)
    values = np.repeat((np.arange(k) + 1).astype(np.float32) * np.float32(0.5), counts)
    size = int(counts.sum())
    m = 64 * 3 + 17
    n = -(-size // m)
    flat = np.zeros(n * m, np.float32)
    flat[:size] = values
    rng.shuffle(flat)
    W = flat.reshape(n, m)
    if density < 1:
        W[rng.random(W.shape) >= density] = 0
    return W


def geometric_pairs(rng, k=40, ratio=0.7, top=100_000, m=64 * 3 + 17):
    """Pair i (run 3 (i % 5), value (i + 1) / 2) about top * ratio**i times: the run follows
    the value, which only a code over the pairs captures; codes far longer than the table."""
    counts = np.maximum(1, np.round(top * ratio ** np.arange(k))).astype(np.int64)
    which = np.repeat(np.arange(k), counts)
    rng.shuffle(which)
    runs, values = (which % 5) * 3, (which + 1) * 0.5
    n = -(-int((runs + 1).sum()) // m)
    return from_pairs(n, m, zip(runs.tolist(), values.tolist()))


def with_distinct_values(rng, W, count):
    """W with `count` of its nonzeros given values of their own: tables listing pairs or
    weighting each value cost more than a value code's counts per length."""
    picked = rng.choice(np.flatnonzero(W), count, replace=False)
    W.flat[picked] = 1000 + np.arange(count, dtype=np.float32) * np.float32(0.5)
    return W


LONG_CODE_MATRICES = {
    "joint": lambda rng: geometric_pairs(rng),
    "factored": lambda rng: with_distinct_values(rng, geometric_matrix(rng, density=0.3), 1000),
    "product": lambda rng: geometric_matrix(rng, density=0.3),
    "entries": lambda rng: geometric_matrix(rng, density=0.5),
}


@pytest.mark.parametrize("mode", MODES)
def test_long_codewords(mode):
    rng = np.random.default_rng(3)
    W = LONG_CODE_MATRICES[mode](rng)
    obj = roundtrip(W, expect_mode=mode, widths=(1, 8), threads=(1, 3))
    a = obj.to_arrays()
    if mode == "product":  # the code is rebuilt from the weights: its rarest pair's share instead
        rw, vw = a["run_weights"].astype(float), a["value_weights"].astype(float)
        assert rw[rw > 0].min() * vw.min() / (rw.sum() * vw.sum()) < 2.0**-14
    else:
        assert max(len(a["code1_counts"]), len(a["code2_counts"])) > 11
    check_columns(obj, W, [(0, 64), (30, 150), (63, 209)])


def test_many_distinct_values_use_the_factored_mode():
    """Too many values for a pair code, on a sparse layer (a code over the entries would spend
    about a bit per zero): the factored mode."""
    rng = np.random.default_rng(4)
    k = MAX_JOINT_VALUES + 500
    n, m = 1000, 400
    values = (np.arange(1, k + 1, dtype=np.float32) * np.float32(0.001))
    flat = np.zeros(n * m, np.float32)
    flat[:k] = values
    rng.shuffle(flat)
    W = flat.reshape(n, m)
    obj = roundtrip(W, expect_mode="factored", widths=(1, 9), threads=(1, 3))
    assert len(obj.to_arrays()["values"]) == k
    assert obj.to_arrays()["code2_counts"].sum() == k


@pytest.mark.parametrize("make", [factored_matrix, entries_matrix], ids=["factored", "entries"])
def test_several_blocks_and_a_partial_last_block(make):
    rng = np.random.default_rng(5)
    for m in (65, 128, 129, 64 * 5 + 3, 64 * 20 + 3):
        W = make(rng, 37, m)
        obj = roundtrip(W, threads=THREADS)
        a = obj.to_arrays()
        width = int(a["block_cols"][0])
        # at most 4 units: one per block; 6 units: blocks of 2; 21 units: blocks of 6 (4 blocks)
        assert width == {65: 64, 128: 64, 129: 64, 64 * 5 + 3: 128, 64 * 20 + 3: 384}[m]
        assert len(a["block_offsets"]) == -(-m // width) + 1
        cuts = {0, 1, 63, 64, 65, 127, 128, m - 1, m} | {b + d for b in range(width, m, width) for d in (-1, 0, 1)}
        cuts = sorted(c for c in cuts if c <= m)
        check_columns(obj, W, [(a, b) for a in cuts for b in cuts if a <= b])


def test_block_widths_follow_the_rule():
    """About max(4, nonzeros / 2^15) blocks of whole 64-column units, never more than one
    block per unit. All rows and columns kept: 200 x 1100 with few nonzeros is 18 units, in
    blocks of 5 (320 columns: 4 blocks), 200 x 1500 (24 units) in 4 blocks of 384; with
    2^21 nonzeros, 64 units make 64 wanted blocks of one unit; 130 columns with 2^20
    nonzeros (32 wanted) are 3 blocks of one unit."""
    rng = np.random.default_rng(13)

    def sparse(n, m):
        W = np.zeros((n, m), np.float32)
        W[np.arange(m) % n, np.arange(m)] = 1.5
        W[np.arange(n), rng.integers(0, m, n)] = -0.5
        return W

    for W, width, blocks in [(sparse(200, 1100), 320, 4), (sparse(200, 1500), 384, 4), (sparse(200, 64 * 8), 128, 4),
                             (sparse(200, 64 * 8 + 1), 192, 3), (sparse(30, 70), 64, 2)]:
        a = hamsham.compress(W, "rlh").to_arrays()
        assert (a["block_cols"][0], len(a["block_offsets"]) - 1) == (width, blocks), W.shape
    dense = np.where(rng.random((1024, 4096)) < 0.5, np.float32(0.25), np.float32(-1))  # 2^22 nonzeros
    dense[:, ::2] = 0  # 2^21 nonzeros
    dense[0, ::2] = 1
    for W, width, blocks in [(dense, 64, 64), (np.ones((8066, 130), np.float32), 64, 3)]:
        obj = hamsham.compress(W, "rlh")
        a = obj.to_arrays()
        assert (a["block_cols"][0], len(a["block_offsets"]) - 1) == (width, blocks), W.shape
        check_exact(obj, W)
        check_stored_arrays(obj, W)


def test_negative_zero_and_float64_input():
    rng = np.random.default_rng(6)
    W = product_matrix(rng, 50, 80)
    signed = np.where(W == 0, np.float32(-0.0), W)
    obj = hamsham.compress(signed.astype(np.float64), "rlh")
    D = obj.toarray()
    assert np.array_equal(D, W) and not np.signbit(D[D == 0]).any()


# --- a stream written here (the layout, independently of the encoder) ------------------------

def run_bucket(z):
    if z < 16:
        return z
    length = z.bit_length()
    return 16 + 2 * (length - 5) + ((z >> (length - 2)) & 1)


def bucket_extra_bits(b):
    return 0 if b < 16 else (b - 16) // 2 + 3


def bucket_base(b):
    return b if b < 16 else (2 + ((b - 16) & 1)) << bucket_extra_bits(b)


def written(W, keep_all=True, block_cols=64):
    """The RLH arrays of W in joint mode with a fixed-length code over its used pairs
    (canonical: the rank's binary digits), in blocks of block_cols kept columns. keep_all:
    empty masks, all-zero rows and columns kept (runs then cross whole columns, which the
    encoder never writes)."""
    n, m = W.shape
    rows = np.ones(n, bool) if keep_all else W.any(axis=1)
    cols = np.ones(m, bool) if keep_all else W.any(axis=0)
    if not rows.any() or not cols.any():
        rows, cols = np.zeros(n, bool), np.zeros(m, bool)
    K = W[np.ix_(rows, cols)]
    values = np.unique(K[K != 0])
    k = len(values)
    pairs = []  # per block: [(run, value index)]
    for c0 in range(0, K.shape[1], block_cols):
        flat = K[:, c0:c0 + block_cols].T.ravel()
        where = np.flatnonzero(flat)
        runs = np.diff(np.concatenate([[-1], where])) - 1
        pairs.append([(int(z), int(np.searchsorted(values, flat[i]))) for z, i in zip(runs, where)])
    symbols = sorted({run_bucket(z) * k + v for block in pairs for z, v in block})
    rank = {s: i for i, s in enumerate(symbols)}
    length = max(1, (len(symbols) - 1).bit_length())
    bits, offsets = [], [0]
    for block in pairs:
        for z, v in block:
            b = run_bucket(z)
            bits += [int(c) for c in format(rank[b * k + v], f"0{length}b")]
            eb = bucket_extra_bits(b)
            if eb:
                bits += [int(c) for c in format(z - bucket_base(b), f"0{eb}b")]
        offsets.append(len(bits))
    packed = np.packbits(np.array(bits, np.uint8))
    packed = np.concatenate([packed, np.zeros(-len(packed) % 4, np.uint8)])
    words = np.concatenate([packed.view(">u4").astype(np.uint32), np.zeros(2, np.uint32)])
    counts = np.zeros(length, np.uint64)
    counts[length - 1] = len(symbols)
    empty = np.zeros(0, np.uint8)
    return {"values": values.astype(np.float32), "code1_symbols": np.array(symbols, np.uint32),
            "code1_counts": counts if symbols else empty, "code2_counts": empty, "run_weights": empty,
            "value_weights": empty, "zero_rank": empty, "row_mask": empty if rows.all() else np.packbits(rows),
            "col_mask": empty if cols.all() else np.packbits(cols), "block_cols": np.array([block_cols], np.uint32),
            "words": words, "block_offsets": np.array(offsets, np.uint64)}


@pytest.mark.parametrize("block_cols", [64, 128, 192, 1 << 30])
def test_a_stream_written_from_the_layout_decodes(block_cols):
    rng = np.random.default_rng(8)
    W = product_matrix(rng, 40, 450)
    W[:, 10] = 0
    W[3] = 0
    for keep_all in (False, True):
        obj = hamsham.from_arrays("rlh", written(W, keep_all, block_cols), W.shape)
        assert obj.mode == "joint"
        check_exact(obj, W)
        check_products(obj, W, widths=(1, 9), threads=(1, 2))
        check_columns(obj, W, [(0, 450), (120, 140), (127, 129), (191, 193), (300, 450)])


def test_runs_across_several_kept_columns():
    """Kept all-zero columns (empty masks): one run passes three whole columns of 50000
    rows (16 extra bits), another the end of a block; the products skip those columns."""
    n, m = 50_000, 70
    W = np.zeros((n, m), np.float32)
    W[5, 0], W[49_990, 4], W[17, 60], W[3, 66] = 1.0, -3.0, 2.5, 1.0
    for block_cols in (64, 128):  # the zeros from column 60 to 66: cut by a block's end, or one run
        obj = hamsham.from_arrays("rlh", written(W, block_cols=block_cols), W.shape)
        check_exact(obj, W)
        check_columns(obj, W, [(0, 5), (1, 4), (4, 70), (60, 67), (64, 70)])
        check_products(obj, W, widths=(1, 3), threads=(1, 2))


# --- validation ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def encoded():
    """Arrays of each mode, of a matrix with dropped rows and columns (masks in use) and
    n, m not multiples of 8."""
    out = {}
    for mode, make in MODE_MATRICES.items():
        W = make(np.random.default_rng(9), 101, 139)
        W[[0, 50]] = 0
        W[:, [2, 70, 138]] = 0
        obj = hamsham.compress(W, "rlh")
        assert obj.mode == mode
        out[mode] = (W, obj.to_arrays())
    return out


def _set(name, value):
    return lambda a: {**a, name: value(a[name]) if callable(value) else value}


def _without(name):
    return lambda a: {k: v for k, v in a.items() if k != name}


def _kraft(a):
    counts = a["code1_counts"].astype(np.uint64)
    counts[0] = 3
    return {**a, "code1_counts": counts}


def _last_bit(mask, size):
    mask = mask.copy()
    mask[-1] |= np.uint8(1 << (7 - size % 8)) if size % 8 else np.uint8(0)
    return mask


def _one_codeword_less(counts):
    counts = counts.astype(np.uint64)
    counts[np.flatnonzero(counts)[-1]] -= np.uint64(1)
    return counts


N, M = 101, 139
BLOCK_COLS = r"block_cols must hold one positive multiple of 64 \(at most 2\^30\)"
CORRUPTIONS = {  # (mode, what) -> (change, message)
    ("joint", "values float64"): (_set("values", lambda v: v.astype(np.float64)), "values must be a 1-D float32"),
    ("joint", "words int32"): (_set("words", lambda v: v.view(np.int32)), "words must be a 1-D uint32"),
    ("joint", "words 2-D"): (_set("words", lambda v: v[None, :]), "words must be a 1-D uint32"),
    ("joint", "counts float"): (_set("code1_counts", lambda v: v.astype(np.float32)), "code1_counts must be"),
    ("joint", "symbols uint64"): (_set("code1_symbols", lambda v: v.astype(np.uint64)), "code1_symbols must be"),
    ("joint", "offsets uint16"): (_set("block_offsets", lambda v: v.astype(np.uint16)),
                                  "block_offsets must be a 1-D uint32 or uint64"),
    ("joint", "mask int8"): (_set("row_mask", lambda v: v.view(np.int8)), "row_mask must be a 1-D uint8"),
    ("joint", "missing words"): (_without("words"), "missing array.*words"),
    ("factored", "missing run_weights"): (_without("run_weights"), "missing array.*run_weights"),
    ("joint", "truncated words"): (_set("words", lambda v: v[: len(v) // 2]), "words has .* entries but"),
    ("factored", "no padding"): (_set("words", lambda v: v[:-2]), "2 zero padding words"),
    ("product", "offsets decreasing"): (_set("block_offsets", lambda v: v[::-1].copy()), "non-decreasing"),
    ("joint", "offsets short"): (_set("block_offsets", lambda v: v[:-1]), "block_offsets has 3 entries, expected 4"),
    ("joint", "offsets long"): (_set("block_offsets", lambda v: np.append(v, v[-1])), "has 5 entries, expected 4"),
    ("factored", "offsets past the end"): (_set("block_offsets", lambda v: v + v.dtype.type(10**6)), "words has"),
    ("joint", "Kraft"): (_kraft, "not a prefix code"),
    ("factored", "Kraft 2"): (_set("code2_counts", lambda v: v + v.dtype.type(3)), "code2_counts.*not a prefix"),
    ("joint", "codes too long"): (_set("code1_counts", lambda v: np.zeros(58, np.uint8)), "longer than 57"),
    ("joint", "symbol out of range"): (lambda a: {**a, "code1_symbols": np.full(len(a["code1_symbols"]),
                                                                                136 * len(a["values"]), np.uint16)},
                                       "out of range"),
    ("factored", "bucket out of range"): (_set("code1_symbols", lambda v: np.full_like(v, 136)), "out of range"),
    ("joint", "symbols missing"): (_set("code1_symbols", lambda v: v[:-1]), "code1_symbols has .* entries but"),
    ("joint", "row mask size"): (_set("row_mask", lambda v: np.append(v, np.uint8(0))), "row_mask has 14 bytes"),
    ("joint", "col mask size"): (_set("col_mask", lambda v: v[:-1]), "col_mask has 17 bytes"),
    ("joint", "row mask past the end"): (_set("row_mask", lambda v: _last_bit(v, N)), "bits set past its 101"),
    ("factored", "col mask past the end"): (_set("col_mask", lambda v: _last_bit(v, M)), "bits set past its 139"),
    ("product", "rows but no columns"): (_set("col_mask", lambda v: np.zeros_like(v)), "both or neither"),
    ("joint", "zero value"): (_set("values", lambda v: np.where(np.arange(len(v)) == 1, 0, v).astype(np.float32)),
                              "is zero"),
    ("joint", "weights without run weights"): (lambda a: {**a, "value_weights": np.ones(len(a["values"]), np.uint8)},
                                               "value_weights without run_weights"),
    ("product", "weights too large"): (_set("run_weights", lambda v: (v.astype(np.uint32) + 70000).astype(np.uint32)),
                                       "at most 65535"),
    ("product", "value weights short"): (_set("value_weights", lambda v: v[:-1]), "value_weights has"),
    ("product", "value weight zero"): (_set("value_weights", lambda v: np.where(np.arange(len(v)) == 0, 0, v)
                                            .astype(v.dtype)), "every value must have a weight"),
    ("product", "too many buckets"): (_set("run_weights", lambda v: np.ones(137, np.uint8)), "more than the 136"),
    ("product", "with a listed code"): (lambda a: {**a, "code1_counts": np.ones(1, np.uint8)}, "excludes"),
    ("factored", "code2 not k"): (_set("values", lambda v: v[:-1]), "code2_counts counts .* but there are"),
    ("factored", "code2 empty counts"): (lambda a: {**a, "values": a["values"][:0], "code2_counts":
                                                    np.zeros(2, np.uint8)}, "count at least one"),
    # the entries mode's zero_rank
    ("entries", "missing zero_rank"): (_without("zero_rank"), "missing array.*zero_rank"),
    ("entries", "zero_rank float"): (_set("zero_rank", lambda v: v.astype(np.float32)), "zero_rank must be"),
    ("entries", "zero_rank two entries"): (_set("zero_rank", lambda v: np.append(v, v)),
                                           "zero_rank must hold one entry"),
    ("entries", "zero_rank past k"): (lambda a: {**a, "zero_rank": np.array([len(a["values"]) + 1], np.uint8)},
                                      r"zero_rank = 17 is past the code's 17 symbols"),
    ("entries", "zero_rank far past k"): (_set("zero_rank", lambda v: np.array([2**40], np.uint64)), "is past"),
    ("entries", "zero_rank with code1_symbols"): (lambda a: {**a, "code1_symbols": np.arange(len(a["values"]) + 1,
                                                                                             dtype=np.uint8)},
                                                  r"zero_rank \(entries mode\) excludes"),
    ("entries", "zero_rank with code2_counts"): (lambda a: {**a, "code2_counts": a["code1_counts"]},
                                                 r"zero_rank \(entries mode\) excludes"),
    ("product", "weights with a zero_rank"): (_set("zero_rank", np.zeros(1, np.uint8)),
                                              r"zero_rank \(entries mode\) excludes"),
    ("joint", "pair code with a zero_rank"): (_set("zero_rank", np.zeros(1, np.uint8)),
                                              r"zero_rank \(entries mode\) excludes"),
    ("factored", "two codes with a zero_rank"): (_set("zero_rank", np.zeros(1, np.uint8)),
                                                 r"zero_rank \(entries mode\) excludes"),
    ("entries", "a value fewer"): (_set("values", lambda v: v[:-1]),
                                   "code1_counts counts 17 codewords, but the entries mode codes 15 values and the "
                                   "zero"),
    ("entries", "a value more"): (_set("values", lambda v: np.append(v, np.float32(7))), "the entries mode codes 17"),
    ("entries", "counts for k codewords"): (lambda a: {**a, "code1_counts": _one_codeword_less(a["code1_counts"])},
                                            "code1_counts counts 16 codewords"),
    ("entries", "without its zero_rank"): (_set("zero_rank", lambda v: v[:0]), "code1_symbols has 0 entries"),
    ("entries", "Kraft"): (_kraft, "code1_counts: .*not a prefix code"),
    # block_cols
    ("joint", "missing block_cols"): (_without("block_cols"), "missing array.*block_cols"),
    ("entries", "block_cols empty"): (_set("block_cols", lambda v: v[:0]), BLOCK_COLS),
    ("joint", "block_cols two entries"): (_set("block_cols", lambda v: np.append(v, v)), BLOCK_COLS),
    ("product", "block_cols zero"): (_set("block_cols", lambda v: np.zeros_like(v)), BLOCK_COLS),
    ("factored", "block_cols not a multiple of 64"): (_set("block_cols", np.array([96], np.uint8)), BLOCK_COLS),
    ("joint", "block_cols 1"): (_set("block_cols", np.array([1], np.uint8)), BLOCK_COLS),
    ("entries", "block_cols above 2^30"): (_set("block_cols", np.array([(1 << 30) + 64], np.uint32)), BLOCK_COLS),
    ("joint", "block_cols 2^31"): (_set("block_cols", np.array([1 << 31], np.uint32)), BLOCK_COLS),
    ("product", "block_cols 2^64 - 64"): (_set("block_cols", np.array([2**64 - 64], np.uint64)), BLOCK_COLS),
    ("joint", "block_cols float"): (_set("block_cols", lambda v: v.astype(np.float64)), "block_cols must be"),
    ("entries", "block_cols wider than the offsets"): (_set("block_cols", np.array([128], np.uint8)),
                                                       r"block_offsets has 4 entries, expected 3 \(136 kept columns "
                                                       r"in blocks of 128"),
    ("factored", "block_cols 2^30, offsets of 64"): (_set("block_cols", np.array([1 << 30], np.uint32)),
                                                     "block_offsets has 4 entries, expected 2"),
}


@pytest.mark.parametrize("case", CORRUPTIONS, ids=lambda c: f"{c[0]}-{c[1]}".replace(" ", "_"))
def test_corrupted_arrays_are_rejected_clearly(encoded, case):
    mode, _ = case
    change, message = CORRUPTIONS[case]
    W, arrays = encoded[mode]
    arrays = change({k: v.copy() for k, v in arrays.items()})
    with pytest.raises(ValueError, match=message):
        hamsham.from_arrays("rlh", arrays, W.shape)


def test_other_shapes_are_rejected_or_decode(encoded, tmp_path):
    W, arrays = encoded["product"]
    with pytest.raises(ValueError, match="n_rows must be >= 0"):
        hamsham.from_arrays("rlh", arrays, (-1, W.shape[1]))
    with pytest.raises(ValueError, match="row_mask has"):
        hamsham.from_arrays("rlh", arrays, (W.shape[0] + 8, W.shape[1]))
    path = tmp_path / "w.npz"
    hamsham.save(hamsham.from_arrays("rlh", arrays, W.shape), path)
    with np.load(path) as data:
        stored = {key: data[key] for key in data.files if key != "words"}
    np.savez(path, **stored)
    with pytest.raises(ValueError, match=r"w.npz: .*missing array.*words"):
        hamsham.load(path)


def _use(obj, shape, threads):
    """Decode and multiply a matrix rebuilt from changed arrays: results of its shape, or ValueError."""
    n, m = shape
    outcomes = []
    for action in (lambda: obj.toarray(), lambda: obj.columns(m // 3, m - 5),
                   lambda: obj.left_matmul(np.ones((3, n), np.float32), threads=threads),
                   lambda: obj.matmul(np.ones((m, 2), np.float32), threads=threads),
                   lambda: obj.left_matmul(np.ones(n, np.float32), threads=threads)):
        try:
            out = action()
        except ValueError as err:
            assert "corrupted RLH bitstream" in str(err), err
            outcomes.append("raised")
            continue
        assert out.dtype == np.float32 and out.shape in ((n, m), (n, m - 5 - m // 3), (3, m), (n, 2), (m,))
        outcomes.append("decoded")
    return outcomes


def test_flipped_bits_in_words_never_crash(encoded):
    """240 single-bit flips over the four modes' streams: each decodes to some matrix (a
    complete code decodes any bits) or raises ValueError naming the corruption."""
    rng = np.random.default_rng(10)
    seen = {mode: set() for mode in MODES}
    for trial in range(240):
        mode = MODES[trial % 4]
        W, arrays = encoded[mode]
        words = arrays["words"].copy()
        bit = int(rng.integers(0, int(arrays["block_offsets"][-1])))
        words[bit // 32] ^= np.uint32(1 << (31 - bit % 32))
        obj = hamsham.from_arrays("rlh", {**arrays, "words": words}, W.shape)
        seen[mode].update(_use(obj, W.shape, threads=1 + trial % 3))
    assert all(outcomes == {"raised", "decoded"} for outcomes in seen.values()), seen


def test_flipped_bits_in_code_arrays_never_crash(encoded):
    """Flips in the code descriptions: the arrays are rejected (ValueError) or describe
    another code, whose decoding of the stream raises or gives some matrix."""
    rng = np.random.default_rng(11)
    fields = {"joint": ("code1_symbols", "code1_counts", "block_offsets", "row_mask"),
              "product": ("run_weights", "value_weights", "col_mask"),
              "factored": ("code1_symbols", "code1_counts", "code2_counts"),
              "entries": ("code1_counts", "zero_rank", "block_cols")}
    rejected = accepted = 0
    for trial in range(120):
        mode = MODES[trial % 4]
        W, arrays = encoded[mode]
        name = fields[mode][trial // 4 % len(fields[mode])]
        raw = arrays[name].copy()
        view = raw.view(np.uint8)
        bit = int(rng.integers(0, 8 * len(view)))
        view[bit // 8] ^= np.uint8(1 << (bit % 8))
        try:
            obj = hamsham.from_arrays("rlh", {**arrays, name: raw}, W.shape)
        except ValueError as err:
            assert "RlhMatrix" in str(err), err
            rejected += 1
            continue
        accepted += 1
        _use(obj, W.shape, threads=2)
    assert rejected and accepted


def test_arrays_are_held_read_only(encoded):
    W, arrays = encoded["joint"]
    arrays = {k: v.copy() for k, v in arrays.items()}
    obj = hamsham.from_arrays("rlh", arrays, W.shape)
    with pytest.raises(ValueError, match="read-only"):
        arrays["words"][0] ^= 1
    check_exact(obj, W)


# --- the real subset -----------------------------------------------------------------------

def test_real_layers(subset_entries):
    """The smallest and the largest layer of the subset (by entries, up to 4M): exact, and
    both products within float32 rounding."""
    sized = sorted(subset_entries, key=lambda e: e.path.stat().st_size)
    rng = np.random.default_rng(12)
    picks = [sized[0]] + [e for e in sized if e.path.stat().st_size < 16 << 20][-1:]
    for entry in picks:
        W = load_matrix(entry.path)
        obj = hamsham.compress(W, "rlh")
        assert np.array_equal(obj.toarray(), W), entry.name
        X = rng.random((4, W.shape[0]), dtype=np.float32)
        DenseProduct(X, W).check(obj.left_matmul(X, threads=2))
        Z = rng.random((W.shape[1], 3), dtype=np.float32)
        DenseProduct(Z.T, W.T).check(obj.matmul(Z, threads=2).T)
        assert obj.nbits < hamsham.compress(W, "csc").nbits, entry.name
