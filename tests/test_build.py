"""How the kernel is built and what it declares: the versions of its hot loops chosen at run
time (HAMSHAM_ISA), its type stubs, and hamsham.__version__.

The installed wheel is tested in tests/test_wheel.py.
"""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hamsham.kernel import kernel as K

ROOT = Path(__file__).resolve().parents[1]
STUBS = ROOT / "src" / "hamsham" / "_kernel.pyi"


def run_python(code, **env):
    """Runs `code` in a fresh interpreter (the environment plus `env`); returns the result."""
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=300)


# Products (1 and 2 threads, the accumulator widths 1, 2, 4, 8, 16 and a block of 24) and
# decodings of HAM (both decoders), sHAM, CSER and RLH, checked against NumPy.
CHECK_FORMATS = r"""
import json
import numpy as np
import hamsham
from hamsham.kernel import kernel
from hamsham.timing import reference_product

kernel.set_min_work_per_thread(0)
rng = np.random.default_rng(0)
checked = 0
for density in (0.01, 0.3, 0.9):  # 0.01: HAM's zero-run decoder
    W = np.where(rng.random((300, 70)) < density, rng.integers(-20, 20, (300, 70)), 0).astype(np.float32)
    for fmt in ("ham", "sham", "cser", "rlh"):
        obj = hamsham.compress(W, fmt)
        for threads in (1, 2):
            assert np.array_equal(obj.toarray(), W), (fmt, density, "decode")
            for r in (1, 2, 3, 8, 13, 24):
                X = rng.random((r, 300)).astype(np.float32)
                Y = obj.left_matmul(X, threads=threads)
                exact = reference_product(X, W)
                bound = 302 * 2.0**-24 * reference_product(np.abs(X), np.abs(W)) + 1e-30
                assert (np.abs(Y - exact) <= bound).all(), (fmt, density, threads, r)
                checked += 1
print(json.dumps({"isa": kernel.build_info()["isa"], "checked": checked}))
"""


@pytest.mark.parametrize("isa", K.build_info()["isas"])
def test_every_version_of_the_hot_loops_computes_right(isa):
    """Each version this CPU can run (HAMSHAM_ISA caps the choice) decodes exactly and
    multiplies within float32 rounding."""
    env = {} if isa == "native" else {"HAMSHAM_ISA": isa}
    result = run_python(CHECK_FORMATS, **env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"isa": isa, "checked": 3 * 4 * 2 * 6}


def test_the_best_version_is_chosen_by_default():
    info = K.build_info()
    if "HAMSHAM_ISA" not in os.environ:
        assert info["isa"] == info["isas"][-1]
    assert info["native"] == (info["isa"] == "native")


def test_an_unknown_isa_fails_the_import_clearly():
    result = run_python("import hamsham.kernel", HAMSHAM_ISA="avx9")
    assert result.returncode != 0
    assert "HAMSHAM_ISA must be baseline, x86-64-v3 or x86-64-v4, not 'avx9'" in result.stderr


# --- stubs -------------------------------------------------------------------------------

def stub_names():
    """{name: set of member names (classes) or None} declared at the top of the stubs,
    with the members of a stub base class (such as _Matrix) folded into its subclasses."""
    tree = ast.parse(STUBS.read_text())
    names, classes = {}, {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            members = {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
            members |= {item.target.id for item in node.body if isinstance(item, ast.AnnAssign)}
            for base in node.bases:
                if isinstance(base, ast.Name) and base.id in classes:
                    members |= classes[base.id]
            classes[node.name] = members
            names[node.name] = members
        elif isinstance(node, ast.FunctionDef):
            names[node.name] = None
        elif isinstance(node, ast.AnnAssign):
            names[node.target.id] = None
    return names


def module_names():
    """The same for the compiled module: its public names and its classes' public members."""
    names = {}
    for name in dir(K):
        if name.startswith("_"):
            continue
        value = getattr(K, name)
        if isinstance(value, type):
            names[name] = {member for member in vars(value) if not member.startswith("_")} | {"__init__"}
        else:
            names[name] = None
    return names


def test_stubs_declare_every_name_the_compiled_module_exports():
    """A function, class or method added to module.cpp without its stub fails here."""
    stubs, module = stub_names(), module_names()
    public = {name: members for name, members in stubs.items() if not name.startswith("_")}
    assert set(public) == set(module), "stubs vs module: " + str(set(public) ^ set(module))
    for name, members in module.items():
        if members is not None:
            assert stubs[name] is not None, f"{name} is a class in the module"
            assert members <= stubs[name], f"{name}: members missing from the stubs: {members - stubs[name]}"
            extra = {m for m in stubs[name] - members if not m.startswith("_")}
            assert not extra, f"{name}: the stubs declare members the module lacks: {extra}"


def test_py_typed_marks_the_package():
    assert (ROOT / "src" / "hamsham" / "py.typed").is_file()


# --- version -------------------------------------------------------------------------------

def test_version_is_cheap_and_is_what_pyproject_reads():
    """hamsham.__version__ needs neither NumPy nor the kernel; pyproject.toml takes the
    package version from the same line (scikit-build-core's regex provider)."""
    import tomllib

    result = run_python("import sys, hamsham; print(hamsham.__version__, 'numpy' in sys.modules, "
                        "'hamsham._kernel' in sys.modules)")
    assert result.returncode == 0, result.stderr
    version, numpy_loaded, kernel_loaded = result.stdout.split()
    assert (numpy_loaded, kernel_loaded) == ("False", "False")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" in project["project"]["dynamic"] and "version" not in project["project"]
    provider = project["tool"]["scikit-build"]["metadata"]["version"]
    assert provider == {"provider": "scikit_build_core.metadata.regex", "input": "src/hamsham/__init__.py"}
    assert f'__version__ = "{version}"' in (ROOT / provider["input"]).read_text()
