"""How much memory this machine (or this job's cgroup) has, and how much is free now.

One place for the pipeline's three questions: what a local run may hand out to its
jobs (workflow/rules/common.smk), whether a job's declared need fits where it runs
(workflow/scripts/_pipeline.py), and how big a matrix a load may read (hamsham.io).
"""
import contextlib
import os
from pathlib import Path

CGROUP_LIMIT = Path("/sys/fs/cgroup/memory.max")  # cgroup v2: "max" or a byte count


def physical_bytes() -> int:
    """The machine's physical memory."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def limit_bytes(cgroup=CGROUP_LIMIT) -> int:
    """The most this process may use: physical memory, or its cgroup's limit when lower
    (a container, a SLURM job with cgroups)."""
    total = physical_bytes()
    with contextlib.suppress(OSError, ValueError):
        limit = Path(cgroup).read_text().strip()
        if limit != "max":
            total = min(total, int(limit))
    return total


def available_bytes(cgroup=CGROUP_LIMIT) -> int:
    """Free for use now: MemAvailable of /proc/meminfo, at most `limit_bytes()`."""
    limit = limit_bytes(cgroup)
    with contextlib.suppress(OSError, StopIteration, ValueError):
        with open("/proc/meminfo") as handle:
            kib = next(int(line.split()[1]) for line in handle if line.startswith("MemAvailable:"))
        return min(kib * 1024, limit)
    return limit
