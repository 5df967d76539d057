"""The six storage formats of the study, one small interface for all.

`compress(W, fmt)` returns an `EncodedMatrix`: `.shape`, `.nbits` (the bits
this implementation really stores: data, index arrays and code tables), an
exact `.to_dense()` and `.columns(start, stop)` (only those columns decoded;
`roundtrip_errors` checks a round trip with them, block by block), and the
product `X @ obj` (= X @ W) or `obj.left_matmul(X, threads=None)`. HAM, sHAM
and CSER multiply in the compiled kernel straight from their encoded arrays
(float32 sums over blocks of rows, added up in float64); CSC uses SciPy, IM
rebuilds the dense matrix from its index map (the study's protocol), dense
uses BLAS.
`to_arrays()` / `from_arrays()` give the stored arrays and rebuild an object
from them, validated (a corrupted structure raises ValueError, never crashes).
"""
import os

import numpy as np
import scipy.sparse

from hamsham import catalogue
from hamsham.bits import index_dtype
from hamsham.huffman import HuffmanCode
from hamsham.kernel import kernel
from hamsham.values import ValueTable, as_matrix

FORMATS = catalogue.codes()  # ("ham", "sham", "csc", "im", "cser", "dense")


def _bits(*arrays) -> int:
    return sum(8 * a.nbytes for a in arrays)


class EncodedMatrix:
    """Common interface; subclasses store the matrix and implement `_product` and `_columns`."""

    format = ""
    stores_input = False  # encode() keeps W itself: compress() gives it a private copy
    __array_ufunc__ = None  # make `ndarray @ obj` call our __rmatmul__

    def __init__(self, arrays: dict, shape):
        self.shape = (int(shape[0]), int(shape[1]))
        self._arrays = arrays

    @property
    def nbits(self) -> int:
        return _bits(*self.to_arrays().values())

    def to_dense(self) -> np.ndarray:
        """The exact matrix, float32 (n, m)."""
        return self.columns(0, self.shape[1])

    def columns(self, start: int, stop: int) -> np.ndarray:
        """The exact columns start..stop - 1, float32 (n, stop - start), C order."""
        start, stop = int(start), int(stop)
        if not 0 <= start <= stop <= self.shape[1]:
            raise ValueError(f"columns: need 0 <= start <= stop <= {self.shape[1]}, got {start}, {stop}")
        return self._columns(start, stop)

    def _columns(self, start, stop):
        raise NotImplementedError

    def to_arrays(self) -> dict:
        """The stored arrays (their bits are `nbits`); `from_arrays` rebuilds the object."""
        return dict(self._arrays)

    def left_matmul(self, X, threads=None) -> np.ndarray:
        """X @ W for X of shape (r, n) or (n,); float32 result. `threads`: kernel threads
        (None or 0 = all cores; CSC, IM and dense ignore it)."""
        X2, vector = self._input(X)
        threads = 0 if threads is None else int(threads)
        if threads < 0:
            raise ValueError(f"threads must be >= 0, got {threads}")
        Y = self._product(X2, threads)
        return Y[0] if vector else Y

    def __rmatmul__(self, X):
        return self.left_matmul(X)

    def _input(self, X):
        X = np.asarray(X)
        if X.ndim not in (1, 2):
            raise ValueError(f"X must be a vector or a matrix, got shape {X.shape}")
        vector = X.ndim == 1
        X2 = X[None, :] if vector else X
        if X2.shape[1] != self.shape[0]:
            raise ValueError(
                f"shape mismatch: X has {X2.shape[1]} columns but the {self.format} matrix "
                f"has {self.shape[0]} rows (shape {self.shape})"
            )
        return np.ascontiguousarray(X2, dtype=np.float32), vector

    def _product(self, X, threads):
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__} {self.shape[0]}x{self.shape[1]}, {self.nbits} bits>"


def _code_arrays(code: HuffmanCode) -> dict:
    return {"values": code.table.values, "lengths": code.lengths}


def _kernel_code(arrays) -> "kernel.Code":
    return kernel.Code(np.ascontiguousarray(arrays["lengths"], np.uint8),
                       np.ascontiguousarray(arrays["values"], np.float32))


