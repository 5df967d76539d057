"""The study's space (bits per entry) and energy (pJ per entry) model, exactly as docs/model.md states it.

`paper_space(W)` / `paper_energy(W)` for one matrix; `network_space(layers)` /
`network_energy(layers)` for the dense layers of one network, which share one
HAM code and one sHAM code. A single matrix is a network of one layer, so both
forms are one computation. Terms marked "(sic)" in docs/model.md#energy are kept as printed.

Choices where the paper's model is silent or breaks (documented in README):
* k = 1: the symbol gets a 1-bit code (see `hamsham.huffman`);
* an empty sHAM code (all-zero matrix) takes no space and no energy of its own;
* networks: CSC, IM, CSER and dense figures are each layer's own figure
  (IM with the layer's own k), averaged weighted by entries;
* sHAM-ub is the per-matrix bound of docs/model.md#space with the code bound counted once
  per network ("sHAM-ub (per-matrix form)");
* `rw` is defined for 8, 16 and 32-bit accesses only; a wider one (e.g. a
  matrix with 2**32 or more nonzeros) raises ValueError.
"""
import math
from dataclasses import dataclass

import numpy as np

from hamsham.bits import bitreq
from hamsham.huffman import HuffmanCode, code_ub_space
from hamsham.kernel import kernel
from hamsham.values import ValueTable, as_matrix, merge

ADD = {8: 0.2, 16: 0.4, 32: 0.9}
MUL = {8: 0.6, 16: 1.1, 32: 3.7}
_ACCESS = [  # (largest size in KiB, cost per access width)
    (8, {8: 1.25, 16: 2.5, 32: 5.0}),
    (32, {8: 2.5, 16: 5.0, 32: 10.0}),
    (1024, {8: 12.5, 16: 25.0, 32: 50.0}),
    (math.inf, {8: 250.0, 16: 500.0, 32: 1000.0}),
]


def rw(length, bits) -> float:
    """Energy of one access to an array of `length` items of `bits` bits."""
    if bits not in (8, 16, 32):
        raise ValueError(f"the energy model defines 8, 16 and 32-bit accesses only, not {bits}-bit")
    kb = length * bits / (8 * 1024)
    return next(cost[bits] for limit, cost in _ACCESS if kb <= limit)


@dataclass(frozen=True)
class CserCounts:
    """Array lengths of the CSER structure of a matrix, and avg_k."""

    values: int  # |O|
    col_index: int  # |colI|
    value_index: int  # |OI|
    value_ptr: int  # |OPtr|
    row_ptr: int  # |rowPtr|
    extra_values: int  # m * avg_k = sum over columns of (distinct values in the column - 1)


@dataclass(frozen=True)
class LayerStats:
    """What the model needs of one matrix."""

    n: int
    m: int
    nnz: int
    table: ValueTable  # all values, zero included
    nz_table: ValueTable  # nonzero values
    cser: CserCounts

    @property
    def nm(self) -> int:
        return self.n * self.m

    @classmethod
    def of(cls, W) -> "LayerStats":
        W = as_matrix(W)
        n, m = W.shape
        if n * m == 0:
            raise ValueError(f"the model needs a matrix with entries, got shape {W.shape}")
        table = ValueTable.of(W)
        nnz = n * m - int(table.counts[table.values == 0].sum())
        return cls(n, m, nnz, table, table.without_zero(), _cser_counts(W, table))


def _cser_counts(W: np.ndarray, table: ValueTable) -> CserCounts:
    """The CSER array lengths of W, counted by the kernel without building the arrays."""
    listed, groups, columns_with_background = kernel.cser_counts(W, table.values)
    m = W.shape[1]
    return CserCounts(
        values=table.k,
        col_index=listed,
        value_index=groups,  # (column, value != O[0]) pairs
        value_ptr=groups + 1,
        row_ptr=m + 1,
        extra_values=groups + columns_with_background - m,
    )


