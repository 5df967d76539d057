"""The benchmark matrices from their primary sources, when the study's archive can't be had.

`build_benchmark` downloads each source in `SOURCES` (SuiteSparse Matrix
Market tarballs, UCI data files) and writes it in the study's archive layout,
`<dest>/benchmark/data/matrices/{orsreg_1.mtx, SiNa.mtx, covtype.csv, census.csv}`:

* a `.mtx` is the one regular-file member of its tarball, streamed out (links
  and unsafe paths are refused, other members ignored);
* covtype: the gzip'd 55-column CSV without its last column (the class label);
* census: the 69-column CSV without its header line and first column (caseid).

CSVs are streamed line by line (census has 2.4 million lines) and every line
must have the expected number of values. Each output is written under a
temporary name and renamed when complete. The raw downloads stay in
`downloads` and are reused by later calls (with a `sha256`, only if it matches).
"""
import gzip
import os
import secrets
import shutil
import sys
import tarfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hamsham.download import DownloadError, download
from hamsham.errors import InputError

LAYOUT = Path("benchmark", "data", "matrices")
_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """Where one benchmark matrix comes from and how it becomes the layout's file."""

    url: str
    kind: str                  # "mtx_tar" (Matrix Market in a tarball) or "csv"
    raw: str                   # the raw download's file name
    output: str                # the file name in benchmark/data/matrices
    member: str | None = None  # mtx_tar: the member holding the matrix
    columns: int | None = None  # csv: values per line in the raw file
    drop: int | None = None    # csv: the 0-based column left out
    header: str | None = None  # csv: a first line starting with this cell is skipped


SOURCES = {
    "orsreg_1": Source("https://sparse.tamu.edu/MM/HB/orsreg_1.tar.gz", "mtx_tar",
                       "orsreg_1.tar.gz", "orsreg_1.mtx", member="orsreg_1/orsreg_1.mtx"),
    "SiNa": Source("https://sparse.tamu.edu/MM/PARSEC/SiNa.tar.gz", "mtx_tar",
                   "SiNa.tar.gz", "SiNa.mtx", member="SiNa/SiNa.mtx"),
    "covtype": Source("https://archive.ics.uci.edu/ml/machine-learning-databases/covtype/covtype.data.gz",
                      "csv", "covtype.data.gz", "covtype.csv", columns=55, drop=54),
    "census": Source("https://archive.ics.uci.edu/ml/machine-learning-databases/census1990-mld/"
                     "USCensus1990.data.txt", "csv", "USCensus1990.data.txt", "census.csv",
                     columns=69, drop=0, header="caseid"),
}


def build_benchmark(dest, *, urls=None, names=None, sha256=None, downloads=None, retries=5,
                    timeout=30.0, progress=True) -> dict:
    """Download and convert the benchmark matrices; return name -> path of the converted file.

    `names` selects sources (default: all of `SOURCES`); `urls` and `sha256`
    map names to a replacement URL and an expected checksum of the raw file;
    `downloads` is the folder for raw files (default: `<dest>/downloads`).
    """
    dest = Path(dest)
    downloads = Path(downloads) if downloads is not None else dest / "downloads"
    urls, sha256 = dict(urls or {}), dict(sha256 or {})
    names = list(SOURCES) if names is None else list(names)
    for name in [*names, *urls, *sha256]:
        if name not in SOURCES:
            raise ValueError(f"unknown benchmark source {name!r}; known: {', '.join(SOURCES)}")
    built = {}
    for name in names:
        source = SOURCES[name]
        url = urls.get(name, source.url)
        raw = _fetch(name, url, downloads / source.raw, sha256.get(name), retries, timeout, progress)
        out = dest / LAYOUT / source.output
        if progress:
            print(f"benchmark {name}: converting {raw} -> {out}", file=sys.stderr)
        try:
            if source.kind == "mtx_tar":
                _extract_mtx(raw, source.member, out)
            else:
                _convert_csv(raw, source, out)
        except _READ_ERRORS as err:
            raise InputError(raw, f"benchmark source {name!r} ({url}) is unreadable: "
                                  f"{err or type(err).__name__}") from None
        built[name] = out
    return built


def _fetch(name, url, raw, sha256, retries, timeout, progress):
    """Download `url` to `raw` unless an earlier complete download is there."""
    if sha256 is None and raw.is_file():
        return raw  # download() renames only complete files into place
    try:
        return download(url, raw, sha256=sha256, retries=retries, timeout=timeout, progress=progress)
    except DownloadError as err:
        raise DownloadError(url, f"benchmark source {name!r} could not be downloaded: "
                                 f"{err.problem}") from None


def _extract_mtx(raw, member, out):
    """Stream the regular-file `member` of the tarball `raw` to `out`."""
    wanted = PurePosixPath(member)
    with tarfile.open(raw, "r:*") as tar:
        for info in tar:
            path = PurePosixPath(info.name)
            if path.name != wanted.name:
                continue
            if path.is_absolute() or ".." in path.parts:
                raise InputError(raw, f"member {info.name!r} has an unsafe path; refused")
            if PurePosixPath(*[p for p in path.parts if p != "."]) != wanted:
                continue
            if not info.isfile():
                what = "a link" if info.issym() or info.islnk() else "not a regular file"
                raise InputError(raw, f"member {info.name!r} is {what}; refused")
            with tar.extractfile(info) as src, _atomic(out, "wb") as dst:
                head = src.read(_CHUNK)
                if not head.startswith(b"%%MatrixMarket"):
                    raise InputError(raw, f"member {info.name!r} is not a Matrix Market file")
                dst.write(head)
                shutil.copyfileobj(src, dst, _CHUNK)
            return
    raise InputError(raw, f"holds no member {member!r}")


def _convert_csv(raw, source, out):
    """Copy the CSV `raw` (gzip'd or not) to `out` without column `source.drop`, line by line."""
    with open(raw, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(raw, "rt", encoding="utf-8-sig", newline="") as src, _atomic(out, "w") as dst:
        for lineno, line in enumerate(src, 1):
            line = line.strip()
            if not line:
                continue
            cells = line.split(",")
            if lineno == 1 and source.header is not None and cells[0].strip() == source.header:
                continue
            if len(cells) != source.columns:
                raise InputError(raw, f"line {lineno} has {len(cells)} values, expected "
                                      f"{source.columns}; delete the file to download it again")
            del cells[source.drop]
            dst.write(",".join(cells) + "\n")


@contextmanager
def _atomic(path, mode):
    """A file object writing to a temporary beside `path`, renamed to `path` on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        text = {} if "b" in mode else {"encoding": "utf-8", "newline": "\n"}
        with open(tmp, mode.replace("w", "x"), **text) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
