"""Tests of the compiled kernel (hamsham._kernel) at the raw API level.

Encoding is done here with NumPy plus the kernel's huffman_lengths /
canonical_codewords / pack, following the symbol order of docs/model.md
(frequency descending, ties by ascending value). Products are checked against
the float64 dense product with a float32 rounding tolerance.

`HAMSHAM_RANDOM_ROUNDS` / `HAMSHAM_RANDOM_SEED` scale the randomized product
round (ext/run_sanitized.sh runs it longer under ASan + UBSan).
"""
import heapq
import os
import threading
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hamsham.kernel import kernel as K

THREADS = (1, 2, 3, 7)
WIDTHS = (1, 3, 8, 17)


# --- encoders -----------------------------------------------------------------

def symbol_order(values):
    """(distinct values in symbol order, their counts, rank of each input value)."""
    values = np.asarray(values, dtype=np.float32)
    vals, inv, cnt = np.unique(values.ravel(), return_inverse=True, return_counts=True)
    order = np.lexsort((vals, -cnt))  # frequency desc, then value asc
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return vals[order], cnt[order], rank[inv].reshape(values.shape)


def make_code(values):
    """Canonical code for the values: (Code, codewords, lengths, symbol index of each value)."""
    vals, cnt, sym = symbol_order(values)
    lengths = K.huffman_lengths(cnt.astype(np.uint64))
    codewords = K.canonical_codewords(lengths)
    return K.Code(lengths, vals.astype(np.float32)), codewords, lengths, sym.astype(np.uint32)


def encode_ham(W):
    n, m = W.shape
    code, cw, ln, sym = make_code(W)
    words, bo = K.pack(np.ascontiguousarray(sym.T).ravel(), cw, ln, np.arange(m + 1, dtype=np.int64) * n)
    return K.HamMatrix(code, words, bo, n), (code, words, bo)


def csc_parts(W):
    """Row indices, column pointers and values of the nonzeros, column by column."""
    cols, rows = np.nonzero(W.T)
    col_ptr = np.searchsorted(cols, np.arange(W.shape[1] + 1)).astype(np.int64)
    return rows, col_ptr, W[rows, cols]


def encode_sham(W, index_dtype=np.uint32):
    n, m = W.shape
    rows, col_ptr, nz = csc_parts(W)
    code, cw, ln, sym = make_code(nz)
    words, bo = K.pack(sym, cw, ln, col_ptr)
    ri = rows.astype(index_dtype)
    return K.ShamMatrix(code, words, bo, ri, col_ptr, n), (code, words, bo, ri, col_ptr)


def encode_cser(W, col_dtype=np.uint32, vi_dtype=np.uint32, ptr_dtype=np.uint64):
    n, m = W.shape
    vals, _, R = symbol_order(W)
    cols, rows = np.nonzero(R.T != 0)          # column-major, rows ascending
    v = R[rows, cols]
    o = np.lexsort((rows, v, cols))            # by column, value (O order), row
    rows, cols, v = rows[o], cols[o], v[o]
    new = np.ones(rows.size, bool)
    new[1:] = (cols[1:] != cols[:-1]) | (v[1:] != v[:-1])
    starts = np.flatnonzero(new)
    value_ptr = np.append(starts, rows.size).astype(ptr_dtype)
    value_index = v[starts].astype(vi_dtype)
    row_ptr = np.searchsorted(cols[starts], np.arange(m + 1)).astype(ptr_dtype)
    parts = (vals.astype(np.float32), rows.astype(col_dtype), value_index, value_ptr, row_ptr)
    return K.CserMatrix(*parts, n), parts


RLH_FIELDS = ("values", "code1_symbols", "code1_counts", "code2_counts", "run_weights", "value_weights", "zero_rank",
              "row_mask", "col_mask", "block_cols", "words", "block_offsets")


def encode_rlh(W):
    """The kernel's own RLH encoder (widest integer types, as it returns them)."""
    arrays = K.rlh_encode(np.ascontiguousarray(W, np.float32))
    return K.RlhMatrix(*(arrays[f] for f in RLH_FIELDS), *W.shape), arrays


# --- matrices and references -----------------------------------------------------

def seed_of(*args):
    """A reproducible seed from test parameters (str hashes are salted per process)."""
    return zlib.crc32(repr(args).encode())


def random_matrix(rng, n, m, k, density=0.5, skew=1.2):
    """n x m float32 with about k distinct values (zero among them when density < 1), Zipf-like frequencies."""
    levels = np.round(rng.standard_normal(max(k, 1)) * 4, 3).astype(np.float32)
    levels = np.unique(levels[levels != 0])
    if levels.size == 0:
        levels = np.array([1.5], np.float32)
    p = 1.0 / np.arange(1, levels.size + 1) ** skew
    W = rng.choice(levels, size=(n, m), p=p / p.sum()).astype(np.float32)
    W[rng.random((n, m)) >= density] = 0
    return W


def check_product(M, W, rng, r, threads):
    """Both products, X @ W (matmul) and W @ X (apply), against the float64 ones."""
    X = rng.standard_normal((r, W.shape[0])).astype(np.float32)
    Y = M.matmul(X, threads)
    assert Y.dtype == np.float32 and Y.shape == (r, W.shape[1])
    ref = X.astype(np.float64) @ W.astype(np.float64)
    tol = 1e-5 * (np.abs(X).astype(np.float64) @ np.abs(W).astype(np.float64)) + 1e-6
    assert np.all(np.abs(Y - ref) <= tol), np.max(np.abs(Y - ref) - tol)
    X = rng.standard_normal((W.shape[1], r)).astype(np.float32)
    Y = M.apply(X, threads)
    assert Y.dtype == np.float32 and Y.shape == (W.shape[0], r)
    ref = W.astype(np.float64) @ X.astype(np.float64)
    tol = 1e-5 * (np.abs(W).astype(np.float64) @ np.abs(X).astype(np.float64)) + 1e-6
    assert np.all(np.abs(Y - ref) <= tol), np.max(np.abs(Y - ref) - tol)


def heapq_cost(counts):
    """Total cost sum(L * f) of a Huffman code built with a binary heap (independent implementation)."""
    counts = [int(c) for c in counts]
    if len(counts) == 1:
        return counts[0]  # the project's 1-bit code for k = 1
    heap = counts[:]
    heapq.heapify(heap)
    cost = 0
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        cost += a + b
        heapq.heappush(heap, a + b)
    return cost


# --- Huffman lengths and codewords -------------------------------------------------

def test_huffman_lengths_minimum_redundancy():
    rng = np.random.default_rng(1)
    for trial in range(400):
        k = int(rng.integers(1, 300))
        kind = trial % 4
        if kind == 0:
            c = rng.integers(1, 1000, k)
        elif kind == 1:
            c = np.maximum(1, (1e6 / np.arange(1, k + 1) ** rng.uniform(0.5, 2.5)).astype(np.int64))
        elif kind == 2:
            c = rng.geometric(rng.uniform(0.01, 0.5), k)
        else:
            c = np.full(k, int(rng.integers(1, 5)))  # all ties
        counts = np.sort(c.astype(np.uint64))[::-1].copy()
        L = K.huffman_lengths(counts)
        assert L.dtype == np.uint8 and L.shape == (k,)
        assert int((L.astype(np.int64) * counts.astype(np.int64)).sum()) == heapq_cost(counts)
        assert np.all(np.diff(L.astype(int)) >= 0)
        if k > 1:  # complete code: Kraft sum exactly 1
            assert sum(2.0 ** -int(l) for l in L) == 1.0


