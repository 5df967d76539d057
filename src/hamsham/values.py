"""The distinct values of a matrix, in the study's symbol order, and each entry's symbol.

Symbol order (docs/model.md#value-table-and-symbol-order): most frequent first, ties by ascending value. Negative
zero counts as zero (its sign is not kept: -0.0 and 0.0 are one symbol).
"""
from dataclasses import dataclass

import numpy as np

from hamsham.kernel import kernel


def as_matrix(W, name="W", private=False) -> np.ndarray:
    """`W` as a finite 2-D float32 C-contiguous array, with -0.0 turned into 0.0.

    The matrix is cast to float32 (the study's precision); NaN and Inf are rejected. W itself
    is returned when it needs no change (no copy: the caller's array is never modified), else
    a fixed copy; with `private`, always an array of its own.
    """
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got an array of shape {W.shape}")
    if not (np.issubdtype(W.dtype, np.number) or W.dtype == np.bool_):
        raise ValueError(f"{name} must be numeric, got dtype {W.dtype}")
    if np.iscomplexobj(W):
        raise ValueError(f"{name} is complex; only real matrices are supported")
    own = W.dtype != np.float32 or not W.flags.c_contiguous
    if own:
        with np.errstate(over="ignore"):
            W = np.array(W, dtype=np.float32, order="C")
    non_finite, first, negative_zero = kernel.scan_matrix(W)
    if non_finite:
        raise ValueError(
            f"{name} has {non_finite} non-finite value(s) (NaN, Inf, or too large for float32), "
            f"first at (row, col) = {tuple(int(v) for v in np.unravel_index(first, W.shape))}"
        )
    if (negative_zero or private) and not own:
        W = W.copy()
    if negative_zero:
        W += np.float32(0.0)  # in place: -0.0 + 0.0 == +0.0
    return W


@dataclass(frozen=True)
class ValueTable:
    """Distinct values in symbol order with their counts."""

    values: np.ndarray  # float32[k]
    counts: np.ndarray  # int64[k], non-increasing

    @property
    def k(self) -> int:
        return len(self.values)

    @classmethod
    def of(cls, entries) -> "ValueTable":
        """The table of an array of float32 values (any shape); counted in O(size) by the kernel."""
        return cls.from_counts(*kernel.value_counts(np.ascontiguousarray(entries, np.float32).ravel()))

    @classmethod
    def from_counts(cls, values, counts) -> "ValueTable":
        """The table of `values` (distinct) with `counts`, reordered into symbol order."""
        values = np.asarray(values, np.float32)
        counts = np.asarray(counts, np.int64)
        order = np.lexsort((values, -counts))
        return cls(values[order], counts[order])

    def without_zero(self) -> "ValueTable":
        """The table of the nonzero values (symbol order is kept)."""
        keep = self.values != 0
        return ValueTable(self.values[keep], self.counts[keep])

    def symbols(self, entries, dtype=np.uint32) -> np.ndarray:
        """The symbol index of every entry (unsigned `dtype`), same shape; every entry must be in the table."""
        entries = np.ascontiguousarray(entries, np.float32)
        return kernel.symbolize(entries, self.values, dtype).reshape(entries.shape)


def merge(tables) -> ValueTable:
    """One table for several (the value counts summed): a network's shared code."""
    values = np.concatenate([t.values for t in tables]) if tables else np.zeros(0, np.float32)
    counts = np.concatenate([t.counts for t in tables]) if tables else np.zeros(0, np.int64)
    distinct, inverse = np.unique(values, return_inverse=True)
    merged = np.bincount(inverse, weights=counts, minlength=len(distinct)).astype(np.int64)
    return ValueTable.from_counts(distinct, merged)
