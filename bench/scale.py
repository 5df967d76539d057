"""The pipeline at the study's full size: look-alikes of its largest matrices, end to end.

    make bench-scale                      # = python bench/scale.py
    python bench/scale.py --scale 0.1     # a tenth of the rows (quicker)

1. bench/lookalike.py writes seeded look-alikes of covtype, census and imagenet
   (shape, density and number of distinct values of the study's table) as the
   archive's comma-separated text, and they are packed, with the real subset
   (../shared/data/sham_data_subset.tar.gz, when present), into one archive;
2. `snakemake --cores 2 --config dataset=paper archive=...` runs on it in its own
   folder (build/scale/run), exactly as a user would, while this script samples
   the machine's used memory (MemTotal - MemAvailable) every second;
3. the run's results/paper/benchmarks.csv (wall time and peak resident memory of
   every job) is summed up per rule, every per-matrix job is checked against its
   bound (1.6 x float32 matrix + 1 GiB), the outputs are checked against the
   look-alikes' manifest, and --update-readme writes the table into README.md.
"""

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT.parent / "shared" / "data" / "sham_data_subset.tar.gz"
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
BEGIN, END = "<!-- bench-scale:begin -->", "<!-- bench-scale:end -->"


def used_memory_mib():
    info = {}
    with open("/proc/meminfo") as handle:
        for line in handle:
            key, value = line.split(":", 1)
            info[key] = int(value.split()[0])
    return (info["MemTotal"] - info["MemAvailable"]) / 1024


class MemorySampler(threading.Thread):
    """The machine's largest used memory while the block runs (sampled every second)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = used_memory_mib()
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(1.0):
            self.peak = max(self.peak, used_memory_mib())

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join()


def build_archive(folder, scale, seed, subset):
    """Look-alikes (+ the real subset) packed into one uncompressed tar; returns its path
    and the look-alikes' manifest."""
    data, archive = folder / "lookalike", folder / "scale.tar"
    manifest = folder / "lookalike.json"  # a copy: the generator's is packed and removed
    if archive.is_file() and manifest.is_file():
        print(f"reusing {archive}", file=sys.stderr)
        return archive, json.loads(manifest.read_text())
    subprocess.run([sys.executable, str(ROOT / "bench" / "lookalike.py"), str(data), "--scale", str(scale),
                    "--seed", str(seed), "--manifest"], check=True)
    shutil.copy(data / "manifest.json", manifest)
    tmp = archive.with_suffix(".tar.partial")
    with tarfile.open(tmp, "w") as tar:
        tar.add(data / "benchmark", arcname="lookalike/benchmark")
        if subset is not None:
            with tarfile.open(subset, "r:gz") as source:
                for member in source:
                    handle = source.extractfile(member) if member.isfile() else None
                    member.name = f"subset/{member.name}"
                    tar.addfile(member, handle)
    tmp.rename(archive)
    shutil.rmtree(data)  # the archive holds it; keep the disk for the run
    return archive, json.loads(manifest.read_text())


def run_pipeline(workdir, archive, cores, extra):
    command = [SNAKEMAKE, "--cores", str(cores), "--directory", str(workdir),
               "--config", "dataset=paper", f"archive={archive}", *extra]
    print("$ " + " ".join(command), file=sys.stderr)
    start = time.perf_counter()
    with MemorySampler() as memory:
        subprocess.run(command, cwd=ROOT, check=True)
    return time.perf_counter() - start, memory.peak


def summarize(benchmarks_csv):
    rows = list(csv.DictReader(open(benchmarks_csv, newline="")))
    per_rule = defaultdict(lambda: {"jobs": 0, "seconds": 0.0, "peak": 0.0, "ratio": 0.0, "within": True})
    for row in rows:
        rule = per_rule[row["rule"]]
        rule["jobs"] += 1
        rule["seconds"] += float(row["seconds"])
        if row["peak_rss_mib"]:
            rule["peak"] = max(rule["peak"], float(row["peak_rss_mib"]))
        if row["bound_mib"] and row["peak_rss_mib"]:
            rule["ratio"] = max(rule["ratio"], float(row["peak_rss_mib"]) / float(row["bound_mib"]))
            rule["within"] &= row["within_bound"] == "True"
    return rows, dict(per_rule)


