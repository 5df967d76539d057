"""Shared fixtures: the real data subset beside the project (../shared/data), read in place."""
from pathlib import Path

import pytest

SUBSET = Path(__file__).resolve().parents[2] / "shared" / "data" / "sham_data_subset.tar.gz"


@pytest.fixture(scope="session")
def subset_entries(tmp_path_factory):
    """The 38 matrices of the real subset (extracted once per session), as `MatrixEntry`s."""
    if not SUBSET.exists():
        pytest.skip(f"real subset absent: {SUBSET}")
    from hamsham.archive import discover, safe_extract

    return discover(safe_extract(SUBSET, tmp_path_factory.mktemp("subset") / "data"))
