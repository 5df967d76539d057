"""One table of the wall time and peak memory of every job of a dataset's run.

Per job: Snakemake's `benchmark:` record (benchmarks/<...>.tsv: wall seconds, max
RSS sampled by Snakemake) and the job's log (logs/<...>.log, the same path), where
each script writes its exact peak resident memory (VmHWM), its declared need and
the float32 size of its matrix. Per-matrix jobs get their memory bound
(1.6 x matrix + 1 GiB) and whether they kept within it.
"""

import re
from pathlib import Path

from _pipeline import log, start_job, write_csv

start_job(snakemake.log[0])  # noqa: F821

COLUMNS = ["rule", "job", "seconds", "peak_rss_mib", "declared_mib", "matrix_mib", "bound_mib",
           "within_bound", "started", "finished"]
PER_MATRIX = {"to_npy", "reference", "model", "encode", "time"}
PATTERNS = {
    "peak": re.compile(r"peak resident memory (\d+(?:\.\d+)?) MiB"),
    "declared": re.compile(r"declared need (\d+(?:\.\d+)?) MiB"),
    "matrix": re.compile(r"float32 matrix (\d+(?:\.\d+)?) MiB"),
    "started": re.compile(r"job started at (\d+(?:\.\d+)?)"),
    "finished": re.compile(r"job finished at (\d+(?:\.\d+)?)"),
}


def read_benchmark(path):
    """(seconds, max_rss MiB or None) from a Snakemake benchmark file."""
    header, *rows = [line.rstrip("\n").split("\t") for line in path.read_text().splitlines() if line]
    row = dict(zip(header, rows[-1]))
    rss = row.get("max_rss", "NA")
    return float(row["s"]), (float(rss) if rss not in ("NA", "-", "") else None)


def read_log(path):
    found = {}
    if path.is_file():
        text = path.read_text(errors="replace")
        for key, pattern in PATTERNS.items():
            values = pattern.findall(text)
            if values:
                found[key] = float(values[-1])
    return found


def main(sm):
    files = []
    for place in map(Path, sm.params.benchmarks):
        files += sorted(place.rglob("*.tsv")) if place.is_dir() else [place] if place.is_file() else []
    rows = []
    for path in files:
        relative = path.relative_to("benchmarks")
        parts = relative.with_suffix("").parts
        rule = parts[0] if len(parts) == 1 else parts[1] if len(parts) > 2 else parts[-1]
        job = "/".join(parts[2:]) if len(parts) > 2 else ""
        seconds, sampled = read_benchmark(path)
        found = read_log(Path("logs") / relative.with_suffix(".log"))
        peaks = [value for value in (sampled, found.get("peak")) if value is not None]
        peak = max(peaks) if peaks else None
        matrix = found.get("matrix")
        bound = 1.6 * matrix + 1024 if rule in PER_MATRIX and matrix is not None else None
        rows.append([rule, job, f"{seconds:.3f}", "" if peak is None else f"{peak:.0f}",
                     found.get("declared", ""), "" if matrix is None else f"{matrix:.1f}",
                     "" if bound is None else f"{bound:.0f}",
                     "" if bound is None or peak is None else peak <= bound,
                     found.get("started", ""), found.get("finished", "")])
    write_csv(sm.output[0], COLUMNS, rows)
    log(f"{sm.output[0]}: {len(rows)} jobs")


main(snakemake)  # noqa: F821