def test_huffman_tie_goes_to_leaf():
    # counts [2, 2, 1, 1] (symbols s0..s3). Leaf queue, least frequent first:
    # s3(1) s2(1) s1(2) s0(2). Merge 1: s3 + s2 -> A(2). Merge 2: leaf s1(2) ties
    # with A(2): the LEAF s1 is taken, then leaf s0(2) ties with A(2): s0 again,
    # -> B(4). Merge 3: A + B. Every symbol is at depth 2: [2, 2, 2, 2].
    # (Taking the internal node on ties would give [1, 2, 3, 3], same cost 12.)
    assert K.huffman_lengths(np.array([2, 2, 1, 1], np.uint64)).tolist() == [2, 2, 2, 2]
    # [3, 3, 3]: s2 + s1 -> A(6); then leaf s0(3) < A: lengths [1, 2, 2].
    assert K.huffman_lengths(np.array([3, 3, 3], np.uint64)).tolist() == [1, 2, 2]
    # [4, 2, 1, 1]: s3 + s2 -> A(2); leaf s1(2) ties A(2): s1 first, then A -> B(4);
    # leaf s0(4) ties B(4): s0 first. Lengths [1, 2, 3, 3].
    assert K.huffman_lengths(np.array([4, 2, 1, 1], np.uint64)).tolist() == [1, 2, 3, 3]


def test_huffman_lengths_small_k():
    assert K.huffman_lengths(np.zeros(0, np.uint64)).shape == (0,)
    assert K.huffman_lengths(np.array([7], np.uint64)).tolist() == [1]
    assert K.huffman_lengths(np.array([7, 7], np.uint64)).tolist() == [1, 1]


def fibonacci_counts(k):
    f = [1, 1]
    while len(f) < k:
        f.append(f[-1] + f[-2])
    return np.array(f[:k][::-1], dtype=np.uint64)


def test_huffman_lengths_limit():
    L = K.huffman_lengths(fibonacci_counts(58))  # lengths 1, 2, ..., 57, 57
    assert L.max() == 57 and L.tolist()[:3] == [1, 2, 3]
    with pytest.raises(ValueError, match="57"):
        K.huffman_lengths(fibonacci_counts(59))


@pytest.mark.parametrize("counts", [
    np.array([3, 0], np.uint64),              # zero count
    np.array([1, 2], np.uint64),              # increasing
    np.array([[2, 1]], np.uint64),            # 2-D
    np.array([2, 1], np.int64),               # dtype
    np.array([2**63, 2**63], np.uint64),      # sum overflows
])
def test_huffman_lengths_rejects(counts):
    with pytest.raises(ValueError, match="counts"):
        K.huffman_lengths(counts)


def test_canonical_codewords():
    rng = np.random.default_rng(2)
    for _ in range(100):
        k = int(rng.integers(1, 200))
        counts = np.sort(rng.integers(1, 10**6, k).astype(np.uint64))[::-1].copy()
        L = K.huffman_lengths(counts)
        C = K.canonical_codewords(L)
        assert C.dtype == np.uint64
        assert C[0] == 0
        for i in range(1, k):
            assert int(C[i]) == (int(C[i - 1]) + 1) << (int(L[i]) - int(L[i - 1]))
        strings = [format(int(c), f"0{int(l)}b") for c, l in zip(C, L)]
        assert all(len(s) == l for s, l in zip(strings, L))
        srt = sorted(strings)
        assert all(not b.startswith(a) for a, b in zip(srt, srt[1:]))  # prefix-free
    assert K.canonical_codewords(np.array([1, 2, 3, 3], np.uint8)).tolist() == [0b0, 0b10, 0b110, 0b111]
    assert K.canonical_codewords(np.zeros(0, np.uint8)).shape == (0,)


@pytest.mark.parametrize("lengths", [[2, 1], [0, 1], [1, 58], [1, 1, 1], [1, 2, 2, 2]])
def test_canonical_codewords_rejects(lengths):
    with pytest.raises(ValueError, match="lengths"):
        K.canonical_codewords(np.array(lengths, np.uint8))


# --- pack -------------------------------------------------------------------------

def test_pack_bit_layout():
    L = np.array([1, 2, 2], np.uint8)
    C = K.canonical_codewords(L)  # 0, 10, 11
    sym = np.array([1, 0, 2, 2, 0, 1] * 6, np.uint32)  # 6 * 10 bits = 60 bits
    words, bo = K.pack(sym, C, L, np.array([0, 6, 6, 36], np.int64))
    bits = "".join(["10", "0", "11", "11", "0", "10"] * 6)
    assert bo.dtype == np.uint64 and bo.tolist() == [0, 10, 10, 60]
    assert words.dtype == np.uint32 and words.size == 2 + 2  # ceil(60 / 32) + 2 padding words
    expect = bits.ljust(64, "0")
    assert [int(expect[:32], 2), int(expect[32:], 2), 0, 0] == words.tolist()


def test_pack_long_codewords():
    L = np.array([1] + list(range(2, 50)) + [49], np.uint8)  # lengths up to 49 bits
    C = K.canonical_codewords(L)
    rng = np.random.default_rng(3)
    sym = rng.integers(0, L.size, 500).astype(np.uint32)
    words, bo = K.pack(sym, C, L, np.array([0, 500], np.int64))
    bits = "".join(format(int(C[s]), f"0{int(L[s])}b") for s in sym)
    assert int(bo[1]) == len(bits)
    stream = "".join(format(int(w), "032b") for w in words)
    assert stream[:len(bits)] == bits and set(stream[len(bits):]) <= {"0"}
    assert words.size == (len(bits) + 31) // 32 + 2


@pytest.mark.parametrize("case", ["symbol", "group0", "groupend", "monotone", "wide", "len0", "size"])
def test_pack_rejects(case):
    L = np.array([1, 2, 2], np.uint8)
    C = K.canonical_codewords(L)
    sym = np.array([0, 1, 2, 0], np.uint32)
    gp = np.array([0, 2, 4], np.int64)
    if case == "symbol":
        sym = np.array([0, 1, 3, 0], np.uint32)
    elif case == "group0":
        gp = np.array([1, 2, 4], np.int64)
    elif case == "groupend":
        gp = np.array([0, 2, 3], np.int64)
    elif case == "monotone":
        gp = np.array([0, 3, 2, 4], np.int64)
    elif case == "wide":
        C = np.array([0, 2, 4], np.uint64)  # 4 does not fit in 2 bits
    elif case == "len0":
        L = np.array([0, 2, 2], np.uint8)
    elif case == "size":
        L = np.array([1, 2], np.uint8)
    with pytest.raises(ValueError):
        K.pack(sym, C, L, gp)


def test_pack_empty():
    words, bo = K.pack(np.zeros(0, np.uint32), np.zeros(0, np.uint64), np.zeros(0, np.uint8),
                       np.zeros(1, np.int64))
    assert words.tolist() == [0, 0] and bo.tolist() == [0]


# --- HAM --------------------------------------------------------------------------

