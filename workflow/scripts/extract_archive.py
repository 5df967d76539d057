"""Check (optional sha256) and safely extract the study's archive."""

import hashlib
from pathlib import Path

from _pipeline import fail, heartbeat, log, log_to, use_src

log_to(snakemake.log[0])  # noqa: F821
use_src(snakemake.input.kernel)  # noqa: F821

from hamsham.archive import safe_extract  # noqa: E402
from hamsham.errors import InputError  # noqa: E402


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main(sm):
    archive, dest = Path(sm.input.archive), Path(sm.output[0])
    expected = (sm.params.sha256 or "").lower()
    if expected:
        actual = sha256(archive)
        if actual != expected:
            fail(f"{archive}: sha256 is {actual}, but archive_sha256 says {expected}")
        log(f"{archive}: sha256 {actual} as expected")
    try:
        with heartbeat(f"extracting {archive} into {dest}"):
            safe_extract(archive, dest)
    except InputError as err:  # names the archive (or member) and the problem
        fail(str(err))
    files = sum(1 for p in dest.rglob("*") if p.is_file())
    log(f"{dest}: {files} files")


main(snakemake)  # noqa: F821
