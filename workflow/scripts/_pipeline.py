"""Helpers shared by the pipeline's scripts (kept free of heavy imports)."""

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

FORMAT_CODES = {"HAM": "ham", "sHAM": "sham", "CSC": "csc", "IM": "im", "CSER": "cser", "dense": "dense"}


def use_src(kernel):
    """Put the src/ folder that holds `kernel` (src/hamsham/_kernel.so) first on sys.path.

    The pipeline then imports the hamsham of this checkout, with the kernel that its
    `kernel` rule built, whether or not the package is installed.
    """
    src = Path(kernel).resolve().parent.parent
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))
    return src


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
    with atomic_path(path, suffix=".tmp") as tmp:
        Path(tmp).write_text(text)


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
