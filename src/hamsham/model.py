"""The study's space (bits per entry) and energy (pJ per entry) model, exactly as docs/model.md states it.

`paper_space(W)` / `paper_energy(W)` for one matrix; `network_space(layers)` /
`network_energy(layers)` for the dense layers of one network, which share one
HAM code and one sHAM code. A single matrix is a network of one layer, so both
forms are one computation. Terms marked "(sic)" in docs/model.md#energy are kept as printed.
Each format's terms are the functions its hamsham.catalogue entry names: a space
term takes the `Network` (bits per entry), an energy term one layer and its
`Network` (picojoules of one vector-matrix product with that layer). A format
whose terms need statistics of its own encoding names a `measure` function; each
layer keeps its results (`LayerStats.measured`). The study's formats measure nothing.

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
from dataclasses import dataclass, field

import numpy as np

from hamsham import catalogue
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
    # format name -> what its catalogue `measure` function gave for this matrix
    measured: dict = field(default_factory=dict, compare=False)

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
        return cls(n, m, nnz, table, table.without_zero(), _cser_counts(W, table), _measured(W))


def _measured(W: np.ndarray) -> dict:
    """Each catalogue format's `measure` of W: {format name: {statistic: value}}."""
    return {f.name: {key: float(value) for key, value in f.load("measure")(W).items()}
            for f in catalogue.FORMATS if f.measure}


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


@dataclass(frozen=True)
class Network:
    """The layers of one network and the codes they share: what the model terms read."""

    layers: tuple  # of LayerStats
    ham: HuffmanCode  # one HAM code over the values of all the layers
    sham: HuffmanCode  # one sHAM code over their nonzero values

    @property
    def total(self) -> int:
        return sum(s.nm for s in self.layers)

    def weighted(self, psi) -> float:
        """The per-layer figure psi(layer), averaged weighted by entries."""
        return sum(psi(s) * s.nm for s in self.layers) / self.total

    @classmethod
    def of(cls, layers) -> "Network":
        stats = tuple(layer if isinstance(layer, LayerStats) else LayerStats.of(layer) for layer in layers)
        if not stats:
            raise ValueError("a network needs at least one layer")
        ham = HuffmanCode.of(merge([s.table for s in stats]))
        sham = HuffmanCode.of(merge([s.nz_table for s in stats]))
        return cls(stats, ham, sham)


def network_space(layers) -> dict:
    """Bits per entry of each format for the layers of one network (one shared code).

    Keys: the formats of hamsham.catalogue with a space model, then their upper bounds."""
    net = Network.of(layers)
    space = {f.name: f.load("space")(net) for f in catalogue.FORMATS if f.space}
    space.update({f.bound_name: f.load("bound")(net) for f in catalogue.FORMATS if f.bound})
    return space


def network_energy(layers) -> dict:
    """Picojoules per entry of one vector-matrix product, per format, for one network.

    Keys: the formats of hamsham.catalogue with an energy model."""
    net = Network.of(layers)
    terms = {f.name: f.load("energy") for f in catalogue.FORMATS if f.energy}
    per_layer = [{name: term(s, net) / s.nm for name, term in terms.items()} for s in net.layers]
    return {name: sum(e[name] * s.nm for e, s in zip(per_layer, net.layers)) / net.total for name in terms}


# ------------------------------------------------------------------ space terms
# Each takes the Network and returns its bits per entry.


def ham_space(net: Network) -> float:
    return (sum(32 * _Coded.of(net.ham, s.table).words for s in net.layers) + net.ham.space_bits()) / net.total


def sham_space(net: Network) -> float:
    bits = sum(
        32 * _Coded.of(net.sham, s.nz_table).words + s.nnz * bitreq(s.n) + s.m * bitreq(s.n) for s in net.layers
    ) + net.sham.space_bits()
    return bits / net.total


def csc_space(net: Network) -> float:
    return net.weighted(lambda s: s.nnz / s.nm * (32 + bitreq(s.n)) + bitreq(s.n) / s.n)


