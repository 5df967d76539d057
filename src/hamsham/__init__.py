"""HAM and sHAM: entropy-coded matrices you multiply without decompressing.

    import hamsham
    obj = hamsham.compress(W, "sham")      # "ham", "sham", "csc", "im", "cser", "dense"
    Y = X @ obj                            # = X @ W, from the bitstream
    hamsham.paper_space(W)["sHAM"]         # the study's bits per entry

The names below are loaded on first use, so that importing one submodule (say
`hamsham.io`) loads neither the others nor the compiled kernel.
"""
import importlib

__version__ = "0.1.0"  # the package's version: pyproject.toml reads it from here

_EXPORTS = {
    "FORMATS": "formats", "EncodedMatrix": "formats", "compress": "formats",
    "from_arrays": "formats", "load": "formats", "save": "formats",
    "paper_space": "model", "paper_energy": "model",
    "network_space": "model", "network_energy": "model",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"hamsham.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'hamsham' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
