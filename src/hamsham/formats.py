"""The study's six storage formats, one small interface for all, in SciPy's habits (a
seventh, RLH, beyond the study, is in hamsham.runlength with the same interface).

`compress(W, fmt)` returns an `EncodedMatrix`: `.shape`, `.dtype` (float32),
`.format`, `.nnz` (nonzero entries of W, exact), `.nbits` (the bits this
implementation really stores: data, index arrays and code tables), an exact
`.toarray()` (`.to_dense()` is the same) and `.columns(start, stop)` (only
those columns decoded; `roundtrip_errors` checks a round trip with them, block
by block). Two products, both float32 results:

* `obj @ X` or `obj.matmul(X, threads=None)`: W @ X, X of shape (m, r) or (m,)
  (the orientation of PyTorch's `Linear`);
* `X @ obj` or `obj.left_matmul(X, threads=None)`: X @ W, X of shape (r, n) or (n,)
  (the study's protocol).

HAM, sHAM and CSER multiply in the compiled kernel straight from their encoded
arrays (float32 sums over at most 16384 terms, added up in float64); CSC uses
SciPy, IM rebuilds the dense matrix from its index map (the study's protocol),
dense uses BLAS. `threads` (None or 0: all cores) is honoured by every format:
the kernel's threads, BLAS threads (dense, and IM's product after its one-thread
rebuild), a split of the columns over threads (CSC); see README.md, "How each
format multiplies".
`to_arrays()` / `from_arrays()` give the stored arrays and rebuild an object
from them, validated (a corrupted structure raises ValueError, never crashes).
"""
import contextlib
import os

import numpy as np
import scipy.sparse

from hamsham import catalogue
from hamsham.bits import index_dtype
from hamsham.huffman import HuffmanCode
from hamsham.kernel import kernel
from hamsham.values import ValueTable, as_matrix

FORMATS = catalogue.codes()  # ("ham", "sham", "csc", "im", "cser", "dense", "rlh")


def _bits(*arrays) -> int:
    return sum(8 * a.nbytes for a in arrays)


class EncodedMatrix:
    """Common interface; subclasses store the matrix and implement `_columns`, `_product`
    (X @ W) and `_apply` (W @ X), the last two on C-contiguous float32 2-D arrays."""

    format = ""
    dtype = np.dtype(np.float32)
    stores_input = False  # encode() keeps W itself: compress() gives it a private copy
    __array_ufunc__ = None  # make `ndarray @ obj` call our __rmatmul__

    def __init__(self, arrays: dict, shape):
        self.shape = (int(shape[0]), int(shape[1]))
        self._arrays = arrays
        self._nnz = None

    @property
    def nbits(self) -> int:
        return _bits(*self.to_arrays().values())

    @property
    def nnz(self) -> int:
        """The number of nonzero entries of W (exact; counted once, then kept)."""
        if self._nnz is None:
            self._nnz = int(self._count_nonzero())
        return self._nnz

    def _count_nonzero(self):
        n, m = self.shape
        step = max(1, (64 << 20) // max(4 * n, 1))  # about 64 MiB of decoded columns at a time
        return sum(np.count_nonzero(self.columns(j, min(m, j + step))) for j in range(0, m, step))

    def toarray(self) -> np.ndarray:
        """The exact matrix, float32 (n, m)."""
        return self.columns(0, self.shape[1])

    to_dense = toarray

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

    def matmul(self, X, threads=None) -> np.ndarray:
        """W @ X for X of shape (m, r) or (m,); float32 result (n, r) or (n,).
        `threads`: None or 0 = all cores (see the module's docstring)."""
        X = _operand(X)
        if X.shape[0] != self.shape[1]:
            raise ValueError(f"shape mismatch: W @ X with the {self.format} matrix W of shape {self.shape} and "
                             f"X of shape {X.shape}: X needs {self.shape[1]} rows")
        vector = X.ndim == 1
        Y = self._apply(np.ascontiguousarray(X[:, None] if vector else X, dtype=np.float32), _threads(threads))
        return Y[:, 0] if vector else Y

    def __matmul__(self, X):
        return self.matmul(X)

    def left_matmul(self, X, threads=None) -> np.ndarray:
        """X @ W for X of shape (r, n) or (n,); float32 result (r, m) or (m,).
        `threads`: None or 0 = all cores (see the module's docstring)."""
        X = _operand(X)
        if X.shape[-1] != self.shape[0]:
            raise ValueError(f"shape mismatch: X @ W with X of shape {X.shape} and the {self.format} matrix W "
                             f"of shape {self.shape}: X needs {self.shape[0]} columns")
        vector = X.ndim == 1
        Y = self._product(np.ascontiguousarray(X[None, :] if vector else X, dtype=np.float32), _threads(threads))
        return Y[0] if vector else Y

    def __rmatmul__(self, X):
        return self.left_matmul(X)

    def _product(self, X, threads):
        raise NotImplementedError

    def _apply(self, X, threads):
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__} {self.shape[0]}x{self.shape[1]}, {self.nbits} bits>"