class _KernelBacked(EncodedMatrix):
    """A format whose product and decoding run in the compiled kernel."""

    def __init__(self, arrays: dict, shape):
        super().__init__(arrays, shape)
        self._matrix = self._kernel_matrix(arrays)
        if tuple(self._matrix.shape) != self.shape:
            raise ValueError(f"invalid {self.format} structure: the arrays describe a "
                             f"{tuple(self._matrix.shape)} matrix, not {self.shape}")

    def _columns(self, start, stop):
        return self._matrix.columns(start, stop)

    def _product(self, X, threads):
        return self._matrix.matmul(X, threads)


class HAM(_KernelBacked):
    """Every entry, column by column, as a canonical Huffman codeword in one bitstream."""

    format = "ham"

    def _kernel_matrix(self, arrays):
        return kernel.HamMatrix(_kernel_code(arrays), arrays["words"], arrays["bit_offsets"], self.shape[0])

    @classmethod
    def encode(cls, W):
        code = HuffmanCode.of(ValueTable.of(W))
        words, offsets, _, _ = kernel.pack_matrix(W, code.table.values, code.codewords, code.lengths, False)
        return cls({**_code_arrays(code), "words": words, "bit_offsets": offsets}, W.shape)


class SHAM(_KernelBacked):
    """CSC layout whose nonzero values are canonical Huffman codewords (code over nonzeros)."""

    format = "sham"

    def _kernel_matrix(self, arrays):
        return kernel.ShamMatrix(_kernel_code(arrays), arrays["words"], arrays["bit_offsets"],
                                 arrays["row_index"], arrays["col_ptr"], self.shape[0])

    @classmethod
    def encode(cls, W):
        code = HuffmanCode.of(ValueTable.of(W).without_zero())
        words, offsets, rows, col_ptr = kernel.pack_matrix(W, code.table.values, code.codewords, code.lengths, True,
                                                           row_dtype=index_dtype(W.shape[0]))
        return cls({**_code_arrays(code), "words": words, "bit_offsets": offsets,
                    "row_index": rows, "col_ptr": col_ptr}, W.shape)


class CSER(_KernelBacked):
    """Compressed Shared Elements Row (Wiedemann et al.) on the columns of W; MODEL.md."""

    format = "cser"
    _FIELDS = ("values", "col_index", "value_index", "value_ptr", "row_ptr")

    def _kernel_matrix(self, arrays):
        return kernel.CserMatrix(*(arrays[f] for f in self._FIELDS), self.shape[0])

    @classmethod
    def encode(cls, W):
        return cls(cser_arrays(W, ValueTable.of(W)), W.shape)


def cser_arrays(W, table: ValueTable) -> dict:
    """CSER's arrays (MODEL.md) of the float32 matrix W whose value table is `table`."""
    n = W.shape[0]
    arrays = kernel.cser_arrays(W, table.values, index_dtype(n), index_dtype(max(table.k, 1)))
    return {"values": table.values, **dict(zip(("col_index", "value_index", "value_ptr", "row_ptr"), arrays))}


class CSC(EncodedMatrix):
    """Compressed sparse column with float32 values (SciPy)."""

    format = "csc"

    def __init__(self, arrays: dict, shape):
        super().__init__(arrays, shape)
        try:
            self._csc = scipy.sparse.csc_array(
                (arrays["data"], arrays["indices"], arrays["indptr"]), shape=self.shape)
            self._csc.check_format(full_check=True)
        except (ValueError, TypeError) as err:
            raise ValueError(f"invalid CSC structure: {err}") from err

    @classmethod
    def encode(cls, W):
        data, indices, indptr = kernel.csc_arrays(W)  # int32 indices as SciPy's, int64 when needed
        return cls({"data": data, "indices": indices, "indptr": indptr}, W.shape)

    def _columns(self, start, stop):
        part = self._csc if (start, stop) == (0, self.shape[1]) else self._csc[:, start:stop]
        return np.ascontiguousarray(part.toarray(), np.float32)

    def _product(self, X, threads):
        return np.asarray(X @ self._csc, dtype=np.float32)


