"""The reduced demo through profiles/slurm on a running SLURM cluster, and locally.

    SLURM_CONF=... python ci/slurm/demo.py [--out build/slurm-test]

(ci/slurm/test.sh starts the one-node cluster and runs this; `make test-slurm`.)

1. A job that fails on the cluster (the kernel rule, on a broken ext/CMakeLists.txt):
   the run fails, and its output names the job's SLURM log (logs/slurm/...) and shows
   the rule's log, which says the kernel was being built portable (HAMSHAM_NATIVE=OFF)
   in a SLURM job (with its id).
2. The reduced demo through `snakemake --workflow-profile profiles/slurm`, and the same
   configuration with `snakemake --cores 2` (profiles/default), each in a fresh copy of
   the workflow with the checkout's kernel (tests/pipeline_helpers.copy_workflow).
   results/demo/{matrices,space,energy,nets_space,nets_energy}.csv must be
   byte-identical; every submission leaves its SLURM log; the wall times, Snakemake
   jobs and SLURM submissions are printed and written to OUT/summary.json.

With --full, the whole default demo instead (no failing-job check, no reduced
configuration, status checks at the profile's own pace): the figures of README "Cluster"
(`make bench-slurm`).

Every snakemake runs under `timeout -k`: Snakemake does not stop on SIGTERM while it
waits for cluster jobs that it cannot see end.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from pipeline_helpers import copy_workflow  # noqa: E402

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
KERNEL = ROOT / "src" / "hamsham" / "_kernel.so"
CONFIG = [
    "--config",
    # the demo's nets narrowed to the former 64-128-10 (2 layers each), briefly trained
    "demo={hidden: [128], epochs: 10, pruning: [50, 90], clusters: [32], finetune_epochs: 2, benchmark: [bar]}",
    "threads=[1]",
    "timing={repeats: 3}",
    # one timing group job (12 timed products, one network's layers), not three
    "time_matrices=[mlp_90*]",
]
# Fast status polling for seconds-long jobs (the profile's 15 s suits a real cluster).
SLURM_ARGS = ["--workflow-profile", "profiles/slurm",
              "--slurm-init-seconds-before-status-checks", "1"]
COMPARED = ["matrices", "space", "energy", "nets_space", "nets_energy"]


def run(work, args, timeout, log):
    """snakemake ARGS in `work` under `timeout -k`; returns (returncode, output, seconds)."""
    command = ["timeout", "-k", "15", str(timeout), SNAKEMAKE, *args]
    start = time.monotonic()
    with open(log, "w") as handle:
        result = subprocess.run(command, cwd=work, stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    seconds = time.monotonic() - start
    output = Path(log).read_text()
    if result.returncode in (124, 137) or seconds >= timeout:
        sys.exit(f"FAIL: snakemake {' '.join(args)} timed out after {timeout} s "
                 f"(exit status {result.returncode}; log: {log})")
    return result.returncode, output, seconds


def submissions(output):
    """SLURM job ids that the plugin reported submitting."""
    return re.findall(r"has been submitted with SLURM jobid (\d+)", output)


def jobs_total(output):
    """Snakemake jobs of the run (its last 'N of N steps (100%) done', after the checkpoint)."""
    done = re.findall(r"^(\d+) of (\d+) steps \(100%\) done", output, re.MULTILINE)
    return int(done[-1][1]) if done else 0


def check(condition, message):
    if not condition:
        sys.exit(f"FAIL: {message}")


def failing_job(out, timeout):
    work = copy_workflow(out / "fail", kernel=None)
    with open(work / "ext" / "CMakeLists.txt", "a") as handle:
        handle.write("\nthis_is_not_cmake(\n")
    code, output, seconds = run(work, [*SLURM_ARGS, "--retries", "0", "src/hamsham/_kernel.so"],
                                timeout, out / "fail.log")
    check(code != 0, "the broken kernel build did not fail")
    slurm_logs = sorted((work / "logs" / "slurm").rglob("*.log"))
    check(slurm_logs, "no SLURM log of the failed job under logs/slurm")
    check(any(str(p.relative_to(work)) in output or str(p) in output for p in slurm_logs),
          f"the failed job's SLURM log {slurm_logs[0]} is not named in the output")
    check(re.search(r"HAMSHAM_NATIVE=OFF \(in SLURM job \d+\)", output),
          "the rule's log (shown on failure) does not say the kernel was built portable in a SLURM job")
    print(f"failing job: reported in {seconds:.0f} s with its SLURM log "
          f"({slurm_logs[0].relative_to(work)}) and the rule's log (HAMSHAM_NATIVE=OFF)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "slurm-test")
    parser.add_argument("--full", action="store_true",
                        help="the whole default demo through the profile as it is, and locally")
    parser.add_argument("--timeout", type=int, help="seconds for the SLURM run "
                        "(default 420, with --full 7200)")
    parser.add_argument("--local-timeout", type=int, help="seconds for the local run "
                        "(default 240, with --full 1800)")
    args = parser.parse_args()
    slurm_args, config = (["--workflow-profile", "profiles/slurm"], []) if args.full \
        else (SLURM_ARGS, CONFIG)
    timeout = args.timeout or (7200 if args.full else 420)
    local_timeout = args.local_timeout or (1800 if args.full else 240)
    check(os.environ.get("SLURM_CONF") or Path("/etc/slurm/slurm.conf").exists(),
          "no SLURM cluster: set SLURM_CONF (ci/slurm/start.sh prints it)")
    check(KERNEL.is_file(), f"{KERNEL} is missing: run `make install` first")
    out = args.out.resolve()
    if out.exists():
        subprocess.run(["rm", "-rf", str(out)], check=True)
    out.mkdir(parents=True)

    if not args.full:
        failing_job(out, 120)

    summary = {}
    for name, extra, limit in (("slurm", slurm_args, timeout),
                               ("local", ["--cores", "2"], local_timeout)):
        work = copy_workflow(out / name, KERNEL)
        code, output, seconds = run(work, [*extra, *config], limit, out / f"{name}.log")
        check(code == 0, f"the {name} run failed (log: {out / name}.log):\n{output[-4000:]}")
        summary[name] = {"seconds": round(seconds, 1), "jobs": jobs_total(output),
                         "submissions": len(submissions(output)),
                         # how busy the machine was (other work skews both wall times)
                         "load_average_1min_at_end": round(os.getloadavg()[0], 2)}
        if name == "slurm":
            ids = submissions(output)
            logs = {p.stem for p in (work / "logs" / "slurm").rglob("*.log")}
            check(set(ids) <= logs, f"SLURM logs missing for jobs {sorted(set(ids) - logs)}")
            # submissions per rule or group (logs/slurm/rule_<rule>/..., group_<group>_<rules>/...)
            per = {}
            for path in (work / "logs" / "slurm").rglob("*.log"):
                top = path.relative_to(work / "logs" / "slurm").parts[0]
                per[top] = per.get(top, 0) + 1
            summary[name]["per_rule_or_group"] = dict(sorted(per.items()))
    for name in COMPARED:
        a = (out / "slurm" / "results" / "demo" / f"{name}.csv").read_bytes()
        b = (out / "local" / "results" / "demo" / f"{name}.csv").read_bytes()
        check(a == b, f"results/demo/{name}.csv differs between the SLURM and the local run")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    s, loc = summary["slurm"], summary["local"]
    print(f"{'full' if args.full else 'reduced'} demo, SLURM: {s['seconds']:.0f} s, {s['jobs']} Snakemake jobs in "
          f"{s['submissions']} SLURM submissions; local (--cores 2): {loc['seconds']:.0f} s, "
          f"{loc['jobs']} jobs")
    print("SLURM submissions: " + ", ".join(f"{k} {v}" for k, v in s["per_rule_or_group"].items()))
    print(f"results/demo/{{{','.join(COMPARED)}}}.csv: byte-identical (SLURM vs local)")


if __name__ == "__main__":
    main()
