"""Helpers shared by the pipeline's scripts (kept free of heavy imports)."""

import atexit
import contextlib
import csv
import os
import re
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

MIB = 2**20


def use_src():
    """Put this checkout's src/ folder first on sys.path.

    The pipeline then imports the hamsham of this checkout, with the kernel that its
    `kernel` rule built, whether or not the package is installed.
    """
    src = Path(__file__).resolve().parents[2] / "src"
    # First, not merely present: Snakemake's script preamble appends the workflow's paths
    # after an installed hamsham's (e.g. the venv's path to another checkout).
    if str(src) in sys.path:
        sys.path.remove(str(src))
    sys.path.insert(0, str(src))
    return src


def start_job(log_path=None):
    """Set a job up: its output to `log_path` (scripts run by `script:`; shell rules
    redirect themselves), hamsham importable, and a closing log line with the wall
    time and peak resident memory of the job (benchmarks.py collects them)."""
    log_to(log_path)
    use_src()
    start = time.time()
    log(f"job started at {start:.3f}")

    def finish():
        end = time.time()
        log(f"job finished at {end:.3f} after {end - start:.2f} s; "
            f"peak resident memory {peak_rss_mib():.0f} MiB")

    atexit.register(finish)


def peak_rss_mib():
    """This process's peak resident memory (VmHWM) in MiB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def require_memory(what, need_mib, shape=None):
    """Stop with a clear message, before loading anything big, when the machine
    cannot give this job the memory it declared; log the need and the matrix size."""
    from hamsham.memory import limit_bytes

    have = limit_bytes() / MIB
    if need_mib > have:
        fail(f"{what} needs {need_mib:.0f} MiB of memory, but this machine (or job) has "
             f"{have:.0f} MiB: run it on a larger machine or a cluster node")
    log(f"{what}: declared need {need_mib:.0f} MiB (of {have:.0f} MiB)")
    if shape is not None:
        log_matrix_size(shape)


def log_matrix_size(shape):
    """Log the float32 size of the job's matrix (benchmarks.csv reads it)."""
    log(f"float32 matrix {shape[0] * shape[1] * 4 / MIB:.3f} MiB")



def npy_row_blocks(path, block_bytes=64 * MIB):
    """(first row, rows) blocks of a 2-D C-order .npy, read with plain file reads:
    resident memory stays at one block, however big the matrix."""
    import numpy as np

    with open(path, "rb") as handle:
        shape, fortran, dtype = _npy_header(handle)
        if fortran or len(shape) != 2:
            raise ValueError(f"{path}: expected a 2-D C-order matrix")
        n, m = shape
        rows = max(1, block_bytes // max(1, m * dtype.itemsize))
        for start in range(0, n, rows):
            count = min(rows, n - start)
            block = np.fromfile(handle, dtype=dtype, count=count * m)
            if block.size != count * m:
                raise ValueError(f"{path}: truncated at row {start + block.size // max(m, 1)} of {n}")
            yield start, block.reshape(count, m)


def npy_shape(path):
    """The shape of an .npy file, from its header."""
    with open(path, "rb") as handle:
        return _npy_header(handle)[0]


def _npy_header(handle):
    """(shape, fortran_order, dtype) of the .npy open in `handle`, left after its header."""
    import numpy as np

    version = np.lib.format.read_magic(handle)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    return read(handle)


def log(message):
    """A time-stamped progress line on stderr (the rule's log)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def log_to(path):
    """Send stdout and stderr of a script: run to the rule's log file."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "w", buffering=1)
        sys.stderr = handle
        sys.stdout = handle


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yield a temporary path beside `path`; rename it onto `path` only on success.

    The temporary is `.<name>.<host>.<pid>.<random><suffix>` in the output's own
    folder (never a shared temporary folder, never a fixed name): two jobs or two
    runs never share one. On an error it is removed; one left by a killed process
    (same host, pid no longer running) is removed when the output is next written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = suffix or path.suffix or ".tmp"
    remove_stale_temporaries(path, suffix)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_HOST}.{os.getpid()}.", suffix=suffix,
                               dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname().split(".")[0]) or "host"


def remove_stale_temporaries(path, suffix):
    """Remove the temporaries of `path` that a killed process of this host left behind."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.{re.escape(_HOST)}\.(\d+)\.[A-Za-z0-9_]+"
                         rf"{re.escape(suffix)}")
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(path.parent):
            match = pattern.fullmatch(entry.name)
            if match and not _running(int(match[1])):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                log(f"removed {entry.path}, a temporary left by a killed process")


def _running(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_csv(path, header, rows):
    """Write a CSV atomically (temporary file, then rename)."""
    with atomic_path(path, suffix=".tmp") as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            for row in rows:
                writer.writerow(row)


def write_text(path, text):
    """Write `text` to `path` as UTF-8 (tables mark formats not in the study with a dagger)."""
    with atomic_path(path, suffix=".tmp") as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


@contextlib.contextmanager
def heartbeat(what, every=10.0):
    """Log `what` now, then every `every` seconds until the block ends (long encodes)."""
    start = time.perf_counter()
    stop = threading.Event()

    def beat():
        while not stop.wait(every):
            log(f"... still {what} ({time.perf_counter() - start:.0f} s)")

    log(f"{what} ...")
    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    except BaseException:
        stop.set()
        thread.join()
        log(f"{what}: failed after {time.perf_counter() - start:.2f} s")
        raise
    stop.set()
    thread.join()
    log(f"{what}: done in {time.perf_counter() - start:.2f} s")


def fail(message, code=1):
    """Stop a script with a one-line error (goes to the rule's log)."""
    log(f"ERROR: {message}")
    sys.exit(code)
