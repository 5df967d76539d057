"""COO (coordinate list), a format added the way README "Extending" says: this one
module (its class, its model terms and the measure its space term reads) and one
entry in hamsham.catalogue. It is not one of the study's formats.

tests/test_extending.py copies it into a copy of the workflow as src/hamsham/coo.py
and adds its catalogue entry (`ENTRY` below); nothing else of the copy changes.
"""
import numpy as np

from hamsham.bits import bitreq, index_dtype
from hamsham.formats import EncodedMatrix
from hamsham.model import ADD, MUL, rw

# The line that goes into hamsham.catalogue.FORMATS.
ENTRY = ('Format("COO", "coo", "hamsham.coo:COO", "numpy", space="hamsham.coo:coo_space", '
         'energy="hamsham.coo:coo_energy", measure="hamsham.coo:coo_measure", study=False),')


class COO(EncodedMatrix):
    """The nonzeros as (row, column, float32 value) triples, column by column."""

    format = "coo"

    def __init__(self, arrays: dict, shape):
        super().__init__(arrays, shape)
        rows, cols, values = arrays["rows"], arrays["cols"], arrays["values"]
        if not len(rows) == len(cols) == len(values):
            raise ValueError("invalid COO structure: rows, cols and values differ in length")
        if len(rows) and (int(rows.max()) >= self.shape[0] or int(cols.max()) >= self.shape[1]):
            raise ValueError(f"invalid COO structure: an index beyond the shape {self.shape}")

    @classmethod
    def encode(cls, W):
        cols, rows = np.nonzero(W.T)  # column by column
        return cls({"rows": rows.astype(index_dtype(W.shape[0])), "cols": cols.astype(index_dtype(W.shape[1])),
                    "values": W[rows, cols]}, W.shape)

    def _columns(self, start, stop):
        rows, cols, values = self._arrays["rows"], self._arrays["cols"], self._arrays["values"]
        keep = (cols >= start) & (cols < stop)
        out = np.zeros((self.shape[0], stop - start), np.float32)
        out[rows[keep], cols[keep].astype(np.int64) - start] = values[keep]
        return out

    def _product(self, X, threads):
        rows, cols, values = self._arrays["rows"], self._arrays["cols"], self._arrays["values"]
        Y = np.zeros((self.shape[1], X.shape[0]), np.float64)  # (X @ W) transposed
        np.add.at(Y, cols, (X[:, rows] * values).T)
        return np.ascontiguousarray(Y.T, dtype=np.float32)


def coo_measure(W) -> dict:
    """What COO stores of W: the bits of its encoding (a float32 value, a row index and a
    column index per nonzero)."""
    return {"bits": COO.encode(W).nbits}


def coo_space(net) -> float:
    """Bits per entry: the measured bits of the layers' encodings over their entries."""
    return sum(s.measured["COO"]["bits"] for s in net.layers) / net.total


def coo_energy(s, net) -> float:
    """Picojoules of x @ W: per nonzero, read its triple and x[row], multiply, add into y[col]."""
    nnz = float(s.nnz)
    reads = rw(nnz, bitreq(s.n)) + rw(nnz, bitreq(s.m)) + rw(nnz, 32) + rw(s.n, 32) + 2 * rw(s.m, 32)
    return (ADD[32] + MUL[32] + reads) * nnz
