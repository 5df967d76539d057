"""Type stubs of the compiled kernel `hamsham._kernel` (ext/src/module.cpp, ext/src/encode.cpp).

Written by hand from the bindings; tests/test_wheel.py checks that every name the
compiled module exports (and every method of its classes) is declared here.
Names starting with "_" are helpers of these stubs, not in the module.
"""
from typing import Any, Literal, TypedDict

import numpy as np
import numpy.typing as npt

_Array = npt.NDArray[Any]
_F32 = npt.NDArray[np.float32]
_U64 = npt.NDArray[np.uint64]

MAX_CODE_LENGTH: int
RLH_TABLE_BITS: int

class _BuildInfo(TypedDict):
    native: bool  # built with -march=native (HAMSHAM_NATIVE=ON)
    isa: Literal["native", "baseline", "x86-64-v3", "x86-64-v4"]  # the hot loops' version in use
    isas: list[str]  # the versions this CPU can run

def build_info() -> _BuildInfo: ...

# --- codes and packing ---------------------------------------------------------------

def huffman_lengths(counts: _Array) -> npt.NDArray[np.uint8]: ...
def canonical_codewords(lengths: _Array) -> _U64: ...
def pack(
    symbols: _Array, codewords: _Array, lengths: _Array, group_ptr: _Array
) -> tuple[npt.NDArray[np.uint32], _U64]: ...

class Code:
    """A canonical Huffman code in symbol order with its decoding tables."""

    def __init__(self, lengths: _Array, values: _Array) -> None: ...
    @property
    def k(self) -> int: ...
    @property
    def lmax(self) -> int: ...
    @property
    def table_bits(self) -> int: ...
    @property
    def lengths(self) -> npt.NDArray[np.uint8]: ...
    @property
    def values(self) -> _F32: ...

# --- encoders ------------------------------------------------------------------------

def value_counts(x: npt.ArrayLike) -> tuple[_F32, npt.NDArray[np.int64]]: ...
def scan_matrix(x: npt.ArrayLike) -> tuple[int, int, bool]: ...
def symbolize(x: npt.ArrayLike, values: npt.ArrayLike, dtype: npt.DTypeLike) -> _Array: ...
def pack_matrix(
    W: npt.ArrayLike,
    values: npt.ArrayLike,
    codewords: npt.ArrayLike,
    lengths: npt.ArrayLike,
    skip_zeros: bool,
    row_dtype: npt.DTypeLike | None = None,
) -> tuple[npt.NDArray[np.uint32], _U64, _Array | None, _Array | None]: ...
def csc_arrays(W: npt.ArrayLike) -> tuple[_F32, _Array, _Array]: ...
def cser_arrays(
    W: npt.ArrayLike, values: npt.ArrayLike, col_dtype: npt.DTypeLike, value_dtype: npt.DTypeLike
) -> tuple[_Array, _Array, _Array, _Array]: ...
def cser_counts(W: npt.ArrayLike, values: npt.ArrayLike) -> tuple[int, int, int]: ...

# --- matrices: products (Y = X @ W) and decoding -------------------------------------------

class _Matrix:
    """What the matrix classes share (not in the module)."""

    def matmul(self, X: _Array, threads: int = 0) -> _F32:
        """X @ W for X of shape (r, n)."""
    def apply(self, X: _Array, threads: int = 0) -> _F32:
        """W @ X for X of shape (m, r)."""
    def decode(self, threads: int = 0) -> _F32: ...
    def columns(self, start: int, stop: int, threads: int = 0) -> _F32: ...
    @property
    def n_rows(self) -> int: ...
    @property
    def n_cols(self) -> int: ...
    @property
    def shape(self) -> tuple[int, int]: ...

class HamMatrix(_Matrix):
    """HAM: every entry of an n x m matrix, column-major, Huffman coded."""

    def __init__(self, code: Code, words: _Array, bit_offsets: _Array, n_rows: int) -> None: ...
    def column_bits(self) -> _U64: ...
    @property
    def code(self) -> Code: ...

class ShamMatrix(_Matrix):
    """sHAM: CSC layout whose nonzero values are Huffman coded."""

    def __init__(
        self, code: Code, words: _Array, bit_offsets: _Array, row_index: _Array, col_ptr: _Array, n_rows: int
    ) -> None: ...
    def column_bits(self) -> _U64: ...
    @property
    def nnz(self) -> int: ...
    @property
    def code(self) -> Code: ...

class CserMatrix(_Matrix):
    """CSER (Wiedemann et al.): per column, the rows owned by each value."""

    def __init__(
        self,
        values: _Array,
        col_index: _Array,
        value_index: _Array,
        value_ptr: _Array,
        row_ptr: _Array,
        n_rows: int,
    ) -> None: ...

class RlhMatrix(_Matrix):
    """RLH (run-length Huffman): (zero run, value) pairs in canonical Huffman codes, all-zero
    rows and columns dropped, one bit offset per block of block_cols kept columns."""

    def __init__(
        self,
        values: _Array,
        code1_symbols: _Array,
        code1_counts: _Array,
        code2_counts: _Array,
        run_weights: _Array,
        value_weights: _Array,
        zero_rank: _Array,
        row_mask: _Array,
        col_mask: _Array,
        block_cols: _Array,
        words: _Array,
        block_offsets: _Array,
        n_rows: int,
        n_cols: int,
    ) -> None: ...
    @property
    def mode(self) -> Literal["joint", "factored", "product", "entries"]: ...

class _RlhArrays(TypedDict):
    values: _F32
    code1_symbols: npt.NDArray[np.uint32]
    code1_counts: _U64
    code2_counts: _U64
    run_weights: _U64
    value_weights: _U64
    zero_rank: _U64
    row_mask: npt.NDArray[np.uint8]
    col_mask: npt.NDArray[np.uint8]
    block_cols: _U64
    words: npt.NDArray[np.uint32]
    block_offsets: _U64

def rlh_encode(W: npt.ArrayLike) -> _RlhArrays: ...

# --- threads -------------------------------------------------------------------------

def set_min_work_per_thread(units: int) -> None: ...
def min_work_per_thread() -> int: ...
