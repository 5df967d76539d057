"""Load the compiled pybind11 kernel `hamsham._kernel`, with a clear error when it is missing.

`HAMSHAM_KERNEL_DIR` may name a folder holding another build of `_kernel.so`
(the sanitizer build uses this); otherwise the one beside this file is used.
`kernel.build_info()` tells how it was built and which version of its hot loops runs
(`HAMSHAM_ISA=baseline|x86-64-v3|x86-64-v4` caps it: ext/src/dispatch.hpp).
"""
import importlib
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path


def _load():
    folder = os.environ.get("HAMSHAM_KERNEL_DIR")
    if not folder:
        try:
            return importlib.import_module("hamsham._kernel")
        except ModuleNotFoundError as err:
            raise ImportError(
                f"hamsham's compiled kernel is not built ({err}). Run `make install` "
                "(or `bash ext/build.sh build/ext` with pybind11 and cmake available)."
            ) from err
    path = Path(folder) / "_kernel.so"
    if not path.is_file():
        raise ImportError(f"HAMSHAM_KERNEL_DIR={folder}: no _kernel.so there")
    loader = importlib.machinery.ExtensionFileLoader("hamsham._kernel", str(path))
    spec = importlib.util.spec_from_file_location("hamsham._kernel", path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    sys.modules["hamsham._kernel"] = module
    return module


kernel = _load()
