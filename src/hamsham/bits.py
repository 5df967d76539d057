"""`bitreq`: the study's width, in bits, of an integer or index able to hold a value."""
import numpy as np

_UNSIGNED = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}


def bitreq(x) -> int:
    """The smallest of 8, 16, 32, 64, ... such that x < 2**bits (x may be a float)."""
    bits = 8
    while x >= 2**bits:
        bits *= 2
    return bits


def index_dtype(x):
    """The unsigned NumPy dtype of bitreq(x) bits, able to hold indices up to x - 1."""
    bits = bitreq(x)
    if bits not in _UNSIGNED:
        raise ValueError(f"indices up to {x} need {bits} bits: no such unsigned integer type")
    return _UNSIGNED[bits]
