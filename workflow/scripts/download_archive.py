"""Download the study's archive: from its published landing page (resolved afresh to
the direct link on every run) or a direct URL, with resume, retries and an optional
sha256. A page where the archive should be is refused."""

from pathlib import Path

from _pipeline import fail, heartbeat, log, start_job

start_job(snakemake.log[0])  # noqa: F821

from hamsham.errors import InputError  # noqa: E402
from hamsham.landing import fetch_archive  # noqa: E402


def main(sm):
    url, dest = sm.params.url, Path(sm.output[0])
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with heartbeat(f"downloading {url} to {dest}", every=15):
            fetch_archive(url, dest, sha256=sm.params.sha256 or None)
    except InputError as err:  # names the URL and the problem
        fail(f"could not get the archive: {err}\n{sm.params.hint}")
    log(f"{dest}: {dest.stat().st_size} bytes")


main(snakemake)  # noqa: F821
