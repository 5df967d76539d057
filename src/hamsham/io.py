"""Load a weight matrix from disk as 2-D float32, and write one as archive-layout CSV.

Formats, chosen by extension (case-insensitive):

* `.csv`, `.txt`: comma-separated dense text, one matrix row per line (a
  1-column matrix may be one value per line). Whitespace around values,
  blank lines and a missing or extra trailing newline are tolerated. The
  text is read in blocks of whole lines (`BLOCK_BYTES`), so memory stays at
  the float32 result plus one block; a line may not exceed `MAX_LINE_BYTES`.
* `.mtx`: Matrix Market, coordinate or array, field real or integer,
  symmetry general, symmetric or skew-symmetric (expanded to the full matrix).
  `pattern` (no values) and `complex` are rejected.
* `.npy`: a 2-D numeric (integer or float) NumPy array; never unpickled.

Rules, the same for every format (any violation raises `InputError` naming
the file and the problem):

* A file that cannot be a matrix of its extension is rejected before it is
  parsed (`sniff_matrix_file`): binary or non-UTF-8 bytes, characters that
  belong to no number, an overlong first line, a `.mtx` without its header.
* A matrix whose loading needs more than `max_bytes` (default: the memory
  this machine has available, `available_memory()`) is rejected before it is
  allocated; the message gives the bytes needed. (For text files the row
  count is bounded by the number of lines, blank ones included.)
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
`convert_to_npy` streams any of these files into a float32 `.npy`.
"""
import codecs
import contextlib
import io
import os
import re
import secrets
import warnings
from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse

from hamsham.errors import InputError
from hamsham.memory import available_bytes

SUPPORTED = (".csv", ".txt", ".mtx", ".npy")
TEXT = (".csv", ".txt")
BLOCK_BYTES = 32 << 20  # text parsed at a time
MAX_LINE_BYTES = 16 << 20  # longest accepted line of text
SNIFF_BYTES = 64 << 10  # head of a text file checked for binary data and foreign characters
MEMORY_MARGIN = 512 << 20  # kept free by the default max_bytes

NON_FINITE = "non-finite value(s) (NaN or Inf)"
OVERFLOW = "value(s) overflow float32 (|x| > 3.4028235e38 rounds to Inf)"
NEWLINE = b"\n"
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FOREIGN = re.compile(r"[^0-9,+\-.eEnNaAiIfFtTyY \t\r\n]")  # no number, comma or blank has it


def load_matrix(path, max_bytes=None) -> np.ndarray:
    """Read the matrix in `path` (see the module docstring for formats and rules)."""
    path = Path(path)
    sniff_matrix_file(path)
    max_bytes = available_memory() if max_bytes is None else max_bytes
    suffix = path.suffix.lower()
    if suffix in TEXT:
        return _read_csv(path, max_bytes)
    values = _read_mtx(path, max_bytes) if suffix == ".mtx" else _read_npy(path, max_bytes)
    return _checked_float32(path, values)


def convert_to_npy(source, dest, max_bytes=None) -> tuple:
    """Write the matrix in `source` to `dest` as a float32 C-order .npy; return (rows, cols).

    Text is streamed block by block (resident memory: one block); `.mtx` and
    `.npy` are loaded whole. `dest` appears atomically (a temporary beside it,
    then renamed); on any error nothing is left. `max_bytes` as for `load_matrix`.
    """
    source, dest = Path(source), Path(dest)
    sniff_matrix_file(source)
    max_bytes = available_memory() if max_bytes is None else max_bytes
    if source.suffix.lower() not in TEXT:
        W = load_matrix(source, max_bytes)
        with _atomic(dest) as tmp, open(tmp, "xb") as f:
            np.save(f, W)
        return W.shape
    rows = 0
    with _atomic(dest) as tmp, open(tmp, "xb") as f:
        for bound, block in _stream_csv(source, max_bytes):
            if not rows:
                cols = block.shape[1]
                header_end = _write_npy_header(f, (bound, cols))
            f.write(block.data)
            rows += len(block)
        if rows != bound:  # blank lines: the header's row count was an upper bound
            f.seek(0)
            if _write_npy_header(f, (rows, cols)) != header_end:
                raise AssertionError("the .npy header changed length")
    return rows, cols