class IM(EncodedMatrix):
    """Index map: a bitreq(k)-bit index per entry into the table of the k distinct values."""

    format = "im"

    def __init__(self, arrays: dict, shape):
        super().__init__(arrays, shape)
        index, values = arrays["index"], arrays["values"]
        if index.shape != self.shape:
            raise ValueError(f"invalid IM structure: index map of shape {index.shape}, expected {self.shape}")
        if index.size and int(index.max()) >= len(values):
            raise ValueError(f"invalid IM structure: index {int(index.max())} >= {len(values)} values")

    @classmethod
    def encode(cls, W):
        table = ValueTable.of(W)
        index = table.symbols(W, index_dtype(max(table.k, 1)))
        return cls({"index": index, "values": table.values}, W.shape)

    def _columns(self, start, stop):
        return self._arrays["values"][self._arrays["index"][:, start:stop]]

    def _product(self, X, threads):
        return X @ self.to_dense()


class Dense(EncodedMatrix):
    """Plain float32."""

    format = "dense"
    stores_input = True

    def __init__(self, arrays: dict, shape):
        super().__init__(arrays, shape)
        if arrays["W"].shape != self.shape:
            raise ValueError(f"invalid dense structure: shape {arrays['W'].shape}, expected {self.shape}")

    @classmethod
    def encode(cls, W):
        return cls({"W": W}, W.shape)

    def _columns(self, start, stop):
        return np.array(self._arrays["W"][:, start:stop], np.float32, order="C")

    def _product(self, X, threads):
        return X @ self._arrays["W"]


def compress(W, fmt: str) -> EncodedMatrix:
    """Encode W (cast to float32; NaN/Inf rejected; -0.0 stored as 0.0) in format `fmt`."""
    cls = _format_class(fmt)
    return cls.encode(as_matrix(W, private=cls.stores_input))


def roundtrip_errors(obj: EncodedMatrix, W, block_bytes: int = 256 << 20) -> tuple:
    """(entries that differ, max |difference|) between `obj` and the matrix W, compared in
    blocks of columns of about `block_bytes` decoded bytes (no second full matrix)."""
    W = np.asarray(W)
    if W.shape != obj.shape:
        raise ValueError(f"roundtrip_errors: W has shape {W.shape} but the {obj.format} matrix {obj.shape}")
    n, m = obj.shape
    step = max(1, int(block_bytes) // max(4 * n, 1))
    differ, worst = 0, 0.0
    for start in range(0, m, step):
        stop = min(m, start + step)
        decoded, original = obj.columns(start, stop), W[:, start:stop]
        wrong = decoded != original
        count = int(np.count_nonzero(wrong))
        if count:
            differ += count
            worst = max(worst, float(np.max(np.abs(decoded[wrong].astype(np.float64) - original[wrong]))))
    return differ, worst


def from_arrays(fmt: str, arrays: dict, shape) -> EncodedMatrix:
    """Rebuild an encoded matrix from `to_arrays()` output, validating every array."""
    return _format_class(fmt)(arrays, shape)


def save(obj: EncodedMatrix, path) -> None:
    """Write an encoded matrix to an .npz file (atomically)."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}.npz"
    try:
        np.savez(tmp, format=obj.format, shape=np.array(obj.shape, np.int64), **obj.to_arrays())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load(path) -> EncodedMatrix:
    """Read an encoded matrix written by `save` (validated: a corrupted file raises ValueError)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files if key not in ("format", "shape")}
        try:
            fmt, shape = str(data["format"]), tuple(int(v) for v in data["shape"])
        except KeyError as err:
            raise ValueError(f"{path}: not a hamsham file (no {err})") from err
    try:
        return from_arrays(fmt, arrays, shape)
    except (ValueError, KeyError) as err:
        raise ValueError(f"{path}: {err}") from err


def _format_class(fmt):
    """The class of library code `fmt` (any case), from hamsham.catalogue."""
    return catalogue.by_code(fmt).load("cls")
