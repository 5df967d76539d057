"""Shared fixtures: the real data subset beside the project (../shared/data), read in place."""
from pathlib import Path

import pytest

# The pipeline tests' fixtures (`kernel_so`, `work`), available to every test module.
pytest_plugins = ["pipeline_helpers"]

SUBSET = Path(__file__).resolve().parents[2] / "shared" / "data" / "sham_data_subset.tar.gz"


@pytest.fixture(scope="session")
def subset_entries(tmp_path_factory):
    """The 38 matrices of the real subset (extracted once per session), as `MatrixEntry`s."""
    if not SUBSET.exists():
        pytest.skip(f"real subset absent: {SUBSET}")
    from hamsham.archive import discover, safe_extract

    return discover(safe_extract(SUBSET, tmp_path_factory.mktemp("subset") / "data"))


@pytest.fixture(autouse=True)
def split_even_tiny_matrices():
    """Tests use small matrices: let the kernel split them across threads anyway, so the
    multi-thread paths are exercised (by default small products stay on one thread)."""
    from hamsham.kernel import kernel

    default = kernel.min_work_per_thread()
    kernel.set_min_work_per_thread(0)
    yield
    kernel.set_min_work_per_thread(default)