@dataclass(frozen=True)
class _Coded:
    """A layer's entries under a (possibly shared) code: bits, N words, D long entries."""

    bits: int
    words: int
    long_entries: int

    @classmethod
    def of(cls, code: HuffmanCode, table: ValueTable) -> "_Coded":
        if table.k == 0:
            return cls(0, 0, 0)
        lengths = code.lengths[code.table.symbols(table.values)].astype(np.int64)
        bits = int(np.dot(lengths, table.counts))
        return cls(bits, -(-bits // 32), int(table.counts[lengths > code.t].sum()))


def _shared_codes(layers):
    ham = HuffmanCode.of(merge([layer.table for layer in layers]))
    sham = HuffmanCode.of(merge([layer.nz_table for layer in layers]))
    return ham, sham


def _stats(layers):
    stats = [layer if isinstance(layer, LayerStats) else LayerStats.of(layer) for layer in layers]
    if not stats:
        raise ValueError("a network needs at least one layer")
    return stats


def network_space(layers) -> dict:
    """Bits per entry of each format for the layers of one network (one shared code)."""
    stats = _stats(layers)
    ham, sham = _shared_codes(stats)
    total = sum(s.nm for s in stats)

    def weighted(psi):
        return sum(psi(s) * s.nm for s in stats) / total

    ham_bits = sum(32 * _Coded.of(ham, s.table).words for s in stats) + ham.space_bits()
    sham_bits = sum(
        32 * _Coded.of(sham, s.nz_table).words + s.nnz * bitreq(s.n) + s.m * bitreq(s.n) for s in stats
    ) + sham.space_bits()
    return {
        "HAM": ham_bits / total,
        "sHAM": sham_bits / total,
        "CSC": weighted(lambda s: s.nnz / s.nm * (32 + bitreq(s.n)) + bitreq(s.n) / s.n),
        "IM": weighted(lambda s: bitreq(s.table.k) + 32 * s.table.k / s.nm),
        "CSER": weighted(_cser_space),
        "dense": 32.0,
        "HAM-ub": 1 + math.log2(ham.k) + code_ub_space(ham.k) / total,
        "sHAM-ub": weighted(lambda s: s.nnz / s.nm * (1 + bitreq(sham.k) + bitreq(s.n)) + bitreq(s.n) / s.n)
        + code_ub_space(sham.k) / total,
    }


def _cser_space(s: LayerStats) -> float:
    c = s.cser
    bits = (
        32 * c.values
        + c.col_index * bitreq(s.n)
        + c.value_index * bitreq(c.values)
        + c.value_ptr * bitreq(c.col_index)
        + c.row_ptr * bitreq(c.value_ptr)
    )
    return bits / s.nm


def network_energy(layers) -> dict:
    """Picojoules per entry of one vector-matrix product, per format, for one network."""
    stats = _stats(layers)
    ham, sham = _shared_codes(stats)
    total = sum(s.nm for s in stats)
    per_layer = [_layer_energy(s, ham, sham) for s in stats]
    return {fmt: sum(e[fmt] * s.nm for e, s in zip(per_layer, stats)) / total for fmt in per_layer[0]}


def _log2_or_zero(x):
    return math.log2(x) if x > 0 else 0.0


def _layer_energy(s: LayerStats, ham: HuffmanCode, sham: HuffmanCode) -> dict:
    n, m, nm, snm = s.n, s.m, s.nm, float(s.nnz)
    A32, M32 = ADD[32], MUL[32]
    multiply_add = (A32 + M32 + rw(n, 32)) * snm
    output = rw(m, 32) * m

    h = _Coded.of(ham, s.table)
    bl = bitreq(ham.lmax)
    ham_pj = (
        rw(ham.k, 32)
        + nm  # (sic)
        + rw(h.words, 32) * h.words
        + (rw(2**ham.t, bl) * nm if ham.t > 0 else 0.0)
        + rw(ham.lmax + 2, bl) * (nm + h.long_entries * _log2_or_zero(ham.lmax))
        + multiply_add
        + output
    )

    z = _Coded.of(sham, s.nz_table)
    bl1 = bitreq(sham.lmax)
    sham_pj = (
        rw(sham.k, 32) * snm
        + rw(z.words, 32) * z.words
        + rw(sham.lmax + 2, bl1) * (snm + z.long_entries * _log2_or_zero(sham.lmax))
        + (rw(2**sham.t, bl1) * snm if sham.t > 0 else 0.0)
        + multiply_add
        + rw(snm, bitreq(m)) * snm
        + output
    )

    c = s.cser
    cser_pj = (
        (A32 + rw(n, 32) + rw(snm, bitreq(n))) * snm
        + (A32 + M32 + rw(c.value_ptr, bitreq(snm))) * c.extra_values
        + rw(c.values, bitreq(c.values)) * c.extra_values
        + (rw(m, 32) + rw(c.row_ptr, bitreq(c.value_ptr))) * m
    )

    csc_pj = (
        (A32 + M32) * snm
        + (rw(snm, bitreq(n)) + rw(snm, 32) + rw(n, 32)) * snm
        + rw(snm, bitreq(n)) * nm  # (sic)
        + rw(m, 32) * nm  # (sic)
    )

    k = s.table.k
    im_pj = (rw(k, 32) + rw(nm, bitreq(k))) * nm + multiply_add + output

    return {fmt: pj / nm for fmt, pj in
            {"HAM": ham_pj, "sHAM": sham_pj, "CSC": csc_pj, "IM": im_pj, "CSER": cser_pj}.items()}


def paper_space(W) -> dict:
    """Bits per entry of W in each format (keys HAM, sHAM, CSC, IM, CSER, dense, HAM-ub, sHAM-ub).

    W may be a matrix or its `LayerStats` (to share the statistics with `paper_energy`)."""
    return network_space([W])


def paper_energy(W) -> dict:
    """Picojoules per entry of one vector-W product (keys HAM, sHAM, CSC, IM, CSER)."""
    return network_energy([W])
