"""Load a weight matrix from disk as 2-D float32, and write one as archive-layout CSV.

Formats, chosen by extension (case-insensitive):

* `.csv`, `.txt`: comma-separated dense text, one matrix row per line (a
  1-column matrix may be one value per line). Whitespace around values,
  blank lines and a missing or extra trailing newline are tolerated.
* `.mtx`: Matrix Market, coordinate or array, field real or integer,
  symmetry general, symmetric or skew-symmetric (expanded to the full matrix).
  `pattern` (no values) and `complex` are rejected.
* `.npy`: a 2-D numeric (integer or float) NumPy array; never unpickled.

Rules, the same for every format (any violation raises `InputError` naming
the file and the problem):

* NaN or +-Inf anywhere is rejected (the message gives the count and the
  first position, 1-based row and column).
* Values are read as float64 and cast to float32, as the study loads them. A
  value that overflows float32 (|x| beyond float32 max, 3.4028235e38, by
  enough to round to Inf) is rejected; values that merely round in float32
  (including float32 max written with 9 digits, and underflow to zero) are
  accepted.
* A matrix with no entries (0 rows or 0 columns) is rejected; 1 x 1 is fine.
* Negative zero is kept as read (the library treats it as zero).

The result is always a C-contiguous float32 `numpy.ndarray` of 2 dimensions.
"""
import os
import secrets
import warnings
from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse

from hamsham.errors import InputError

SUPPORTED = (".csv", ".txt", ".mtx", ".npy")


def load_matrix(path) -> np.ndarray:
    """Read the matrix in `path` (see the module docstring for formats and rules)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise InputError(path, f"unsupported extension {path.suffix!r}; supported: {', '.join(SUPPORTED)}")
    if not path.exists():
        raise InputError(path, "no such file")
    if not path.is_file():
        raise InputError(path, "not a regular file")
    if suffix == ".mtx":
        values = _read_mtx(path)
    elif suffix == ".npy":
        values = _read_npy(path)
    else:
        values = _read_csv(path)
    return _checked_float32(path, values)


def save_matrix_csv(W, path) -> Path:
    """Write `W` as comma-separated float32 text that `load_matrix` reads back bit for bit.

    `W` must satisfy the module's rules. The file appears atomically: it is
    written beside `path` under a temporary name, then renamed.
    """
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".txt"):
        raise InputError(path, "save_matrix_csv writes .csv or .txt files only")
    W = _checked_float32(path, np.asarray(W))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "x", encoding="ascii", newline="\n") as f:
            np.savetxt(f, W, fmt="%.9g", delimiter=",")  # 9 significant digits round-trip float32
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _read_csv(path):
    try:
        with open(path, encoding="utf-8-sig") as f, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": reported below
            # Blank lines are skipped here so that only real rows reach the C parser.
            values = np.loadtxt((line for line in f if line.strip()), delimiter=",",
                                dtype=np.float64, comments=None, ndmin=2)
    except UnicodeDecodeError as err:
        raise InputError(path, f"not UTF-8 text ({err.reason})") from None
    except ValueError as err:
        raise InputError(path, _csv_problem(path) or f"not comma-separated numbers: {err}") from None
    if values.size == 0:
        raise InputError(path, "has no entries: the file is empty or blank")
    return values


def _csv_problem(path):
    """Locate the first ragged row or non-numeric cell by line number (runs only after a failure)."""
    expected = None
    with open(path, encoding="utf-8-sig") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            cells = line.split(",")
            if expected is None:
                expected, first = len(cells), lineno
            elif len(cells) != expected:
                return f"line {lineno} has {len(cells)} values, expected {expected} (as on line {first})"
            for column, cell in enumerate(cells, 1):
                try:
                    float(cell)
                except ValueError:
                    return f"line {lineno}, column {column}: {cell.strip()!r} is not a number"
    return None


def _read_mtx(path):
    with open(path, "rb") as f:
        banner = f.readline(200)
    if not banner.startswith(b"%%MatrixMarket"):
        raise InputError(path, "missing the '%%MatrixMarket' header line: not a Matrix Market file")
    try:
        field = scipy.io.mminfo(path)[4]
    except ValueError as err:
        raise InputError(path, f"invalid Matrix Market header: {err}") from None
    if field == "pattern":
        raise InputError(path, "Matrix Market field 'pattern' stores positions only; "
                               "a real or integer field is needed (values are required)")
    if field == "complex":
        raise InputError(path, "Matrix Market field 'complex' is unsupported (real or integer only)")
    try:
        matrix = scipy.io.mmread(path)
    except (ValueError, OverflowError) as err:
        raise InputError(path, f"invalid Matrix Market file: {err}") from None
    if not scipy.sparse.issparse(matrix):
        return matrix
    matrix = matrix.tocoo()
    matrix.sum_duplicates()  # repeated coordinates add up, as in scipy's toarray()
    values = _to_float32(path, matrix.data, matrix.row, matrix.col)
    try:
        return scipy.sparse.coo_matrix((values, (matrix.row, matrix.col)), shape=matrix.shape).toarray()
    except (MemoryError, ValueError):
        raise InputError(path, f"{matrix.shape[0]} x {matrix.shape[1]} is too large to hold "
                               "as a dense float32 matrix") from None


def _read_npy(path):
    try:
        values = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise InputError(path, f"not a readable .npy file: {err}") from None
    if not isinstance(values, np.ndarray):
        raise InputError(path, "holds an .npz archive, not a single .npy array")
    if values.dtype.kind == "c":
        raise InputError(path, f"complex dtype {values.dtype} is unsupported")
    return values


def _checked_float32(path, values):
    """Apply the module's rules to a 2-D array and return it as C-contiguous float32."""
    if values.ndim != 2:
        raise InputError(path, f"expected a 2-D matrix, got {values.ndim} dimension(s) "
                               f"(shape {values.shape})")
    if values.size == 0:
        raise InputError(path, f"has no entries (shape {values.shape[0]} x {values.shape[1]})")
    if values.dtype.kind not in "iuf":
        raise InputError(path, f"dtype {values.dtype} is not numeric (integer or float needed)")
    return np.ascontiguousarray(_to_float32(path, values))


def _to_float32(path, values, rows=None, cols=None):
    """Cast to float32, rejecting NaN/Inf and overflow; `rows`/`cols` locate sparse values."""
    if values.dtype.kind == "f":
        _reject(path, values, ~np.isfinite(values), "non-finite value(s) (NaN or Inf)", rows, cols)
    with np.errstate(over="ignore"):
        cast = values.astype(np.float32, copy=False)
    _reject(path, values, np.isinf(cast), "value(s) overflow float32 (|x| > 3.4028235e38 rounds to Inf)",
            rows, cols)
    return cast


def _reject(path, values, mask, what, rows, cols):
    if not mask.any():
        return
    first = int(np.argmax(mask.ravel()))
    if rows is None:
        i, j = np.unravel_index(first, values.shape)
    else:
        i, j = rows[first], cols[first]
    raise InputError(path, f"{int(mask.sum())} {what}; first at row {i + 1}, column {j + 1} "
                           f"(1-based): {float(values.ravel()[first])!r}")
