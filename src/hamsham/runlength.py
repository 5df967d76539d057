"""RLH ("run-length Huffman"): a format beyond the study that stores a pruned, quantized
matrix close to the entropy of its zero runs and values and multiplies straight from it.

The kept columns (all-zero rows and columns are dropped, listed once as bit masks) are cut
into blocks of a multiple of 64 columns (about max(4, nonzeros / 2^15) blocks); each block
is a bitstream of (zero run, value) pairs in column-major order, coded with canonical
Huffman codes: one code over the pairs, listed (joint) or built from run and value weights
(product), a code over the runs' buckets followed by one over the values (factored), or one
code over the entries, zero included (entries: a run is its zero codewords; chosen on dense
layers), whichever stores fewer bits. Both products and decoding run in the compiled kernel
from the bitstream, a block per unit of parallel work. Layout and measurements:
docs/entropy_format.md.
"""
import numpy as np

from hamsham.bits import index_dtype
from hamsham.formats import _KernelBacked
from hamsham.kernel import kernel
from hamsham.values import as_matrix

_FIELDS = ("values", "code1_symbols", "code1_counts", "code2_counts", "run_weights", "value_weights", "zero_rank",
           "row_mask", "col_mask", "block_cols", "words", "block_offsets")


def _narrow(a) -> np.ndarray:
    """An unsigned integer array in the narrowest type holding its entries (what is stored;
    the encoder's bit counts assume it: 255 fits in uint8, 65535 in uint16)."""
    a = np.asarray(a)
    return a.astype(index_dtype(int(a.max()) if len(a) else 0))  # index_dtype(x): x < 2**bits


class RLH(_KernelBacked):
    """(zero run, value) pairs in canonical Huffman codes, in blocks of kept columns."""

    format = "rlh"

    def __init__(self, arrays: dict, shape):
        missing = [f for f in _FIELDS if f not in arrays]
        if missing:
            raise ValueError(f"invalid rlh structure: missing array(s) {', '.join(missing)}")
        super().__init__(arrays, shape)

    def _kernel_matrix(self, arrays):
        return kernel.RlhMatrix(*(arrays[f] for f in _FIELDS), *self.shape)

    @classmethod
    def encode(cls, W):
        W = as_matrix(W)
        arrays = kernel.rlh_encode(W)
        for name in _FIELDS[1:7] + ("block_cols", "block_offsets"):
            arrays[name] = _narrow(arrays[name])
        if arrays["block_offsets"].dtype.itemsize < 4:  # the kernel reads offsets as uint32 or uint64
            arrays["block_offsets"] = arrays["block_offsets"].astype(np.uint32)
        return cls(arrays, W.shape)

    @property
    def mode(self) -> str:
        """How the pairs are coded: "joint" (one code over the pairs, its symbols listed),
        "product" (one code over the pairs, built from stored run and value weights),
        "factored" (a code over the runs' buckets, then one over the values) or "entries"
        (one code over the entries, zero included)."""
        return self._matrix.mode

