"""The checkpoint: list the matrices of a dataset (hamsham.archive.discover, which refuses
an empty tree and repeated names) and refuse any file that is no matrix."""

from pathlib import Path

from _pipeline import fail, log, start_job, write_csv

start_job(snakemake.log[0])  # noqa: F821

from hamsham.archive import discover  # noqa: E402
from hamsham.errors import InputError  # noqa: E402
from hamsham.io import sniff_matrix_file  # noqa: E402

COLUMNS = ["name", "path", "group", "net", "layer", "pruning", "clusters", "score"]


def cell(value):
    return "" if value is None else str(value)


def main(sm):
    root = Path(sm.params.root)
    # dataset=paper: say where the files came from.
    origin = f" (from {sm.params.origin})" if sm.params.origin else ""
    try:
        entries = discover(root)
    except InputError as err:  # names the file or folder and the problem
        fail(f"{err}{origin}")
    for entry in entries:  # a file that is no matrix is refused now, not after a long load
        try:
            sniff_matrix_file(entry.path)
        except InputError as err:
            fail(f"{err}{origin}")
    entries = sorted(entries, key=lambda e: (e.group == "benchmark", e.group, e.net or "", e.name))
    rows = []
    for entry in entries:
        rows.append([cell(getattr(entry, column)) for column in COLUMNS])
    write_csv(sm.output.inventory, COLUMNS, rows)
    nets = {entry.net for entry in entries if entry.net}
    benchmark = sum(entry.group == "benchmark" for entry in entries)
    log(f"{root}: {len(entries)} matrices: {len(nets)} networks, {benchmark} benchmark matrices")
    for part, count in (("networks (nns/data/matrices)", len(nets)),
                        ("benchmark matrices (benchmark/data/matrices)", benchmark)):
        if not count:
            log(f"note: no {part} here; their tables and figures say so")


main(snakemake)  # noqa: F821
