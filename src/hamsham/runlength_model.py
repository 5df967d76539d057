"""RLH's terms in the space and energy model (RLH is not in the study: hamsham.runlength).

Its space is what it stores (each layer its own codes); its energy follows the study's
cost tables (hamsham.model) for what its product reads. Apart from hamsham.runlength so
that the format's module does not import the model (an edit of the model then reruns
the model's jobs, not the encodings).
"""
from hamsham.kernel import kernel
from hamsham.model import _multiply_add, _output, rw
from hamsham.runlength import RLH


def measure(W) -> dict:
    """What the model terms need of W's RLH encoding: stored bits and stream words (its
    pairs are the layer's nonzeros, LayerStats.nnz)."""
    obj = RLH.encode(W)
    words = len(obj.to_arrays()["words"]) - 2  # without the padding
    return {"bits": obj.nbits, "words": words}


def rlh_space(net) -> float:
    """Bits per entry: every stored bit of each layer's encoding (tables, masks, offsets)."""
    return sum(s.measured["RLH"]["bits"] for s in net.layers) / net.total


def rlh_energy(s, net) -> float:
    """Picojoules of x @ W: read the stream's words once, one lookup of a 64-bit table entry
    (two 32-bit reads) per pair, then as every format: read x[row], multiply, add; the output.
    Pairs decoded the canonical way (long codewords, a few percent) are charged like the others."""
    words = s.measured["RLH"]["words"]
    table = 2 * rw(2 * 2**kernel.RLH_TABLE_BITS, 32) * float(s.nnz)  # one lookup per pair (nonzero)
    return rw(words, 32) * words + table + _multiply_add(s) + _output(s)
