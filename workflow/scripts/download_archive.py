"""Download the study's archive from a direct URL (resume, retries, optional sha256)."""

from pathlib import Path

from _pipeline import fail, heartbeat, log, log_to, use_src

log_to(snakemake.log[0])  # noqa: F821
use_src(snakemake.input.kernel)  # noqa: F821

from hamsham.download import download  # noqa: E402
from hamsham.errors import InputError  # noqa: E402


def looks_like_html(path):
    with open(path, "rb") as handle:
        head = handle.read(512).lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<head" in head


def main(sm):
    url, dest = sm.params.url, Path(sm.output[0])
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with heartbeat(f"downloading {url} to {dest}", every=15):
            download(url, dest, sha256=sm.params.sha256 or None)
    except InputError as err:  # DownloadError: names the URL and the problem
        fail(f"could not download the archive: {err}")
    if looks_like_html(dest):
        dest.unlink()
        fail(f"{url} returned an HTML page, not the archive. {sm.params.hint}")
    log(f"{dest}: {dest.stat().st_size} bytes")


main(snakemake)  # noqa: F821
