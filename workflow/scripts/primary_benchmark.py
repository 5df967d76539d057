"""The benchmark matrices from their primary sources (SuiteSparse, UCI), converted into
the archive's layout (hamsham.primary.build_benchmark)."""

from pathlib import Path

from _pipeline import fail, heartbeat, log, start_job

start_job(snakemake.log[0])  # noqa: F821

from hamsham.errors import InputError  # noqa: E402
from hamsham.primary import build_benchmark  # noqa: E402


def main(sm):
    dest = Path(sm.output[0])
    try:
        with heartbeat(f"building the benchmark matrices from their primary sources into {dest}", every=15):
            built = build_benchmark(dest, urls=dict(sm.params.urls), downloads=sm.params.downloads)
    except InputError as err:  # names the source, its URL or file, and the problem
        fail(f"could not build the benchmark matrices from their primary sources: {err}")
    for name, path in built.items():
        log(f"{name}: {path} ({Path(path).stat().st_size} bytes)")


main(snakemake)  # noqa: F821