def check_outputs(results, manifest):
    """The look-alikes' shape, nonzeros and distinct values as the pipeline measured them."""
    measured = {row["matrix"]: row for row in csv.DictReader(open(results / "matrices.csv", newline=""))}
    problems = []
    for name, expected in manifest.items():
        row = measured.get(name)
        if row is None:
            problems.append(f"{name}: missing from matrices.csv")
            continue
        got = (int(row["rows"]), int(row["cols"]), int(row["nnz"]), int(row["distinct"]))
        want = (expected["rows"], expected["cols"], expected["nnz"], expected["distinct"])
        if got != want:
            problems.append(f"{name}: pipeline measured {got}, the generator made {want}")
    encode = list(csv.DictReader(open(results / "encode.csv", newline="")))
    problems += [f"{r['matrix']} {r['format']}: inexact round trip ({r['roundtrip_wrong_entries']} entries differ)"
                 for r in encode if int(r["roundtrip_wrong_entries"]) != 0]
    return problems


def markdown(per_rule, wall, machine_peak, scale, manifest):
    total = sum(rule["seconds"] for rule in per_rule.values())
    shapes = ", ".join(f"{name} {m['rows']} x {m['cols']}" for name, m in manifest.items())
    lines = [
        f"`make bench-scale` (scale {scale}: {shapes}; plus the real subset), "
        f"`snakemake --cores 2`, all formats, threads 1 and 2, 25 repetitions: "
        f"**{wall / 60:.1f} min** wall, machine memory in use at most **{machine_peak / 1024:.1f} GiB**.",
        "",
        "| rule | jobs | job time (s) | share | largest peak RSS (MiB) | peak / bound |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, rule in sorted(per_rule.items(), key=lambda item: -item[1]["seconds"]):
        ratio = f"{rule['ratio']:.2f}" if rule["ratio"] else ""
        lines.append(f"| {name} | {rule['jobs']} | {rule['seconds']:.0f} | {rule['seconds'] / total:.1%} | "
                     f"{rule['peak']:.0f} | {ratio} |")
    lines += ["", "bound = 1.6 x the job's float32 matrix + 1 GiB (per-matrix jobs); job time is summed over "
                  "jobs (two run at a time, except timings)."]
    return "\n".join(lines) + "\n"


def update_readme(text):
    readme = ROOT / "README.md"
    content = readme.read_text()
    if BEGIN not in content:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} section")
    head, rest = content.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    readme.write_text(f"{head}{BEGIN}\n{text}{END}{tail}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the study's rows (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=ROOT / "build" / "scale")
    parser.add_argument("--no-subset", action="store_true", help="look-alikes only")
    parser.add_argument("--update-readme", action="store_true")
    parser.add_argument("snakemake_args", nargs="*", help="passed on to snakemake (after --)")
    args = parser.parse_args(argv)

    folder = args.folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    subset = None if args.no_subset or not SUBSET.is_file() else SUBSET
    archive, manifest = build_archive(folder, args.scale, args.seed, subset)
    workdir = folder / "run"
    wall, machine_peak = run_pipeline(workdir, archive, args.cores, args.snakemake_args)
    results = workdir / "results" / "paper"
    rows, per_rule = summarize(results / "benchmarks.csv")
    problems = check_outputs(results, manifest)
    problems += [f"{row['rule']} {row['job']}: peak {row['peak_rss_mib']} MiB > bound {row['bound_mib']} MiB"
                 for row in rows if row["within_bound"] == "False"]
    text = markdown(per_rule, wall, machine_peak, args.scale, manifest)
    print(text)
    (folder / "summary.md").write_text(text)
    if args.update_readme:
        update_readme(text)
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
