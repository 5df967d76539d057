"""The canonical Huffman code (docs/model.md#canonical-huffman-code): lengths, codewords, the paper's tables.

Lengths come from the kernel's two-queue construction (ties take the leaf).
With a single symbol (k = 1) the paper's model breaks (a 0-bit code, log2(0));
this project gives that symbol the 1-bit code "0" and uses it everywhere, in
the encoders and in the model alike. An empty code (k = 0, e.g. the sHAM code
of an all-zero matrix) has no tables and takes no space.
"""
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hamsham.bits import bitreq
from hamsham.kernel import kernel
from hamsham.values import ValueTable


@dataclass(frozen=True)
class HuffmanCode:
    """A canonical Huffman code over the symbols of a `ValueTable` (symbol order)."""

    table: ValueTable
    lengths: np.ndarray  # uint8[k], non-decreasing
    codewords: np.ndarray  # uint64[k]

    @classmethod
    def of(cls, table: ValueTable) -> "HuffmanCode":
        lengths = kernel.huffman_lengths(table.counts.astype(np.uint64))
        return cls(table, lengths, kernel.canonical_codewords(lengths))

    @property
    def k(self) -> int:
        return self.table.k

    @property
    def lmax(self) -> int:
        return int(self.lengths[-1]) if self.k else 0

    @property
    def t(self) -> int:
        """Bits of the paper's partial decoding table: ceil(log2(lmax)), 0 when lmax <= 1."""
        return math.ceil(math.log2(self.lmax)) if self.lmax > 1 else 0

    def space_bits(self) -> int:
        """code_space(k, lmax, t) of docs/model.md#canonical-huffman-code; 0 for an empty code."""
        return code_space(self.k, self.lmax, self.t) if self.k else 0

    # The paper's decoding tables (docs/model.md#canonical-huffman-code, item 4) and a
    # decoder that uses them. Test-only: tests/test_model.py checks with them that the
    # kernel's bitstreams decode the paper's way (the kernel builds its own tables).

    @cached_property
    def first_symbol(self) -> np.ndarray:
        """For l = 0..lmax: index of the first symbol of length >= l; plus a sentinel (k)."""
        starts = np.searchsorted(self.lengths, np.arange(self.lmax + 1), side="left")
        return np.append(starts, self.k).astype(np.int64)

    @cached_property
    def first_code_l(self) -> np.ndarray:
        """For l = 0..lmax: the first codeword of length l, left-justified to lmax bits
        (for an unused length, where its first codeword would be); plus the sentinel 2**lmax."""
        lmax = self.lmax
        per_length = np.bincount(self.lengths, minlength=lmax + 1)
        first, code = [0], 0
        for length in range(1, lmax + 1):
            code = (code + int(per_length[length - 1])) << 1
            first.append(code << (lmax - length))
        # length 0 holds no symbol: its first code is 0; the sentinel closes the code space.
        return np.array(first + [1 << lmax], dtype=np.uint64)

    @cached_property
    def partial_table(self) -> np.ndarray:
        """2**t entries: for each t-bit prefix, the shortest length a codeword starting
        with it can have (where the linear search over lengths starts)."""
        if self.t == 0:
            return np.zeros(0, np.uint8)
        lmax, t = self.lmax, self.t
        prefixes = np.arange(1 << t, dtype=np.uint64) << np.uint64(lmax - t)
        ends = self.first_code_l[2:]  # end of the codes of length l (= first of l + 1), l = 1..lmax
        # the codes of length l occupy [first_code_l[l], first_code_l[l + 1]) left-justified
        return (np.searchsorted(ends, prefixes, side="right") + 1).astype(np.uint8)

    def decode_reference(self, words: np.ndarray, start: int, count: int) -> np.ndarray:
        """Decode `count` symbols from bit `start` with the paper's tables (slow, for tests)."""
        lmax, t = self.lmax, self.t
        total = len(words) * 32
        bitstring = "".join(format(int(w), "032b") for w in words)
        out, pos = [], start
        for _ in range(count):
            window = int(bitstring[pos:pos + lmax].ljust(lmax, "0"), 2)
            length = int(self.partial_table[window >> (lmax - t)]) if t else max(1, int(self.lengths[0]))
            while window >= int(self.first_code_l[length + 1]):
                length += 1
            offset = (window - int(self.first_code_l[length])) >> (lmax - length)
            out.append(int(self.first_symbol[length]) + offset)
            pos += length
            if pos > total:
                raise ValueError("stream ended inside a codeword")
        return np.array(out, dtype=np.int64)


def code_space(k: int, lmax: int, t: int) -> int:
    """Bits of a code's tables: 32k + (lmax+1) bitreq(k) + (lmax+2) bitreq(2**lmax) + T."""
    partial = (1 << t) * bitreq(lmax) if t > 0 else 0
    return 32 * k + (lmax + 1) * bitreq(k) + (lmax + 2) * bitreq(2**lmax) + partial


def code_ub_space(k: int) -> int:
    """The paper's upper bound on a code's table bits."""
    return 2 * (k - 1) * bitreq(k) + k * bitreq(2 ** (k - 1)) + 32 * k if k else 0