def im_space(net: Network) -> float:
    return net.weighted(lambda s: bitreq(s.table.k) + 32 * s.table.k / s.nm)


def cser_space(net: Network) -> float:
    return net.weighted(_cser_space)


def dense_space(net: Network) -> float:
    return 32.0


def ham_ub_space(net: Network) -> float:
    return 1 + math.log2(net.ham.k) + code_ub_space(net.ham.k) / net.total


def sham_ub_space(net: Network) -> float:
    k = net.sham.k
    return (net.weighted(lambda s: s.nnz / s.nm * (1 + bitreq(k) + bitreq(s.n)) + bitreq(s.n) / s.n)
            + code_ub_space(k) / net.total)


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


# ----------------------------------------------------------------- energy terms
# Each takes one layer (LayerStats) and its Network, and returns the picojoules of
# one vector-matrix product with that layer.


def _log2_or_zero(x):
    return math.log2(x) if x > 0 else 0.0


def _multiply_add(s: LayerStats) -> float:
    return (ADD[32] + MUL[32] + rw(s.n, 32)) * float(s.nnz)


def _output(s: LayerStats) -> float:
    return rw(s.m, 32) * s.m


def ham_energy(s: LayerStats, net: Network) -> float:
    ham, nm = net.ham, s.nm
    h = _Coded.of(ham, s.table)
    bl = bitreq(ham.lmax)
    return (
        rw(ham.k, 32)
        + nm  # (sic)
        + rw(h.words, 32) * h.words
        + (rw(2**ham.t, bl) * nm if ham.t > 0 else 0.0)
        + rw(ham.lmax + 2, bl) * (nm + h.long_entries * _log2_or_zero(ham.lmax))
        + _multiply_add(s)
        + _output(s)
    )


def sham_energy(s: LayerStats, net: Network) -> float:
    sham, snm = net.sham, float(s.nnz)
    z = _Coded.of(sham, s.nz_table)
    bl1 = bitreq(sham.lmax)
    return (
        rw(sham.k, 32) * snm
        + rw(z.words, 32) * z.words
        + rw(sham.lmax + 2, bl1) * (snm + z.long_entries * _log2_or_zero(sham.lmax))
        + (rw(2**sham.t, bl1) * snm if sham.t > 0 else 0.0)
        + _multiply_add(s)
        + rw(snm, bitreq(s.m)) * snm
        + _output(s)
    )


def cser_energy(s: LayerStats, net: Network) -> float:
    n, m, snm, c = s.n, s.m, float(s.nnz), s.cser
    return (
        (ADD[32] + rw(n, 32) + rw(snm, bitreq(n))) * snm
        + (ADD[32] + MUL[32] + rw(c.value_ptr, bitreq(snm))) * c.extra_values
        + rw(c.values, bitreq(c.values)) * c.extra_values
        + (rw(m, 32) + rw(c.row_ptr, bitreq(c.value_ptr))) * m
    )


def csc_energy(s: LayerStats, net: Network) -> float:
    n, m, nm, snm = s.n, s.m, s.nm, float(s.nnz)
    return (
        (ADD[32] + MUL[32]) * snm
        + (rw(snm, bitreq(n)) + rw(snm, 32) + rw(n, 32)) * snm
        + rw(snm, bitreq(n)) * nm  # (sic)
        + rw(m, 32) * nm  # (sic)
    )


def im_energy(s: LayerStats, net: Network) -> float:
    nm, k = s.nm, s.table.k
    return (rw(k, 32) + rw(nm, bitreq(k))) * nm + _multiply_add(s) + _output(s)


def paper_space(W) -> dict:
    """Bits per entry of W in each format (keys HAM, sHAM, CSC, IM, CSER, dense, HAM-ub, sHAM-ub:
    those of `network_space`).

    W may be a matrix or its `LayerStats` (to share the statistics with `paper_energy`)."""
    return network_space([W])


def paper_energy(W) -> dict:
    """Picojoules per entry of one vector-W product (keys HAM, sHAM, CSC, IM, CSER: those of
    `network_energy`)."""
    return network_energy([W])
