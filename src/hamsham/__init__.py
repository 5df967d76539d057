"""HAM and sHAM: entropy-coded matrices you multiply without decompressing.

    import hamsham
    obj = hamsham.compress(W, "sham")      # "ham", "sham", "csc", "im", "cser", "dense"
    Y = X @ obj                            # = X @ W, from the bitstream
    hamsham.paper_space(W)["sHAM"]         # the study's bits per entry
"""
from hamsham.formats import FORMATS, EncodedMatrix, compress, from_arrays, load, save
from hamsham.model import network_energy, network_space, paper_energy, paper_space

__all__ = [
    "FORMATS", "EncodedMatrix", "compress", "from_arrays", "load", "save",
    "paper_space", "paper_energy", "network_space", "network_energy",
]