def sniff_matrix_file(path) -> None:
    """Reject within seconds a file that cannot hold a matrix of its extension (`InputError`).

    Checks the extension and that the file exists; for .csv/.txt the first
    `SNIFF_BYTES` (no binary bytes, UTF-8, only characters of numbers, commas
    and blanks) and the first line (at most `MAX_LINE_BYTES`); for .mtx the
    %%MatrixMarket header line. Reads at most `MAX_LINE_BYTES`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise InputError(path, f"unsupported extension {path.suffix!r}; supported: {', '.join(SUPPORTED)}")
    if not path.exists():
        raise InputError(path, "no such file")
    if not path.is_file():
        raise InputError(path, "not a regular file")
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
        if suffix == ".mtx" and not head.startswith(b"%%MatrixMarket"):
            raise InputError(path, "missing the '%%MatrixMarket' header line: not a Matrix Market file")
        if suffix in TEXT:
            _sniff_text(path, head.removeprefix(codecs.BOM_UTF8), len(head) == SNIFF_BYTES)
            newline = head.find(b"\n")
            length = len(head) if newline < 0 else newline
            while newline < 0 and length <= MAX_LINE_BYTES and (chunk := f.read(1 << 20)):
                newline = chunk.find(b"\n")
                length += len(chunk) if newline < 0 else newline
            if length > MAX_LINE_BYTES:
                raise InputError(path, f"line 1 is longer than {MAX_LINE_BYTES} bytes: "
                                       "not one matrix row per line")


def available_memory(margin=MEMORY_MARGIN) -> int:
    """Bytes a load may use: what is free now (`hamsham.memory.available_bytes`) minus `margin`."""
    return max(0, available_bytes() - margin)


# save_matrix_csv formats each value once when a matrix holds at most this many.
FEW_DISTINCT = 1 << 16


def save_matrix_csv(W, path) -> Path:
    """Write `W` as comma-separated float32 text that `load_matrix` reads back bit for bit.

    `W` must satisfy the module's rules. The file appears atomically: it is
    written beside `path` under a temporary name, then renamed.
    """
    path = Path(path)
    if path.suffix.lower() not in TEXT:
        raise InputError(path, "save_matrix_csv writes .csv or .txt files only")
    W = _checked_float32(path, np.asarray(W))
    with _atomic(path) as tmp, open(tmp, "x", encoding="ascii", newline="\n") as f:
        distinct, index = np.unique(W, return_inverse=True)
        negative_zero = bool(np.signbit(W[W == 0]).any())  # unique() merges it with 0
        if distinct.size <= FEW_DISTINCT and not negative_zero:
            # Pruned and quantized layers hold few values: format each once (the
            # same text as savetxt's, several times faster).
            text = np.array(["%.9g" % v for v in distinct])
            index = index.reshape(W.shape)
            f.writelines(",".join(text[row]) + "\n" for row in index)
        else:
            np.savetxt(f, W, fmt="%.9g", delimiter=",")  # 9 significant digits round-trip float32
        f.flush()
        os.fsync(f.fileno())
    return path


@contextlib.contextmanager
def _atomic(path):
    """Yield a temporary path beside `path`; rename it to `path` if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_npy_header(f, shape):
    """Write a float32 C-order .npy header at f's position; return the offset where data starts."""
    np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                                             "fortran_order": False, "shape": shape})
    return f.tell()


def _check_size(path, shape, needed, max_bytes):
    """Reject loading a `shape` matrix that needs `needed` bytes, beyond `max_bytes`."""
    if needed > max_bytes:
        raise InputError(path, f"needs {needed} bytes ({needed / 2**30:.1f} GiB) to load as a dense "
                               f"{shape[0]} x {shape[1]} float32 matrix; at most {max_bytes} bytes "
                               "may be used")


# ---- text ----------------------------------------------------------------------------------

def _sniff_text(path, head, truncated):
    """Check the head of a text file: no binary bytes, UTF-8, only number characters."""
    binary = _BINARY.search(head)
    if binary:
        raise InputError(path, f"holds binary data (byte 0x{head[binary.start()]:02x} at offset "
                               f"{binary.start()}): not comma-separated text")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as err:
        if not (truncated and err.reason == "unexpected end of data"):  # a character cut at the end
            _raise_not_utf8(path, head, 1, err)
        text = head[:err.start].decode("utf-8")
    foreign = _FOREIGN.search(text)
    if foreign:
        raise InputError(path, _cell_problem(text, foreign.start()))


