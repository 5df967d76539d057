"""Check (optional sha256) and safely extract the study's archive.

hamsham.archive.safe_extract unpacks into a hidden sibling of the output folder
(`.data.partial-<hex>`) and renames it into place when complete; a run killed
meanwhile leaves that sibling behind, as big as the archive. Snakemake's lock
makes this job the only writer of the output folder, so any such sibling is
stale and is removed first.
"""

import re
import shutil
from pathlib import Path

from _pipeline import fail, heartbeat, log, start_job

start_job(snakemake.log[0])  # noqa: F821

from hamsham.archive import safe_extract  # noqa: E402
from hamsham.checksum import sha256_file  # noqa: E402
from hamsham.errors import InputError  # noqa: E402


def remove_stale_siblings(dest):
    """Remove what an extraction killed before completion left beside `dest`."""
    stale = re.compile(rf"\.{re.escape(dest.name)}\.(partial|old)-[0-9a-f]+")
    if not dest.parent.is_dir():
        return
    for path in dest.parent.iterdir():
        if stale.fullmatch(path.name) and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
            log(f"removed {path}, left by an interrupted extraction")


def main(sm):
    archive, dest = Path(sm.input.archive), Path(sm.output[0])
    remove_stale_siblings(dest)
    expected = (sm.params.sha256 or "").lower()
    if expected:
        actual = sha256_file(archive)
        if actual != expected:
            fail(f"{archive}: sha256 mismatch: the file has {actual}, archive_sha256 expects "
                 f"{expected}; nothing was extracted")
        log(f"{archive}: sha256 {actual} as expected")
    try:
        with heartbeat(f"extracting {archive} into {dest}"):
            safe_extract(archive, dest, max_total_bytes=int(sm.params.max_bytes))
    except InputError as err:  # names the archive (or member) and the problem
        limit = " (the pipeline's setting: max_archive_bytes)" if "max_total_bytes" in str(err) else ""
        fail(f"{err}{limit}")
    files = sum(1 for p in dest.rglob("*") if p.is_file())
    log(f"{dest}: {files} files")


main(snakemake)  # noqa: F821
