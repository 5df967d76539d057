"""Unpack the study's data archive safely and list the matrices it holds.

`safe_extract` checks every member before anything is written and accepts
only regular files and folders with relative paths inside the tree: every
link (symbolic or hard, even one pointing inside the tree) is rejected, as
are device files and FIFOs; the study's layout has no use for them. The
archive is unpacked into a temporary folder beside `dest` that is renamed to
`dest` only once complete, so `dest` is either absent or whole.

`discover` finds the study's layout anywhere below a folder:
`nns/data/matrices/<net>_<layer>.{csv,txt}` (network layers) and
`benchmark/data/matrices/<name>.{mtx,csv,txt}` (benchmark matrices).
"""
import gzip
import os
import re
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hamsham.checksum import sha256_file
from hamsham.errors import InputError

MARKER = ".extracted"
_ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)
_NET = re.compile(r"(?P<net>(?P<arch>[A-Za-z][A-Za-z0-9]*)_(?P<pruning>\d+)-0-(?P<clusters>\d+)-0-"
                  r"(?P<score>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?))_(?P<layer>\d+)")
_LAYOUT = {("nns", "data", "matrices"): (".csv", ".txt"),
           ("benchmark", "data", "matrices"): (".mtx", ".csv", ".txt")}


@dataclass(frozen=True)
class MatrixEntry:
    """One matrix file of the layout; network fields are None for benchmark matrices."""

    name: str
    path: Path
    group: str
    net: str | None = None
    layer: str | None = None
    pruning: int | None = None
    clusters: int | None = None
    score: float | None = None


def safe_extract(archive, dest, *, max_members=100_000, max_total_bytes=64 * 2**30) -> Path:
    """Unpack a tar, tar.gz or tgz `archive` (detected by content) into the folder `dest`.

    A `dest` holding the marker file `.extracted` with this archive's sha256
    is returned as is. Any other existing `dest` folder is replaced, but only
    after the new extraction succeeded; on any error nothing is left behind.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise InputError(archive, "no such archive file")
    if dest.name in ("", ".."):
        raise InputError(dest, "must name a folder of its own (not '.', '..' or a root)")
    digest = sha256_file(archive)
    if _is_complete(dest, digest):
        return dest
    if dest.is_symlink():
        raise InputError(dest, "is a symbolic link, which cannot be replaced atomically; pass its target")
    if dest.exists() and not dest.is_dir():
        raise InputError(dest, "exists and is not a folder")
    if dest.exists() and archive.resolve().is_relative_to(dest.resolve()):
        raise InputError(dest, f"holds the archive {archive}; extract it somewhere else")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _open_tar(archive) as tar:
        members = _checked_members(archive, tar, max_members, max_total_bytes)
        tmp = _new_sibling(dest, "partial")
        tmp.mkdir()  # unlike mkdtemp, permissions follow the umask
        try:
            tar.extractall(tmp, members=members, filter="data")
            (tmp / MARKER).write_text(digest + "\n")
            _move_into_place(tmp, dest, digest)
        except _ARCHIVE_ERRORS as err:
            raise InputError(archive, f"extraction failed (corrupt archive or unsafe member): "
                                      f"{err}") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def discover(root) -> list[MatrixEntry]:
    """List every matrix of the study's layout below `root`, sorted by group, net, layer, name."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "no such folder")
    entries, seen = [], {}
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))  # skips our temporaries
        layout = Path(folder).parts[-3:]
        if layout not in _LAYOUT:
            continue
        for file in sorted(files):
            path = Path(folder, file)
            if file.startswith(".") or path.suffix.lower() not in _LAYOUT[layout]:
                continue
            entry = _entry(path, benchmark=layout[0] == "benchmark")
            if entry.name in seen:
                raise InputError(path, f"matrix name {entry.name!r} is also used by {seen[entry.name]}")
            seen[entry.name] = path
            entries.append(entry)
    if not entries:
        raise InputError(root, "no matrices found here: expected nns/data/matrices/*.{csv,txt} "
                               "or benchmark/data/matrices/*.{mtx,csv,txt} somewhere below")
    return sorted(entries, key=lambda e: (e.group, e.net or "", e.layer or "", e.name))


def _entry(path, benchmark):
    if benchmark:
        return MatrixEntry(path.stem, path, "benchmark")
    match = _NET.fullmatch(path.stem)
    if match is None:
        raise InputError(path, "network layer name does not parse: expected <arch>_<pruning>-0-"
                               "<clusters>-0-<score>_<layer>, e.g. vgg_30-0-256-0-0.9952_096")
    pruning, clusters = int(match["pruning"]), int(match["clusters"])
    if pruning > 100 or clusters < 1:
        raise InputError(path, f"pruning {pruning}% must be 0..100 and clusters {clusters} at least 1")
    return MatrixEntry(path.stem, path, match["arch"], match["net"], match["layer"],
                       pruning, clusters, float(match["score"]))



def _is_complete(dest, digest):
    try:
        return (dest / MARKER).read_text().strip() == digest
    except OSError:
        return False


def _open_tar(archive):
    with open(archive, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    try:
        return tarfile.open(archive, "r:gz" if gzipped else "r:")
    except _ARCHIVE_ERRORS as err:
        kind = "tar.gz archive (corrupt or truncated?)" if gzipped else "tar or tar.gz archive"
        raise InputError(archive, f"not a readable {kind}: {err}") from None


def _checked_members(archive, tar, max_members, max_total_bytes):
    """Read and check every member header, stopping as soon as a limit is passed."""
    members, total = [], 0
    try:
        while (member := tar.next()) is not None:
            if len(members) == max_members:
                raise InputError(archive, f"has more than {max_members} members (limit max_members)")
            _check_member(archive, member)
            total += member.size
            if total > max_total_bytes:
                raise InputError(archive, f"member {member.name!r}: the members' total size passes "
                                          f"{max_total_bytes} bytes (limit max_total_bytes)")
            members.append(member)
        while tar.fileobj.read(1 << 20):  # read to the end: gzip checks its length and CRC there
            pass
    except _ARCHIVE_ERRORS as err:
        raise InputError(archive, f"corrupt or truncated archive: {err}") from None
    if not members:
        raise InputError(archive, "empty archive: no members")
    return members


def _check_member(archive, member):
    name = PurePosixPath(member.name)
    if name.is_absolute():
        problem = "has an absolute path"
    elif ".." in name.parts:
        problem = "has a '..' component"
    elif member.issym():
        problem = f"is a symbolic link (to {member.linkname!r}); links are not accepted"
    elif member.islnk():
        problem = f"is a hard link (to {member.linkname!r}); links are not accepted"
    elif not (member.isfile() or member.isdir()):
        problem = "is a device file, FIFO or other special file; only files and folders are accepted"
    else:
        return
    raise InputError(archive, f"member {member.name!r} {problem}")


def _new_sibling(dest, tag):
    """A fresh hidden name beside `dest` (discover() skips hidden folders)."""
    return dest.with_name(f".{dest.name}.{tag}-{os.urandom(6).hex()}")


def _move_into_place(tmp, dest, digest):
    """Rename `tmp` to `dest`, replacing an old `dest` unless another run just completed it."""
    if not dest.exists():
        try:
            tmp.rename(dest)
            return
        except OSError:
            if not dest.exists():
                raise
    if _is_complete(dest, digest):  # a concurrent run finished first
        return
    old = _new_sibling(dest, "old")
    dest.rename(old)
    try:
        tmp.rename(dest)
    except OSError:
        old.rename(dest)
        raise
    shutil.rmtree(old, ignore_errors=True)