SHAPES = [(1, 1), (1, 37), (53, 1), (64, 33), (150, 70), (31, 9)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("k", [1, 2, 5, 40, 600])
def test_ham_round_trip_and_products(shape, k):
    rng = np.random.default_rng(seed_of(shape, k))
    n, m = shape
    W = random_matrix(rng, n, m, k, density=rng.uniform(0.05, 1.0), skew=rng.uniform(0.0, 2.0))
    H, (code, words, bo) = encode_ham(W)
    assert H.shape == (n, m) and H.n_rows == n and H.n_cols == m
    assert H.column_bits().tolist() == np.diff(bo).tolist()
    for t in (1, 3):
        D = H.decode(t)
        assert D.dtype == np.float32 and D.flags.c_contiguous
        assert np.array_equal(D, W)
    for r in WIDTHS:
        check_product(H, W, rng, r, THREADS[r % 4])


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("r", WIDTHS + (2, 4, 16, 24, 40))
def test_products_widths_threads(r, threads):
    # 13 columns: not divisible by 2, 3 or 7; 7 threads on 5 columns leave threads idle.
    rng = np.random.default_rng(r * 10 + threads)
    W = random_matrix(rng, 97, 13, 20, density=0.3)
    W5 = W[:, :5].copy()
    W5[W5 == 0] = 0.25  # nonzero background for CSER
    for M, A in ((encode_ham(W)[0], W), (encode_sham(W)[0], W), (encode_cser(W)[0], W),
                 (encode_ham(W5)[0], W5), (encode_sham(W5)[0], W5), (encode_cser(W5)[0], W5)):
        check_product(M, A, rng, r, threads)


@pytest.mark.parametrize("m", [300, 333])
def test_decode_many_columns(m):
    # Many columns: decoding splits them on 16-column boundaries between threads.
    rng = np.random.default_rng(m)
    W = random_matrix(rng, 45, m, 25, density=0.4)
    for M in (encode_ham(W)[0], encode_sham(W)[0], encode_cser(W)[0]):
        for t in (1, 2, 3, 4):
            assert np.array_equal(M.decode(t), W)


@pytest.mark.parametrize("threads", (1, 2, 3))
def test_columns_decode_only_the_range(threads):
    rng = np.random.default_rng(20 + threads)
    W = random_matrix(rng, 70, 100, 30, density=0.4)
    W2 = W.copy()
    W2[W2 == 0] = 0.5  # nonzero background for CSER
    for M, A in ((encode_ham(W)[0], W), (encode_sham(W)[0], W), (encode_cser(W)[0], W), (encode_cser(W2)[0], W2)):
        for start, stop in ((0, 100), (0, 0), (100, 100), (3, 4), (17, 83), (50, 100), (0, 33)):
            D = M.columns(start, stop, threads)
            assert D.dtype == np.float32 and D.flags.c_contiguous and D.shape == (70, stop - start)
            assert np.array_equal(D, A[:, start:stop])
        for start, stop in ((-1, 3), (5, 4), (0, 101)):
            with pytest.raises(ValueError, match="start <= stop"):
                M.columns(start, stop)


def test_columns_skip_a_corrupted_column_outside_the_range():
    rng = np.random.default_rng(24)
    W = random_matrix(rng, 64, 6, 20, density=0.8)
    H, (code, words, bo) = encode_ham(W)
    words = words.copy()
    words[bo[3] // 32 + 1] ^= np.uint32(0xFFFFFFFF)  # inside column 3 (64 entries of >= 1 bit)
    H2 = K.HamMatrix(code, words, bo, 64)
    assert np.array_equal(H2.columns(0, 2), W[:, :2]) and np.array_equal(H2.columns(5, 6), W[:, 5:])
    try:
        H2.columns(3, 4)
    except ValueError as err:
        assert "corrupted HAM bitstream: column 3" in str(err)


def test_long_columns_sum_in_blocks():
    # Products over many rows fold float32 block sums into float64: far more accurate than
    # one float32 sum down the column (whose error would be about 100 times the one below).
    rng = np.random.default_rng(25)
    n = 300_000
    W = np.where(rng.random((n, 3)) < 0.4, rng.integers(1, 200, (n, 3)), 0).astype(np.float32)
    X = rng.random((8, n), dtype=np.float32)
    exact = X.astype(np.float64) @ W.astype(np.float64)
    for M in (encode_ham(W)[0], encode_sham(W)[0], encode_cser(W)[0]):
        for r in (1, 8, 17):
            err = np.abs(M.matmul(np.ascontiguousarray(X[:r]), 2) - exact[:r]).max()
            assert err <= 1e-6 * np.abs(exact).max(), (M, r, err)


def test_long_rows_sum_in_blocks():
    # W @ X over many columns: float32 sums over at most 16384 columns, folded into float64
    # (one thread's columns and two threads' partial outputs alike).
    rng = np.random.default_rng(27)
    m = 300_000
    W = np.where(rng.random((3, m)) < 0.4, rng.integers(1, 200, (3, m)), 0).astype(np.float32)
    W[2][W[2] == 0] = 3  # nonzero background for CSER in row 2
    X = rng.random((m, 17), dtype=np.float32)
    exact = W.astype(np.float64) @ X.astype(np.float64)
    for M in (encode_ham(W)[0], encode_sham(W)[0], encode_cser(W)[0]):
        for r in (1, 8, 17):
            for threads in (1, 2):
                err = np.abs(M.apply(np.ascontiguousarray(X[:, :r]), threads) - exact[:, :r]).max()
                assert err <= 1e-6 * np.abs(exact).max(), (M, r, threads, err)


def test_ham_thousands_of_symbols_skewed():
    rng = np.random.default_rng(4)
    W = (rng.standard_normal((300, 120)) * 1000).round().astype(np.float32)  # thousands of distinct values
    W[rng.random(W.shape) < 0.7] = 0
    H, (code, _, _) = encode_ham(W)
    assert code.k > 1000 and code.lmax > 12  # exercises codes longer than the lookup table
    assert np.array_equal(H.decode(), W)
    check_product(H, W, rng, 8, 2)


def test_ham_sparse_zero_runs():
    # > 97% zeros: zero gets the code "0" and runs are skipped with clz.
    rng = np.random.default_rng(5)
    W = np.zeros((3000, 40), np.float32)
    mask = rng.random(W.shape) < 0.01
    W[mask] = rng.choice(np.array([-1.0, 0.5, 2.0, 3.0], np.float32), size=int(mask.sum()))
    W[:, 3] = 0
    W[-1, 5] = 7.0   # a nonzero in the last row
    W[0, 6] = 7.0    # and in the first row
    H, (code, _, bo) = encode_ham(W)
    assert code.lengths[0] == 1 and code.values[0] == 0 and bo[-1] < 1.03 * W.size
    assert np.array_equal(H.decode(2), W)
    for r, t in ((1, 1), (8, 2), (17, 3)):
        check_product(H, W, rng, r, t)


def test_ham_all_zero_and_constant():
    rng = np.random.default_rng(6)
    for value in (0.0, -2.5):
        W = np.full((40, 7), value, np.float32)
        H, (code, words, bo) = encode_ham(W)
        assert code.k == 1 and code.lmax == 1 and int(bo[-1]) == W.size  # the 1-bit code "0"
        assert not words.any()
        assert np.array_equal(H.decode(), W)
        check_product(H, W, rng, 8, 3)


def test_ham_empty_shapes():
    for n, m in ((0, 5), (5, 0), (0, 0)):
        W = np.zeros((n, m), np.float32)
        H, _ = encode_ham(W)
        assert H.decode().shape == (n, m)
        for r in (0, 1, 8):
            Y = H.matmul(np.zeros((r, n), np.float32), 2)
            assert Y.shape == (r, m) and not Y.any()


def test_ham_column_starting_at_bit_31():
    # Two symbols of 1 bit: a column of 31 entries has 31 bits, so column j
    # starts at bit 31 * j (bit 31 of word 0, bit 30 of word 1, ...).
    rng = np.random.default_rng(8)
    W = rng.choice(np.array([1.0, 2.0], np.float32), size=(31, 40))
    H, (code, words, bo) = encode_ham(W)
    assert bo[1] == 31 and bo[2] == 62
    assert np.array_equal(H.decode(), W)
    check_product(H, W, rng, 3, 2)
    # A longer code: columns start at many bit positions, including 31.
    W = random_matrix(rng, 29, 64, 9, density=0.8)
    H, (_, _, bo) = encode_ham(W)
    assert 31 in set((bo % 32).tolist())
    assert np.array_equal(H.decode(3), W)


def test_code_with_lengths_over_32_bits():
    # Fibonacci-like counts give lengths 1, 2, ..., 44, 44.
    L = K.huffman_lengths(fibonacci_counts(45))
    assert L.max() == 44
    values = np.arange(1, 46, dtype=np.float32)
    code = K.Code(L, values)
    assert code.k == 45 and code.lmax == 44 and 1 <= code.table_bits <= 12
    C = K.canonical_codewords(L)
    rng = np.random.default_rng(9)
    n, m = 20, 6
    sym = rng.integers(0, 45, n * m).astype(np.uint32)
    sym[:8] = [44, 43, 42, 41, 40, 33, 32, 0]  # the longest codes first
    words, bo = K.pack(sym, C, L, np.arange(m + 1, dtype=np.int64) * n)
    H = K.HamMatrix(code, words, bo, n)
    W = values[sym].reshape(m, n).T
    assert np.array_equal(H.decode(), W)
    check_product(H, W, rng, 8, 2)
    # The same code for sHAM.
    S = K.ShamMatrix(code, words, bo, np.tile(np.arange(n, dtype=np.uint16), m),
                     np.arange(m + 1, dtype=np.int64) * n, n)
    assert np.array_equal(S.decode(), W)
    check_product(S, W, rng, 17, 3)


def test_code_properties_and_rejects():
    code = K.Code(np.array([1, 2, 3, 3], np.uint8), np.array([0, 1, 2, 3], np.float32))
    assert (code.k, code.lmax, code.table_bits) == (4, 3, 3)
    assert code.lengths.tolist() == [1, 2, 3, 3] and code.values.tolist() == [0, 1, 2, 3]
    empty = K.Code(np.zeros(0, np.uint8), np.zeros(0, np.float32))
    assert empty.k == 0
    with pytest.raises(ValueError, match="same size"):
        K.Code(np.array([1, 1], np.uint8), np.array([1], np.float32))
    with pytest.raises(ValueError, match="values"):
        K.Code(np.array([1, 1], np.uint8), np.array([1, 2], np.float64))
    with pytest.raises(ValueError, match="Kraft"):
        K.Code(np.array([1, 1, 1], np.uint8), np.array([1, 2, 3], np.float32))


# --- sHAM -------------------------------------------------------------------------

@pytest.mark.parametrize("index_dtype", [np.uint8, np.uint16, np.uint32])
@pytest.mark.parametrize("shape", [(1, 1), (1, 30), (40, 1), (200, 50), (256, 17)])
@pytest.mark.parametrize("k", [1, 3, 30, 500])
def test_sham_round_trip_and_products(index_dtype, shape, k):
    n, m = shape
    if index_dtype == np.uint8 and n > 256:
        pytest.skip("uint8 row indices need n <= 256")
    rng = np.random.default_rng(seed_of(shape, k, np.dtype(index_dtype).name))
    W = random_matrix(rng, n, m, k, density=rng.uniform(0.02, 1.0), skew=rng.uniform(0, 2))
    if m > 2:
        W[:, 1] = 0  # an empty column
    S, (code, words, bo, ri, cp) = encode_sham(W, index_dtype)
    assert S.shape == (n, m) and S.nnz == np.count_nonzero(W)
    assert np.array_equal(S.decode(), W)
    assert np.array_equal(S.decode(3), W)
    for r in WIDTHS:
        check_product(S, W, rng, r, THREADS[(r + k) % 4])


@pytest.mark.parametrize("threads", THREADS)
def test_sham_large_n_row_blocks(threads):
    # n large enough for the products to run in row blocks (resumable decoding).
    rng = np.random.default_rng(10 + threads)
    W = random_matrix(rng, 40000, 5, 50, density=0.2)
    sparse = random_matrix(rng, 40000, 5, 50, density=0.005)   # HAM with clz zero runs
    S, _ = encode_sham(W)
    H, _ = encode_ham(W)
    for M, dense in ((S, W), (H, W), (encode_ham(sparse)[0], sparse)):
        check_product(M, dense, rng, 8, threads)
        check_product(M, dense, rng, 40, threads)
        assert np.array_equal(M.decode(threads), dense)


def test_sham_all_zero_and_empty():
    rng = np.random.default_rng(11)
    for n, m in ((30, 4), (0, 3), (3, 0)):
        W = np.zeros((n, m), np.float32)
        S, (code, _, _, _, _) = encode_sham(W)
        assert code.k == 0 and S.nnz == 0
        assert np.array_equal(S.decode(), W)
        Y = S.matmul(rng.standard_normal((8, n)).astype(np.float32), 7)
        assert Y.shape == (8, m) and not Y.any()


# --- CSER -------------------------------------------------------------------------

@pytest.mark.parametrize("dtypes", [
    (np.uint8, np.uint8, np.uint32), (np.uint16, np.uint16, np.uint64), (np.uint32, np.uint32, np.uint32)])
@pytest.mark.parametrize("shape", [(1, 1), (1, 20), (30, 1), (200, 60), (250, 33)])
@pytest.mark.parametrize("background", [0.0, 0.75])
def test_cser_round_trip_and_products(dtypes, shape, background):
    n, m = shape
    rng = np.random.default_rng(seed_of(shape, background, np.dtype(dtypes[0]).name))
    W = random_matrix(rng, n, m, 12, density=rng.uniform(0.1, 0.45))
    W[W == 0] = background  # the most frequent value is the background O[0]
    if m > 3:
        W[:, 2] = background  # a column with no listed rows
    C, (values, ci, vi, vp, rp) = encode_cser(W, *dtypes)
    if 2 * np.count_nonzero(W == background) > W.size:
        assert values[0] == background
    assert C.shape == (n, m)
    assert np.array_equal(C.decode(), W)
    assert np.array_equal(C.decode(3), W)
    for r in WIDTHS:
        check_product(C, W, rng, r, THREADS[r % 4])


def test_cser_empty_and_constant():
    rng = np.random.default_rng(12)
    for W in (np.zeros((5, 0), np.float32), np.zeros((0, 4), np.float32), np.full((9, 4), 3.0, np.float32)):
        C, _ = encode_cser(W)
        assert np.array_equal(C.decode(), W)
        check_product(C, W, rng, 8, 2)


# --- corrupted and invalid input ------------------------------------------------------

def ham_parts():
    rng = np.random.default_rng(13)
    W = random_matrix(rng, 50, 12, 10, density=0.6)
    return encode_ham(W)[1], W


def test_ham_rejects_bad_construction():
    (code, words, bo), W = ham_parts()
    n = W.shape[0]
    with pytest.raises(ValueError, match="words"):
        K.HamMatrix(code, words[:-1], bo, n)                     # truncated: padding missing
    bad = bo.copy()
    bad[-1] = 32 * words.size
    with pytest.raises(ValueError, match="words"):
        K.HamMatrix(code, words, bad, n)                         # offsets past the end
    bad = bo.copy()
    bad[3], bad[4] = bad[4], bad[3]
    with pytest.raises(ValueError, match="non-decreasing"):
        K.HamMatrix(code, words, bad, n)
    with pytest.raises(ValueError, match="words"):
        K.HamMatrix(code, np.array([0, 0], np.uint32), np.array([0, 2**64 - 1], np.uint64), 1)  # no overflow
    with pytest.raises(ValueError, match="n_rows"):
        K.HamMatrix(code, words, bo, -1)
    with pytest.raises(ValueError, match="uint32"):
        K.HamMatrix(code, words.astype(np.int32), bo, n)
    with pytest.raises(ValueError, match="uint64"):
        K.HamMatrix(code, words, bo.astype(np.int64), n)
    with pytest.raises(ValueError, match="C-contiguous"):
        K.HamMatrix(code, np.repeat(words, 2)[::2], bo, n)
    with pytest.raises(ValueError, match="m \\+ 1"):
        K.HamMatrix(code, words, np.zeros(0, np.uint64), n)


def test_ham_corrupted_streams_raise():
    (code, words, bo), W = ham_parts()
    n = W.shape[0]
    # A column not ending exactly at its end offset.
    bad = bo.copy()
    bad[5] += 1
    with pytest.raises(ValueError, match="corrupted HAM bitstream: column [45]"):
        K.HamMatrix(code, words, bad, n).decode()
    # Wrong row count: columns overrun / end early.
    with pytest.raises(ValueError, match="corrupted HAM bitstream: column 0"):
        K.HamMatrix(code, words, bo, n + 1).decode()
    with pytest.raises(ValueError, match="corrupted HAM bitstream: column 0"):
        K.HamMatrix(code, words, bo, n - 1).matmul(np.ones((2, n - 1), np.float32), 2)
    # An error in a worker thread's columns is rethrown after the join.
    bad = bo.copy()
    bad[-2] -= 1
    with pytest.raises(ValueError, match="corrupted HAM bitstream: column 1[01]"):
        K.HamMatrix(code, words, bad, n).matmul(np.ones((8, n), np.float32), 3)


def test_ham_k1_stream_with_a_one_bit():
    code = K.Code(np.array([1], np.uint8), np.array([0.0], np.float32))
    words = np.array([0, 0, 0], np.uint32)
    words[0] = 1 << 20  # bit 11 of column 0
    H = K.HamMatrix(code, words, np.array([0, 16, 32], np.uint64), 16)
    with pytest.raises(ValueError, match="corrupted HAM bitstream: column 0: invalid codeword"):
        H.decode()
    with pytest.raises(ValueError, match="invalid codeword"):
        H.matmul(np.ones((1, 16), np.float32), 1)
    # The same with a nonzero value (no zero runs).
    code = K.Code(np.array([1], np.uint8), np.array([2.0], np.float32))
    H = K.HamMatrix(code, words, np.array([0, 16, 32], np.uint64), 16)
    with pytest.raises(ValueError, match="invalid codeword"):
        H.decode()
    # An empty code cannot decode anything.
    H = K.HamMatrix(K.Code(np.zeros(0, np.uint8), np.zeros(0, np.float32)), np.zeros(3, np.uint32),
                    np.array([0, 4], np.uint64), 4)
    with pytest.raises(ValueError, match="invalid codeword"):
        H.decode()


def test_random_corruption_never_crashes():
    # Bit flips and random offsets: either a ValueError or some matrix, never a crash
    # (run under ASan + UBSan by `make test-sanitize`).
    rng = np.random.default_rng(14)
    W = random_matrix(rng, 70, 20, 30, density=0.5)
    H, (code, words, bo) = encode_ham(W)
    S, (scode, swords, sbo, ri, cp) = encode_sham(W)
    X = rng.standard_normal((3, 70)).astype(np.float32)
    outcomes = set()
    for trial in range(300):
        w = words.copy()
        b = bo.copy()
        sw = swords.copy()
        sb = sbo.copy()
        flips = rng.integers(0, 32 * (w.size - 2), rng.integers(1, 4))
        for f in flips:
            w[f // 32] ^= np.uint32(1 << (31 - f % 32))
            if f // 32 < sw.size - 2:
                sw[f // 32] ^= np.uint32(1 << (31 - f % 32))
        if trial % 3 == 0:
            b = np.sort(rng.integers(0, 32 * (w.size - 2) + 1, b.size)).astype(np.uint64)
            sb = np.sort(rng.integers(0, 32 * (sw.size - 2) + 1, sb.size)).astype(np.uint64)
        for make in (lambda: K.HamMatrix(code, w, b, 70), lambda: K.ShamMatrix(scode, sw, sb, ri, cp, 70)):
            try:
                M = make()
                M.decode(trial % 3 + 1)
                M.matmul(X, trial % 4 + 1)
                outcomes.add("ok")
            except ValueError as err:
                assert "corrupted" in str(err)
                outcomes.add("error")
    assert "error" in outcomes


def test_sham_rejects():
    rng = np.random.default_rng(15)
    W = random_matrix(rng, 40, 10, 8, density=0.5)
    S, (code, words, bo, ri, cp) = encode_sham(W, np.uint16)
    n = 40
    bad = ri.copy()
    bad[3] = n
    with pytest.raises(ValueError, match="out of range"):
        K.ShamMatrix(code, words, bo, bad, cp, n)
    with pytest.raises(ValueError, match="out of range"):
        K.ShamMatrix(code, words, bo, ri, cp, int(ri.max()))          # a row index >= n_rows
    j = int(np.argmax(np.diff(cp) >= 2))
    bad = ri.copy()
    bad[cp[j]], bad[cp[j] + 1] = bad[cp[j] + 1], bad[cp[j]]
    with pytest.raises(ValueError, match="ascending"):
        K.ShamMatrix(code, words, bo, bad, cp, n)
    bad = cp.copy()
    bad[2], bad[3] = bad[3] + 1, bad[2]
    with pytest.raises(ValueError, match="non-decreasing"):
        K.ShamMatrix(code, words, bo, ri, bad, n)
    with pytest.raises(ValueError, match="number of row indices"):
        K.ShamMatrix(code, words, bo, ri[:-1], cp, n)
    with pytest.raises(ValueError, match="entries"):
        K.ShamMatrix(code, words, bo, ri, cp[:-1], n)
    with pytest.raises(ValueError, match="row_index"):
        K.ShamMatrix(code, words, bo, ri.astype(np.int32), cp, n)
    with pytest.raises(ValueError, match="words"):
        K.ShamMatrix(code, words[:-2], bo, ri, cp, n)
    bad = bo.copy()
    bad[4] += 1
    with pytest.raises(ValueError, match="corrupted sHAM bitstream: column [34]"):
        K.ShamMatrix(code, words, bad, ri, cp, n).decode()
    # Nonzeros assigned to the wrong columns: the bit ranges no longer match.
    bad = cp.copy()
    bad[1:-1] = np.minimum(bad[1:-1] + 1, bad[-1])
    with pytest.raises(ValueError):
        K.ShamMatrix(code, words, bo, ri, bad, n).matmul(np.ones((8, n), np.float32), 2)


def test_cser_rejects():
    rng = np.random.default_rng(16)
    W = random_matrix(rng, 30, 8, 6, density=0.5)
    C, (values, ci, vi, vp, rp) = encode_cser(W, np.uint16, np.uint16, np.uint64)
    n = 30

    def bad(**kw):
        parts = dict(values=values, col_index=ci, value_index=vi, value_ptr=vp, row_ptr=rp, n_rows=n)
        parts.update(kw)
        return K.CserMatrix(parts["values"], parts["col_index"], parts["value_index"], parts["value_ptr"],
                            parts["row_ptr"], parts["n_rows"])

    x = vi.copy()

    x[0] = 0
    with pytest.raises(ValueError, match="value_index"):
        bad(value_index=x)
    x = vi.copy()
    x[0] = values.size
    with pytest.raises(ValueError, match="value_index"):
        bad(value_index=x)
    x = ci.copy()
    x[0] = n
    with pytest.raises(ValueError, match="out of range"):
        bad(col_index=x)
    p = int(np.argmax(np.diff(vp.astype(np.int64)) >= 2))
    x = ci.copy()
    x[vp[p]], x[vp[p] + 1] = x[vp[p] + 1], x[vp[p]]
    with pytest.raises(ValueError, match="ascending"):
        bad(col_index=x)
    # A row listed under two values of the same column.
    j = int(np.argmax(np.diff(rp.astype(np.int64)) >= 2))
    p0 = int(rp[j])
    x = ci.copy()
    x[vp[p0 + 1]] = x[vp[p0]]
    if np.all(np.diff(x[vp[p0 + 1]:vp[p0 + 2]].astype(int)) > 0):
        with pytest.raises(ValueError, match="two values"):
            bad(col_index=x)
    # The same check for a huge n_rows (no per-row marker array then).
    dup = K.CserMatrix(np.array([0, 1, 2], np.float32), np.array([5, 10**9 - 1, 7], np.uint32),
                       np.array([1, 2], np.uint8), np.array([0, 2, 3], np.uint32), np.array([0, 2], np.uint32), 10**9)
    assert dup.shape == (10**9, 1)
    with pytest.raises(ValueError, match="two values"):
        K.CserMatrix(np.array([0, 1, 2], np.float32), np.array([5, 7, 7], np.uint32),
                     np.array([1, 2], np.uint8), np.array([0, 2, 3], np.uint32), np.array([0, 2], np.uint32), 10**9)
    x = vp.copy()
    x[1], x[2] = x[2], x[1]
    with pytest.raises(ValueError, match="value_ptr"):
        bad(value_ptr=x)
    x = rp.copy()
    x[-1] -= 1
    with pytest.raises(ValueError, match="row_ptr"):
        bad(row_ptr=x)
    x = rp.copy()
    x[1], x[2] = x[2], x[1]
    with pytest.raises(ValueError, match="row_ptr"):
        bad(row_ptr=x)
    with pytest.raises(ValueError, match="value_ptr"):
        bad(value_ptr=vp[:-1])
    with pytest.raises(ValueError, match="value_ptr"):
        bad(value_ptr=vp.astype(np.int64))
    with pytest.raises(ValueError, match="col_index"):
        bad(col_index=ci.astype(np.int16))
    with pytest.raises(ValueError, match="values"):
        bad(values=values.astype(np.float64))
    with pytest.raises(ValueError, match="background"):
        bad(values=np.zeros(0, np.float32))


def test_matmul_rejects_bad_x():
    rng = np.random.default_rng(17)
    W = random_matrix(rng, 20, 6, 5, density=0.5)
    for M in (encode_ham(W)[0], encode_sham(W)[0], encode_cser(W)[0]):
        with pytest.raises(ValueError, match="float32"):
            M.matmul(np.ones((2, 20), np.float64), 1)
        with pytest.raises(ValueError, match="rows"):
            M.matmul(np.ones((2, 21), np.float32), 1)
        with pytest.raises(ValueError, match="C-contiguous"):
            M.matmul(np.ones((20, 2), np.float32).T, 1)
        with pytest.raises(ValueError, match="2-D"):
            M.matmul(np.ones(20, np.float32), 1)
        assert M.matmul(np.ones((2, 20), np.float32), 0).shape == (2, 6)     # 0: all hardware threads
        assert M.matmul(np.ones((2, 20), np.float32), -1).shape == (2, 6)
        with pytest.raises(ValueError, match="float32"):
            M.apply(np.ones((6, 2), np.float64), 1)
        with pytest.raises(ValueError, match="has 5 rows but the matrix has 6 columns"):
            M.apply(np.ones((5, 2), np.float32), 1)
        with pytest.raises(ValueError, match="C-contiguous"):
            M.apply(np.ones((2, 6), np.float32).T, 1)
        with pytest.raises(ValueError, match="2-D"):
            M.apply(np.ones(6, np.float32), 1)
        assert M.apply(np.ones((6, 2), np.float32), 0).shape == (20, 2)
        assert M.apply(np.ones((6, 0), np.float32), 2).shape == (20, 0)


# --- encoder primitives: CSC and CSER arrays, column listings --------------------------

ENCODER_MATRICES = [(1, 1), (0, 4), (5, 0), (37, 11), (300, 7), (260, 3)]


@pytest.mark.parametrize("shape", ENCODER_MATRICES)
@pytest.mark.parametrize("k", [1, 3, 40])
def test_csc_arrays_match_scipy(shape, k):
    import scipy.sparse
    rng = np.random.default_rng(seed_of("csc", shape, k))
    W = random_matrix(rng, *shape, k, density=rng.uniform(0, 1))
    W[W == 0] = np.float32(-0.0) if rng.random() < 0.5 else 0  # -0.0 is zero too
    data, indices, indptr = K.csc_arrays(W)
    ref = scipy.sparse.csc_array(W)
    ref.sort_indices()
    assert data.dtype == np.float32 and indices.dtype == indptr.dtype == np.int32
    assert np.array_equal(data, ref.data) and np.array_equal(indices, ref.indices)
    assert np.array_equal(indptr, ref.indptr)


@pytest.mark.parametrize("shape", ENCODER_MATRICES)
@pytest.mark.parametrize("k", [1, 2, 12, 300])
def test_cser_arrays_match_the_reference_layout(shape, k):
    rng = np.random.default_rng(seed_of("cser", shape, k))
    W = random_matrix(rng, *shape, k, density=rng.uniform(0.1, 0.9))
    vals = symbol_order(W)[0].astype(np.float32)
    col_dtype = np.uint8 if shape[0] <= 256 else np.uint16
    value_dtype = np.uint8 if len(vals) <= 256 else np.uint16
    ci, vi, vp, rp = K.cser_arrays(W, vals, col_dtype, value_dtype)
    _, (_, ci0, vi0, vp0, rp0) = encode_cser(W, col_dtype, value_dtype, np.uint64)
    assert ci.dtype == col_dtype and vi.dtype == value_dtype
    assert vp.dtype == rp.dtype == np.uint32  # uint64 only when needed
    for got, ref in ((ci, ci0), (vi, vi0), (vp, vp0), (rp, rp0)):
        assert np.array_equal(got.astype(np.uint64), ref.astype(np.uint64))
    assert np.array_equal(K.CserMatrix(vals, ci, vi, vp, rp, shape[0]).decode(2), W)


def test_cser_arrays_rejects():
    W = np.array([[1, 2], [1, 3]], np.float32)
    vals = np.array([1, 2, 3], np.float32)
    with pytest.raises(ValueError, match="not in values"):
        K.cser_arrays(W, vals[:2], np.uint8, np.uint8)
    with pytest.raises(ValueError, match="col_dtype"):
        K.cser_arrays(np.zeros((300, 1), np.float32) + np.eye(300, 1, dtype=np.float32), np.array([0, 1], np.float32),
                      np.uint8, np.uint8)
    with pytest.raises(ValueError, match="value_dtype"):
        K.cser_arrays(W, vals, np.uint8, np.int8)


@pytest.mark.parametrize("shape", [(1, 1), (37, 5), (200, 40), (64, 17), (0, 4), (5, 0)])
@pytest.mark.parametrize("k", [1, 3, 300])
def test_pack_matrix_is_pack_of_the_symbols(shape, k):
    """The fused HAM / sHAM packer writes the same words as pack() of the symbols, column by column."""
    n, m = shape
    rng = np.random.default_rng(seed_of(shape, k))
    W = random_matrix(rng, n, m, k, density=rng.uniform(0.05, 1.0))
    if W.size:
        code, cw, ln, sym = make_code(W)
        words, bo = K.pack(np.ascontiguousarray(sym.T).ravel(), cw, ln, np.arange(m + 1, dtype=np.int64) * n)
        words2, bo2, rows2, cp2 = K.pack_matrix(W, code.values, cw, ln, False)
        assert rows2 is None and cp2 is None
        assert np.array_equal(words2, words) and np.array_equal(bo2, bo) and bo2.dtype == np.uint64
    if np.count_nonzero(W):
        rows, col_ptr, nz = csc_parts(W)
        code, cw, ln, sym = make_code(nz)
        words, bo = K.pack(sym, cw, ln, col_ptr)
        for dtype in (None, np.uint16, np.uint32):
            words2, bo2, rows2, cp2 = K.pack_matrix(W, code.values, cw, ln, True, dtype)
            assert np.array_equal(words2, words) and np.array_equal(bo2, bo) and np.array_equal(cp2, col_ptr)
            assert rows2.dtype == (dtype or np.uint32) and np.array_equal(rows2, rows)


def test_pack_matrix_rejects():
    W = np.array([[1, 2], [0, 3]], np.float32)
    vals, cw, ln = np.float32([0, 1, 2, 3]), np.uint64([0, 1, 2, 3]), np.uint8([2, 2, 2, 2])
    assert K.pack_matrix(W, vals, cw, ln, False)[0][0] == 0b01_00_10_11 << 24  # column-major: 1 0 2 3
    with pytest.raises(ValueError, match="not in values"):
        K.pack_matrix(W, vals[:3], cw[:3], ln[:3], False)
    with pytest.raises(ValueError, match="not in values"):  # sHAM skips zeros only
        K.pack_matrix(W, vals[1:3], cw[1:3], ln[1:3], True)
    with pytest.raises(ValueError, match="same size"):
        K.pack_matrix(W, vals, cw[:3], ln, False)
    with pytest.raises(ValueError, match="codeword"):
        K.pack_matrix(W, vals, np.uint64([0, 1, 2, 4]), ln, False)
    with pytest.raises(ValueError, match="codeword"):
        K.pack_matrix(W, vals, cw, np.uint8([2, 2, 2, 0]), False)
    with pytest.raises(ValueError, match="row_dtype"):
        K.pack_matrix(np.ones((300, 1), np.float32), vals[1:2], cw[:1], np.uint8([1]), True, np.uint8)


def test_symbolize_and_scan_matrix():
    vals = np.float32([0, 2.5, -1])
    x = np.float32([[2.5, 0, -0.0], [-1, -1, 2.5]])
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        out = K.symbolize(x, vals, dtype)
        assert out.dtype == dtype and out.tolist() == [1, 0, 0, 2, 2, 1]
    with pytest.raises(ValueError, match="not in values"):
        K.symbolize(x, vals[:2], np.uint8)
    with pytest.raises(ValueError, match="cannot hold"):
        K.symbolize(x, np.arange(300, dtype=np.float32), np.uint8)
    assert K.scan_matrix(x) == (0, -1, True)
    assert K.scan_matrix(np.float32([[1, np.inf, 0], [np.nan, 2, 3]])) == (2, 1, False)
    assert K.scan_matrix(np.zeros((0, 3), np.float32)) == (0, -1, False)


def test_cser_counts_are_the_array_sizes():
    rng = np.random.default_rng(26)
    for n, m, background in ((200, 9, 0.0), (50, 30, 1.5), (1, 4, 0.0), (0, 3, 0.0)):
        W = random_matrix(rng, n, m, 20, density=0.5)
        W[W == 0] = background
        if m > 2:
            W[:, 1] = background   # a column of background only
            W[:, 2] = 7.0          # a column without background
        vals = symbol_order(W)[0].astype(np.float32)
        ci, vi, vp, rp = K.cser_arrays(W, vals, np.uint32, np.uint32)
        listed = np.diff(vp.astype(np.int64)[rp.astype(np.int64)])
        assert K.cser_counts(W, vals) == (len(ci), len(vi), int(np.count_nonzero(listed < n)))


# --- arrays kept by reference ---------------------------------------------------------

def test_matrices_keep_their_large_arrays_read_only():
    # The large arrays are referenced, not copied, and made read-only; the small ones
    # (bit offsets, column and row pointers, values) are copied and left alone.
    rng = np.random.default_rng(21)
    W = random_matrix(rng, 60, 9, 12, density=0.5)
    H, (code, words, bo) = encode_ham(W)
    assert not words.flags.writeable and bo.flags.writeable
    S, (code, swords, sbo, ri, cp) = encode_sham(W, np.uint16)
    assert not swords.flags.writeable and not ri.flags.writeable and cp.flags.writeable and sbo.flags.writeable
    C, (values, ci, vi, vp, rp) = encode_cser(W, np.uint16, np.uint8, np.uint32)
    assert not ci.flags.writeable and not vi.flags.writeable and not vp.flags.writeable
    assert values.flags.writeable and rp.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        ri[0] = 1
    # A rejected construction leaves the arrays as they were.
    w = words.copy()
    with pytest.raises(ValueError):
        K.HamMatrix(code, w, bo, -1)
    assert w.flags.writeable


def test_matrices_outlive_the_python_references():
    import gc
    rng = np.random.default_rng(22)
    W = random_matrix(rng, 80, 11, 20, density=0.4)
    mats = [encode_ham(W)[0], encode_sham(W)[0], encode_cser(W)[0], encode_rlh(W)[0]]  # the arrays are dropped here
    gc.collect()
    junk = [np.full(4096, 7, np.uint32) for _ in range(64)]  # reuse freed memory, if any was freed
    for M in mats:
        assert np.array_equal(M.decode(2), W)
        check_product(M, W, rng, 8, 2)
    del junk


def test_unaligned_arrays_are_copied():
    rng = np.random.default_rng(23)
    W = random_matrix(rng, 50, 7, 9, density=0.6)
    _, (code, words, bo) = encode_ham(W)
    buf = np.zeros(words.nbytes + 1, np.uint8)
    unaligned = np.frombuffer(buf.data, np.uint32, count=words.size, offset=1)
    unaligned_buf = buf[1:].view()  # writable alias of the same bytes
    unaligned_buf[:] = words.view(np.uint8)
    assert not unaligned.flags.aligned
    H = K.HamMatrix(code, unaligned, bo, 50)
    buf[:] = 0xFF  # the matrix holds its own aligned copy
    assert np.array_equal(H.decode(), W)


def test_changed_arrays_never_read_out_of_bounds():
    # Writing into the kept arrays through a writable alias (a view made before they
    # were marked read-only) gives wrong numbers or a ValueError, never an access out of
    # bounds (`make test-sanitize` runs this under ASan).
    rng = np.random.default_rng(24)
    W = random_matrix(rng, 70, 13, 25, density=0.5)
    W[W == 0] = 0.5
    X = rng.standard_normal((5, 70)).astype(np.float32)
    for trial in range(30):
        _, (code, words, bo, ri, cp) = encode_sham(W, np.uint8)
        _, (values, ci, vi, vp, rp) = encode_cser(W, np.uint16, np.uint8, np.uint32)
        words, ri, ci, vi, vp = (a.copy() for a in (words, ri, ci, vi, vp))  # fresh, writable
        alias = {name: a.view() for name, a in (("ri", ri), ("ci", ci), ("vi", vi), ("vp", vp), ("words", words))}
        S = K.ShamMatrix(code, words, bo, ri, cp, 70)
        C = K.CserMatrix(values, ci, vi, vp, rp, 70)
        for a in alias.values():
            assert a.flags.writeable
            big = np.iinfo(a.dtype).max
            a[rng.integers(0, a.size, 1 + trial % 5)] = big if trial % 2 else rng.integers(0, big, dtype=a.dtype)
        for M in (S, C):
            for call in (lambda: M.decode(1 + trial % 3), lambda: M.matmul(X, 1 + trial % 2),
                         lambda: M.apply(X[:, :13].T.copy(), 1 + trial % 2)):
                try:
                    call()
                except ValueError as err:
                    assert "corrupted" in str(err)
    V = np.where(rng.random((70, 130)) < 0.3, W[:, np.arange(130) % 13], 0).astype(np.float32)  # RLH: runs
    for trial in range(30):
        arrays = {k: v.copy() for k, v in encode_rlh(V)[1].items()}
        alias = {name: arrays[name].view() for name in ("words", "code1_symbols")}  # the arrays RLH views
        R = K.RlhMatrix(*(arrays[f] for f in RLH_FIELDS), *V.shape)
        for a in alias.values():
            big = np.iinfo(a.dtype).max
            a[rng.integers(0, a.size, 1 + trial % 5)] = big if trial % 2 else rng.integers(0, big, dtype=a.dtype)
        for call in (lambda: R.decode(1 + trial % 3), lambda: R.matmul(X, 1 + trial % 2),
                     lambda: R.apply(np.ones((130, 3), np.float32), 1 + trial % 2)):
            try:
                call()
            except ValueError as err:
                assert "corrupted" in str(err)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity on this platform")
def test_threads_leave_the_callers_cpu_affinity_alone():
    # Worker threads get an affinity mask at creation (off the caller's CPU); the caller's
    # own mask, which later threads inherit, must never change.
    rng = np.random.default_rng(26)
    before = os.sched_getaffinity(0)
    for n, m in ((64, 40), (300, 200)):  # small products: workers often exit before the caller goes on
        W = random_matrix(rng, n, m, 9, density=0.5)
        X = rng.standard_normal((2, n)).astype(np.float32)
        for M in (encode_ham(W)[0], encode_sham(W)[0], encode_cser(W)[0], encode_rlh(W)[0]):
            for _ in range(60):
                M.matmul(X, 2)
                M.decode(2)
                assert os.sched_getaffinity(0) == before


def test_concurrent_python_threads():
    # The GIL is released during products; concurrent calls share one matrix safely.
    rng = np.random.default_rng(18)
    W = random_matrix(rng, 300, 80, 40, density=0.3)
    mats = [encode_ham(W)[0], encode_sham(W)[0], encode_cser(W)[0], encode_rlh(W)[0]]
    X = rng.standard_normal((8, 300)).astype(np.float32)
    XR = rng.standard_normal((80, 8)).astype(np.float32)
    expect = [M.matmul(X, 1) for M in mats]
    expect_apply = {t: [M.apply(XR, t) for M in mats] for t in (1, 2)}  # the sums' order depends on the threads
    errors = []

    def work(i):
        try:
            for _ in range(20):
                for M, e, er in zip(mats, expect, expect_apply[1 + i % 2]):
                    assert np.array_equal(M.matmul(X, 1 + i % 2), e)
                    assert np.array_equal(M.apply(XR, 1 + i % 2), er)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# --- randomized rounds -------------------------------------------------------------------

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(0, 60), m=st.integers(0, 12), k=st.integers(1, 50),
       density=st.floats(0.0, 1.0), seed=st.integers(0, 2**31 - 1))
def test_hypothesis_round_trips(n, m, k, density, seed):
    rng = np.random.default_rng(seed)
    W = random_matrix(rng, n, m, k, density=density)
    H, _ = encode_ham(W)
    S, _ = encode_sham(W)
    C, _ = encode_cser(W)
    R, _ = encode_rlh(W)
    for M in (H, S, C, R):
        assert np.array_equal(M.decode(2), W)


def test_randomized_products():
    rounds = int(os.environ.get("HAMSHAM_RANDOM_ROUNDS", "8"))
    rng = np.random.default_rng(int(os.environ.get("HAMSHAM_RANDOM_SEED", "19")))
    for _ in range(rounds):
        n = int(rng.integers(0, 400))
        m = int(rng.integers(0, 60))
        k = int(rng.choice([1, 2, 7, 60, 900]))
        W = random_matrix(rng, n, m, k, density=rng.uniform(0, 1), skew=rng.uniform(0, 2.5))
        if rng.random() < 0.3:
            W[W == 0] = np.float32(rng.standard_normal())  # nonzero background for CSER
        mats = [encode_ham(W)[0], encode_cser(W)[0], encode_rlh(W)[0],
                encode_sham(W, np.uint16 if n <= 65536 else np.uint32)[0]]
        for M in mats:
            assert np.array_equal(M.decode(int(rng.integers(1, 5))), W)
            r = int(rng.choice([0, 1, 2, 3, 5, 8, 9, 16, 17, 33]))
            check_product(M, W, rng, r, int(rng.integers(-1, 8)))
