"""The wheel: `pip wheel .` (scikit-build-core and pybind11 from PyPI), installed into a
fresh virtual environment, then used from a folder outside the checkout (so that `src/`
cannot be imported by accident).

Needs network access to PyPI (or a configured index) for the build requirements.
`HAMSHAM_WHEEL_DIR` keeps the built wheel in that folder (a temporary one otherwise).
"""
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

# Run by the fresh environment's python, from a temporary folder.
SMOKE = r"""
import importlib.metadata
import tempfile
from pathlib import Path

import numpy as np

import hamsham
from hamsham.kernel import kernel

package = Path(hamsham.__file__).parent
assert "site-packages" in str(package), f"hamsham imported from {package}, not the installed wheel"
assert hamsham.__version__ == importlib.metadata.version("hamsham"), hamsham.__version__
for name in ("_kernel.pyi", "py.typed"):
    assert (package / name).is_file(), f"{name} is missing from the installed package"
assert Path(kernel.__file__).parent == package, kernel.__file__
info = kernel.build_info()
assert not info["native"] and info["isa"] in info["isas"], info

rng = np.random.default_rng(1)
W = np.where(rng.random((500, 120)) < 0.2, rng.integers(-8, 8, (500, 120)), 0).astype(np.float32)
X = rng.random((4, 500)).astype(np.float32)
exact = X.astype(np.float64) @ W.astype(np.float64)
with tempfile.TemporaryDirectory() as tmp:
    for fmt in hamsham.FORMATS:
        obj = hamsham.compress(W, fmt)
        assert np.allclose(X @ obj, exact, rtol=1e-5, atol=1e-4), fmt
        path = Path(tmp) / f"W.{fmt}"
        hamsham.save(obj, path)
        assert np.array_equal(hamsham.load(path).toarray(), W), fmt
print("wheel ok", hamsham.__version__, info["isa"])
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = Path(os.environ.get("HAMSHAM_WHEEL_DIR") or tmp_path_factory.mktemp("wheel"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(ROOT)],
                           capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    wheels = sorted(out.glob("hamsham-*.whl"), key=lambda p: p.stat().st_mtime)
    assert wheels, f"pip wheel wrote no hamsham wheel into {out}"
    return wheels[-1]


def test_wheel_holds_the_kernel_stubs_and_marker(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    kernels = [name for name in names if name.startswith("hamsham/_kernel") and name.endswith(".so")]
    assert len(kernels) == 1, sorted(names)
    assert {"hamsham/_kernel.pyi", "hamsham/py.typed", "hamsham/__init__.py", "hamsham/formats.py"} <= names


def test_installed_wheel_works_outside_the_checkout(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HAMSHAM_KERNEL_DIR", "HAMSHAM_ISA")}
    smoke = subprocess.run([str(python), "-c", SMOKE], cwd=tmp_path, env=clean, capture_output=True, text=True,
                           timeout=300)
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert "wheel ok" in smoke.stdout