def _cell_problem(text, position):
    """Describe the cell of CSV `text` holding `position` as not a number, by line and column."""
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    line = text[start:] if end < 0 else text[start:end]
    column = line.count(",", 0, position - start)
    cell = line.split(",")[column]
    number = text.count("\n", 0, position) + 1
    return f"line {number}, column {column + 1}: {cell.strip()!r} is not a number"


def _raise_not_utf8(path, data, lineno, err):
    raise InputError(path, f"not UTF-8 text ({err.reason}) on line "
                           f"{lineno + data.count(NEWLINE, 0, err.start)}") from None


def _count_lines(path):
    """Number of lines of the file, a last one without newline included: bounds its rows."""
    lines = 1
    with open(path, "rb") as f:
        while chunk := f.read(16 << 20):
            lines += chunk.count(b"\n")
    return lines


def _line_blocks(path):
    """Yield (line number, text) for runs of whole lines of about `BLOCK_BYTES`; a BOM is dropped."""
    lineno, carry = 1, b""
    with open(path, "rb") as f:
        chunk = f.read(BLOCK_BYTES).removeprefix(codecs.BOM_UTF8)
        while chunk:
            data = carry + chunk if carry else chunk
            cut = data.rfind(b"\n") + 1
            carry = data[cut:]
            if len(carry) > MAX_LINE_BYTES:
                raise InputError(path, f"line {lineno + data.count(NEWLINE, 0, cut)} is longer than "
                                       f"{MAX_LINE_BYTES} bytes: not one matrix row per line")
            if cut:
                text = data[:cut]
                del data
                yield lineno, text
                lineno += text.count(b"\n")
            chunk = f.read(BLOCK_BYTES)
        if carry:
            yield lineno, carry


def _stream_csv(path, max_bytes):
    """Yield (row bound, float32 rows) per block of a .csv/.txt file, the module's rules checked.

    The row bound (the line count) is the same for every block; NaN/Inf and
    overflow are counted over the whole file and raised after the last block.
    """
    bound = _count_lines(path)
    violations = _Violations()
    expected = None  # (columns, line number of the first row)
    rows = 0
    for lineno, text in _line_blocks(path):
        block = _parse_block(path, lineno, text, expected, np.float32)
        if not len(block):
            continue
        if expected is None:
            blank = len(text) - len(text.lstrip())
            expected = (block.shape[1], lineno + text.count(b"\n", 0, blank))
            _check_size(path, (bound, expected[0]), bound * expected[0] * 4, max_bytes)
        if not np.isfinite(block).all():  # NaN, Inf or overflow: locate them in float64
            values = _parse_block(path, lineno, text, expected, np.float64)
            violations.add(NON_FINITE, ~np.isfinite(values), values, rows)
            with np.errstate(over="ignore"):
                violations.add(OVERFLOW, np.isinf(values.astype(np.float32)), values, rows)
        yield bound, block
        rows += len(block)
    violations.check(path)
    if expected is None:
        raise InputError(path, "has no entries: the file is empty or blank")


def _read_csv(path, max_bytes):
    W, rows = None, 0
    for bound, block in _stream_csv(path, max_bytes):
        if W is None:
            W = np.empty((bound, block.shape[1]), np.float32)  # pages never written stay unallocated
        W[rows:rows + len(block)] = block
        rows += len(block)
    if rows != len(W):
        W.resize((rows, W.shape[1]), refcheck=False)  # shrinks in place
    return W


def _parse_block(path, lineno, text, expected, dtype):
    """Parse whole lines of CSV text starting at line `lineno` into a 2-D array of `dtype`.

    The fast parse reads the text as is; whitespace-only lines need a second
    parse without them; any other failure is located by line and column.
    """
    if not text.isascii():
        try:
            text.decode("utf-8")
        except UnicodeDecodeError as err:
            _raise_not_utf8(path, text, lineno, err)
    error = None
    for as_is in (True, False):
        attempt = text if as_is else b"\n".join(line for line in text.split(b"\n") if line.strip())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
                block = np.loadtxt(io.BytesIO(attempt), delimiter=",", dtype=dtype, comments=None, ndmin=2)
        except ValueError as err:
            error = err
            continue
        if expected is None or not len(block) or block.shape[1] == expected[0]:
            return block
    raise InputError(path, _csv_problem(text, lineno, expected) or f"not comma-separated numbers: {error}")