def _operand(X) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim not in (1, 2):
        raise ValueError(f"X must be a vector or a matrix, got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must hold real numbers, got dtype {X.dtype}")
    return X


def _threads(threads) -> int:
    """`threads` as an int >= 0 (0: all cores)."""
    if threads is None:
        return 0
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"threads must be an integer or None, got {threads!r}")
    if threads < 0:
        raise ValueError(f"threads must be >= 0 (0 or None: all cores), got {threads}")
    return int(threads)


def _blas_threads(threads):
    """A context holding BLAS to `threads` threads (0: BLAS's own default)."""
    if threads == 0:
        return contextlib.nullcontext()
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController
        _BLAS = ThreadpoolController()  # finding the BLAS libraries takes a while: once
    return _BLAS.limit(limits=threads, user_api="blas")


_BLAS = None
_POOL = None


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _split(threads: int, work: int, most: int) -> int:
    """How many threads to use: `threads` (0: all cores), at most `most`, and no more than
    `work` pays for (in units of about a nanosecond, the kernel's min_work_per_thread
    per thread: a pool thread costs some tens of microseconds to wake)."""
    unit = max(1, kernel.min_work_per_thread())
    return max(1, min(threads or _cores(), most, work // unit))


def _run_parts(fn, parts: int) -> list:
    """[fn(0), ..., fn(parts - 1)], part 0 on the calling thread and the others on a thread
    pool (for NumPy and SciPy calls that release the GIL)."""
    if parts <= 1:
        return [fn(0)]
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor
        _POOL = ThreadPoolExecutor(max_workers=max(1, _cores() - 1), thread_name_prefix="hamsham")
    futures = [_POOL.submit(fn, t) for t in range(1, parts)]
    first = fn(0)
    return [first] + [f.result() for f in futures]


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

    def _apply(self, X, threads):
        return self._matrix.apply(X, threads)


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

    def _count_nonzero(self):
        return len(self._arrays["row_index"])  # the code has no zero: every stored value is nonzero


class CSER(_KernelBacked):
    """Compressed Shared Elements Row (Wiedemann et al.) on the columns of W; docs/model.md#formats."""

    format = "cser"
    _FIELDS = ("values", "col_index", "value_index", "value_ptr", "row_ptr")

    def _kernel_matrix(self, arrays):
        return kernel.CserMatrix(*(arrays[f] for f in self._FIELDS), self.shape[0])

    @classmethod
    def encode(cls, W):
        return cls(cser_arrays(W, ValueTable.of(W)), W.shape)

    def _count_nonzero(self):
        values, a = self._arrays["values"], self._arrays
        if not len(values):
            return 0
        listed = np.diff(a["value_ptr"].astype(np.int64))  # rows listed under each value group
        count = int(listed[values[a["value_index"]] != 0].sum())
        if values[0] != 0:  # the background value fills every row not listed
            count += self.shape[0] * self.shape[1] - len(a["col_index"])
        return count


def cser_arrays(W, table: ValueTable) -> dict:
    """CSER's arrays (docs/model.md#formats) of the float32 matrix W whose value table is `table`."""
    n = W.shape[0]
    arrays = kernel.cser_arrays(W, table.values, index_dtype(n), index_dtype(max(table.k, 1)))
    return {"values": table.values, **dict(zip(("col_index", "value_index", "value_ptr", "row_ptr"), arrays))}


class CSC(EncodedMatrix):
    """Compressed sparse column with float32 values (SciPy).

    Products in SciPy, on the columns split into `threads` parts of about equal nonzeros
    (SciPy releases the GIL): X @ W reads each part's arrays as the CSR form of the rows
    of W's transpose and computes (W.T @ X.T).T, about 2.5x faster than SciPy's
    `X @ csc_array` (which converts W first); W @ X sums the parts' csc_array @ X."""

    format = "csc"

    def __init__(self, arrays: dict, shape):
        super().__init__(arrays, shape)
        try:
            self._csc = scipy.sparse.csc_array(
                (arrays["data"], arrays["indices"], arrays["indptr"]), shape=self.shape)
            self._csc.check_format(full_check=True)
        except (ValueError, TypeError) as err:
            raise ValueError(f"invalid CSC structure: {err}") from err
        self._splits = {}

    @classmethod
    def encode(cls, W):
        data, indices, indptr = kernel.csc_arrays(W)  # int32 indices as SciPy's, int64 when needed
        return cls({"data": data, "indices": indices, "indptr": indptr}, W.shape)

    def _count_nonzero(self):
        return np.count_nonzero(self._arrays["data"])

    def _columns(self, start, stop):
        part = self._csc if (start, stop) == (0, self.shape[1]) else self._csc[:, start:stop]
        return np.ascontiguousarray(part.toarray(), np.float32)

    def _parts(self, threads, r):
        """[(j0, j1, data, indices, indptr)]: the columns split into about equal nonzeros,
        for a product with r vectors."""
        n, m = self.shape
        parts = _split(threads, len(self._csc.data) * r, m)
        if parts not in self._splits:
            data, indices, indptr = self._csc.data, self._csc.indices, self._csc.indptr
            cuts = np.searchsorted(indptr, np.linspace(0, indptr[-1], parts + 1)[1:-1])
            bounds = [0, *np.clip(cuts, 0, m).tolist(), m]
            self._splits[parts] = [(j0, j1, data[indptr[j0]:indptr[j1]], indices[indptr[j0]:indptr[j1]],
                                    indptr[j0:j1 + 1] - indptr[j0]) for j0, j1 in zip(bounds, bounds[1:])]
        return self._splits[parts]

    def _product(self, X, threads):
        parts, n = self._parts(threads, X.shape[0]), self.shape[0]
        XT = np.ascontiguousarray(X.T)
        Y = np.empty((self.shape[1], X.shape[0]), np.float32)  # Y.T

        def part(t):
            j0, j1, data, indices, indptr = parts[t]
            Y[j0:j1] = scipy.sparse.csr_array((data, indices, indptr), shape=(j1 - j0, n)) @ XT

        _run_parts(part, len(parts))
        return np.ascontiguousarray(Y.T)

    def _apply(self, X, threads):
        parts, n = self._parts(threads, X.shape[1]), self.shape[0]

        def part(t):
            j0, j1, data, indices, indptr = parts[t]
            return scipy.sparse.csc_array((data, indices, indptr), shape=(n, j1 - j0)) @ X[j0:j1]

        Ys = _run_parts(part, len(parts))
        return Ys[0] if len(Ys) == 1 else np.sum(Ys, axis=0, dtype=np.float64).astype(np.float32)


class IM(EncodedMatrix):
    """Index map: a bitreq(k)-bit index per entry into the table of the k distinct values.

    Products rebuild the dense matrix from the index map (the study's protocol) with
    NumPy's `take`, then multiply in BLAS on `threads` threads. The rebuild stays on one
    thread: a second one competes with OpenBLAS's workers, which spin after each call."""

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

    def _row_blocks(self):
        """Slices of about 1M entries of rows: NumPy turns each block's indices into intp
        (8 bytes an entry), so whole-matrix calls would need twice the dense matrix more."""
        n, m = self.shape
        rows = max(1, (1 << 20) // max(1, m))
        return (slice(start, start + rows) for start in range(0, n, rows))

    def _count_nonzero(self):
        index, values = self._arrays["index"], self._arrays["values"]
        counts = np.zeros(len(values), np.int64)
        for rows in self._row_blocks():
            counts += np.bincount(index[rows].ravel(), minlength=len(values))
        return int(counts[values != 0].sum())

    def _columns(self, start, stop):
        return self._arrays["values"][self._arrays["index"][:, start:stop]]

    def _rebuild(self):
        """The dense matrix, block by block of rows (indices were checked in __init__;
        `clip` spares checking them again; faster than `values[index]`, 27 vs 35 ms on a
        20000 x 1000 matrix, with no index copy of the whole matrix)."""
        index, values = self._arrays["index"], self._arrays["values"]
        W = np.empty(self.shape, np.float32)
        for rows in self._row_blocks():
            values.take(index[rows], mode="clip", out=W[rows])
        return W

    def _product(self, X, threads):
        W = self._rebuild()
        with _blas_threads(threads):
            return X @ W

    def _apply(self, X, threads):
        W = self._rebuild()
        with _blas_threads(threads):
            return W @ X


class Dense(EncodedMatrix):
    """Plain float32; products in BLAS on `threads` threads."""

    format = "dense"
    stores_input = True

    def __init__(self, arrays: dict, shape):
        super().__init__(arrays, shape)
        if arrays["W"].shape != self.shape:
            raise ValueError(f"invalid dense structure: shape {arrays['W'].shape}, expected {self.shape}")

    @classmethod
    def encode(cls, W):
        return cls({"W": W}, W.shape)

    def _count_nonzero(self):
        return np.count_nonzero(self._arrays["W"])

    def _columns(self, start, stop):
        return np.array(self._arrays["W"][:, start:stop], np.float32, order="C")

    def _product(self, X, threads):
        with _blas_threads(threads):
            return X @ self._arrays["W"]

    def _apply(self, X, threads):
        with _blas_threads(threads):
            return self._arrays["W"] @ X


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
