"""The checkpoint: list the matrices of a dataset (hamsham.archive.discover)."""

from collections import Counter
from pathlib import Path

from _pipeline import fail, log, log_to, use_src, write_csv

log_to(snakemake.log[0])  # noqa: F821
use_src(snakemake.input.kernel)  # noqa: F821

from hamsham.archive import discover  # noqa: E402
from hamsham.errors import InputError  # noqa: E402

COLUMNS = ["name", "path", "group", "net", "layer", "pruning", "clusters", "score"]


def cell(value):
    return "" if value is None else str(value)


def main(sm):
    root = Path(sm.params.root)
    # dataset=paper: say which archive the extracted files came from.
    origin = f" (extracted from {sm.params.archive})" if sm.params.archive else ""
    try:
        entries = discover(root)
    except InputError as err:  # names the file or folder and the problem
        fail(f"{err}{origin}")
    if not entries:
        fail(f"{root}: no matrices found (expected nns/data/matrices/<net>_<layer>.csv "
             f"or benchmark/data/matrices/<name>.<mtx|csv|txt>){origin}")
    counts = Counter(entry.name for entry in entries)
    clashes = sorted(name for name, count in counts.items() if count > 1)
    if clashes:
        paths = [str(entry.path) for entry in entries if entry.name in clashes]
        fail(f"matrix names must be unique (file stems), but these repeat: {clashes}: {paths}{origin}")
    entries = sorted(entries, key=lambda e: (e.group == "benchmark", e.group, e.net or "", e.name))
    rows = []
    for entry in entries:
        rows.append([cell(getattr(entry, column)) for column in COLUMNS])
    write_csv(sm.output.inventory, COLUMNS, rows)
    nets = {entry.net for entry in entries if entry.net}
    log(f"{root}: {len(entries)} matrices, {len(nets)} networks, "
        f"{sum(entry.group == 'benchmark' for entry in entries)} benchmark matrices")


main(snakemake)  # noqa: F821