def _csv_problem(text, lineno, expected):
    """Locate the first ragged row or non-numeric cell of a block by line number."""
    for number, line in enumerate(text.decode("utf-8").split("\n"), lineno):
        if not line.strip():
            continue
        cells = line.split(",")
        if expected is None:
            expected = (len(cells), number)
        elif len(cells) != expected[0]:
            return f"line {number} has {len(cells)} values, expected {expected[0]} (as on line {expected[1]})"
        for column, cell in enumerate(cells, 1):
            try:
                float(cell)
            except ValueError:
                return f"line {number}, column {column}: {cell.strip()!r} is not a number"
    return None


# ---- Matrix Market and NumPy ---------------------------------------------------------------

def _read_mtx(path, max_bytes):
    try:
        rows, cols, entries, fmt, field, _ = scipy.io.mminfo(path)
    except ValueError as err:
        raise InputError(path, f"invalid Matrix Market header: {err}") from None
    if field == "pattern":
        raise InputError(path, "Matrix Market field 'pattern' stores positions only; "
                               "a real or integer field is needed (values are required)")
    if field == "complex":
        raise InputError(path, "Matrix Market field 'complex' is unsupported (real or integer only)")
    if fmt == "coordinate" and entries > rows * cols:
        raise InputError(path, f"declares {entries} entries for a {rows} x {cols} matrix")
    # Reading holds float64 values (with int64 coordinates, doubled by symmetry) besides the result.
    needed = rows * cols * 4 + (48 * entries if fmt == "coordinate" else rows * cols * 8)
    _check_size(path, (rows, cols), needed, max_bytes)
    try:
        matrix = scipy.io.mmread(path)
    except (ValueError, OverflowError) as err:
        raise InputError(path, f"invalid Matrix Market file: {err}") from None
    if not scipy.sparse.issparse(matrix):
        return matrix
    matrix = matrix.tocoo()
    matrix.sum_duplicates()  # repeated coordinates add up, as in scipy's toarray()
    values = _to_float32(path, matrix.data, matrix.row, matrix.col)
    return scipy.sparse.coo_matrix((values, (matrix.row, matrix.col)), shape=matrix.shape).toarray()


def _read_npy(path, max_bytes):
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}[version]
            shape, _, dtype = read_header(f)
    except (ValueError, OSError, EOFError, KeyError):
        pass  # np.load below names the problem
    else:
        if len(shape) == 2:  # loading holds the array as stored and its float32 copy
            size = shape[0] * shape[1]
            _check_size(path, shape, size * (4 + (0 if dtype == np.float32 else dtype.itemsize)), max_bytes)
    try:
        values = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise InputError(path, f"not a readable .npy file: {err}") from None
    if not isinstance(values, np.ndarray):
        raise InputError(path, "holds an .npz archive, not a single .npy array")
    if values.dtype.kind == "c":
        raise InputError(path, f"complex dtype {values.dtype} is unsupported")
    return values


# ---- rules ---------------------------------------------------------------------------------

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
    violations = _Violations()
    if values.dtype.kind == "f":
        violations.add(NON_FINITE, ~np.isfinite(values), values, 0, rows, cols)
        violations.check(path)
    with np.errstate(over="ignore"):
        cast = values.astype(np.float32, copy=False)
    violations.add(OVERFLOW, np.isinf(cast), values, 0, rows, cols)
    violations.check(path)
    return cast


class _Violations:
    """Counts of NaN/Inf and of float32 overflow, each with its first position and value."""

    def __init__(self):
        self.found = {}  # kind -> (count, (1-based row, 1-based column, value))

    def add(self, kind, mask, values, row_offset, rows=None, cols=None):
        """Count `mask` over `values` (dense rows from `row_offset`, or sparse at `rows`, `cols`)."""
        count = int(np.count_nonzero(mask))
        if not count:
            return
        first = int(np.argmax(mask.ravel()))
        if rows is None:
            i, j = np.unravel_index(first, values.shape)
            i += row_offset
        else:
            i, j = rows[first], cols[first]
        total, where = self.found.get(kind, (0, (int(i) + 1, int(j) + 1, float(values.ravel()[first]))))
        self.found[kind] = (total + count, where)

    def check(self, path):
        for kind in (NON_FINITE, OVERFLOW):
            if kind in self.found:
                count, (i, j, value) = self.found[kind]
                raise InputError(path, f"{count} {kind}; first at row {i}, column {j} (1-based): {value!r}")
