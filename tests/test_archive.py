"""safe_extract() and discover(): unsafe archives, layout parsing, and the real data subset."""
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from hamsham.archive import MARKER, MatrixEntry, discover, safe_extract
from hamsham.errors import InputError
from hamsham.io import load_matrix

MANIFEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "sham_data_subset.manifest.json"

VGG = "top/nns/data/matrices/vgg_30-0-256-0-0.9952_096.csv"
DTA = "top/nns/data/matrices/dta_50-0-16-0-0.22103_014.csv"
ORSREG = "top/benchmark/data/matrices/orsreg_1.mtx"
LAYOUT = {VGG: b"1,2\n3,4\n", DTA: b"0.5\n",
          ORSREG: b"%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 3\n"}


def member(name, data=b"", **fields):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    return info, io.BytesIO(data) if data else None


def make_tar(path, members, mode="w:gz"):
    """Write `members` ((TarInfo, fileobj) pairs, or a {name: bytes} dict) to the archive `path`."""
    if isinstance(members, dict):
        members = [member(name, data) for name, data in members.items()]
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            tar.addfile(info, data)
    return path


def rejects(archive, dest, *fragments, **limits):
    """Assert safe_extract fails with InputError naming the fragments, leaving no trace."""
    before = set(dest.parent.iterdir())
    with pytest.raises(InputError) as info:
        safe_extract(archive, dest, **limits)
    message = str(info.value)
    for fragment in (str(archive), *fragments):
        assert fragment in message, message
    assert not dest.exists()
    assert set(dest.parent.iterdir()) == before  # no temporary folder left
    return message


@pytest.fixture
def good(tmp_path):
    return make_tar(tmp_path / "data.tar.gz", LAYOUT)


# ---- safe_extract ----------------------------------------------------------------------------

def test_extracts_and_marks_complete(tmp_path, good):
    dest = safe_extract(good, tmp_path / "out")
    assert (dest / VGG).read_bytes() == LAYOUT[VGG]
    assert (dest / MARKER).read_text().strip() == hashlib.sha256(good.read_bytes()).hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.tar.gz", "out"]


def test_second_call_does_not_re_extract(tmp_path, good):
    dest = safe_extract(good, tmp_path / "out")
    (dest / "sentinel").write_text("still here")
    assert safe_extract(good, dest) == dest
    assert (dest / "sentinel").exists()


def test_incomplete_or_foreign_dest_is_replaced(tmp_path, good):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "half-written.csv").write_text("1,")
    safe_extract(good, dest)
    assert not (dest / "half-written.csv").exists() and (dest / VGG).exists()
    (dest / MARKER).write_text("0" * 64 + "\n")  # extracted from another archive
    (dest / "sentinel").write_text("")
    safe_extract(good, dest)
    assert not (dest / "sentinel").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.tar.gz", "out"]


@pytest.mark.parametrize("mode,name", [("w:", "data.tar.gz"), ("w:gz", "data.tar"), ("w:gz", "data.bin")])
def test_format_detected_by_content(tmp_path, mode, name):
    archive = make_tar(tmp_path / name, LAYOUT, mode)
    assert (safe_extract(archive, tmp_path / "out") / DTA).read_bytes() == LAYOUT[DTA]


def test_failed_extraction_keeps_existing_dest(tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep").write_text("")
    archive = make_tar(tmp_path / "bad.tar", [member("/etc/evil", b"x")], "w:")
    with pytest.raises(InputError):
        safe_extract(archive, dest)
    assert [p.name for p in dest.iterdir()] == ["keep"]


def test_truncated_gzip(tmp_path, good):
    size = len(good.read_bytes())
    for cut in (10, size // 2, size - 4):  # size - 4: only the gzip trailer (length field) is lost
        truncated = tmp_path / f"cut{cut}.tar.gz"
        truncated.write_bytes(good.read_bytes()[:cut])
        rejects(truncated, tmp_path / "out", "truncated")


def test_corrupt_gzip_data(tmp_path, good):
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(bytes(data))
    rejects(corrupt, tmp_path / "out", "corrupt")


@pytest.mark.parametrize("content", [b"", b"just some text, not an archive\n" * 50])
def test_not_a_tar(tmp_path, content):
    path = tmp_path / "x.tar.gz"
    path.write_bytes(content)
    rejects(path, tmp_path / "out", "not a readable tar")


def test_empty_tar(tmp_path):
    rejects(make_tar(tmp_path / "e.tar.gz", []), tmp_path / "out", "empty archive")


def test_missing_archive(tmp_path):
    rejects(tmp_path / "nope.tar.gz", tmp_path / "out", "no such archive")


@pytest.mark.parametrize("entry,fragments", [
    (member("/etc/passwd", b"x"), ["'/etc/passwd'", "absolute"]),
    (member("top/../../escape.csv", b"x"), ["'top/../../escape.csv'", "'..'"]),
    (member("top/link", type=tarfile.SYMTYPE, linkname="../../etc/passwd"), ["'top/link'", "symbolic link"]),
    (member("top/inside", type=tarfile.SYMTYPE, linkname="a.csv"), ["'top/inside'", "symbolic link"]),
    (member("top/hard", type=tarfile.LNKTYPE, linkname="/etc/passwd"), ["'top/hard'", "hard link"]),
    (member("top/dev", type=tarfile.CHRTYPE, devmajor=1, devminor=3), ["'top/dev'", "device file"]),
    (member("top/fifo", type=tarfile.FIFOTYPE), ["'top/fifo'", "FIFO"]),
])
def test_unsafe_member_rejected_before_anything_is_written(tmp_path, entry, fragments):
    # A good member first: nothing of it may appear either.
    archive = make_tar(tmp_path / "bad.tar.gz", [member("top/a.csv", b"1\n"), entry])
    rejects(archive, tmp_path / "out", *fragments)


def test_too_many_members_stops_reading_at_the_limit(tmp_path, monkeypatch):
    archive = make_tar(tmp_path / "many.tar.gz", {f"top/f{i}.csv": b"1\n" for i in range(50)})
    calls = []
    original = tarfile.TarFile.next
    monkeypatch.setattr(tarfile.TarFile, "next", lambda self: calls.append(1) or original(self))
    rejects(archive, tmp_path / "out", "more than 3 members", max_members=3)
    assert len(calls) <= 3 + 2  # the limit, one more to notice, and tarfile.open's own first read


def test_total_size_limit(tmp_path):
    archive = make_tar(tmp_path / "big.tar.gz", {"top/a.csv": b"1" * 600, "top/b.csv": b"2" * 600})
    rejects(archive, tmp_path / "out", "'top/b.csv'", "1000 bytes", max_total_bytes=1000)


def test_dest_must_not_hold_the_archive(tmp_path):
    archive = make_tar(tmp_path / "data.tar.gz", LAYOUT)
    with pytest.raises(InputError, match="holds the archive"):
        safe_extract(archive, tmp_path)


def test_dest_that_is_a_file_or_a_symlink(tmp_path, good):
    (tmp_path / "out").write_text("")
    with pytest.raises(InputError, match="not a folder"):
        safe_extract(good, tmp_path / "out")
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to("target")
    with pytest.raises(InputError, match="symbolic link"):
        safe_extract(good, tmp_path / "link")


# ---- discover --------------------------------------------------------------------------------

def test_discover_parses_the_layout(tmp_path, good):
    dest = safe_extract(good, tmp_path / "out")
    (dest / "top/nns/data/matrices/README.md").write_text("ignored")
    (dest / "top/nns/data/matrices/._vgg_1-0-2-0-0.5_096.csv").write_text("macOS metadata, ignored")
    entries = discover(dest)
    assert [e.name for e in entries] == ["orsreg_1", "dta_50-0-16-0-0.22103_014", "vgg_30-0-256-0-0.9952_096"]
    assert entries[0] == MatrixEntry("orsreg_1", dest / ORSREG, "benchmark", None, None, None, None, None)
    assert entries[2] == MatrixEntry("vgg_30-0-256-0-0.9952_096", dest / VGG, "vgg", "vgg_30-0-256-0-0.9952",
                                     "096", 30, 256, 0.9952)
    assert entries[1].group == "dta" and entries[1].clusters == 16 and entries[1].score == 0.22103
    with pytest.raises(AttributeError):
        entries[0].name = "x"


def test_discover_sorts_by_group_net_layer(tmp_path):
    folder = tmp_path / "nns/data/matrices"
    folder.mkdir(parents=True)
    for name in ["vgg_50-0-32-0-0.9_102", "vgg_50-0-32-0-0.9_096", "alex_10-0-4-0-1e-3_001",
                 "vgg_30-0-32-0-0.9_108"]:
        (folder / f"{name}.txt").write_text("1\n")
    names = [e.name for e in discover(tmp_path)]
    assert names == ["alex_10-0-4-0-1e-3_001", "vgg_30-0-32-0-0.9_108", "vgg_50-0-32-0-0.9_096",
                     "vgg_50-0-32-0-0.9_102"]


def test_discover_no_matrices(tmp_path):
    (tmp_path / "nns/data/matrices").mkdir(parents=True)
    (tmp_path / "nns/data/matrices/notes.md").write_text("")
    with pytest.raises(InputError, match="no matrices found") as info:
        discover(tmp_path)
    assert info.value.path == tmp_path


def test_discover_missing_root(tmp_path):
    with pytest.raises(InputError, match="no such folder"):
        discover(tmp_path / "nope")


def test_discover_duplicate_name_names_both_files(tmp_path):
    folder = tmp_path / "benchmark/data/matrices"
    folder.mkdir(parents=True)
    (folder / "orsreg_1.mtx").write_text("")
    (folder / "orsreg_1.csv").write_text("")
    with pytest.raises(InputError) as info:
        discover(tmp_path)
    assert str(folder / "orsreg_1.mtx") in str(info.value) and str(folder / "orsreg_1.csv") in str(info.value)


@pytest.mark.parametrize("stem", ["vgg_30-0-256-0-0.9952", "vgg-30-0-256-0-0.9952_096",
                                  "vgg_30-1-256-0-0.99_096", "vgg_300-0-256-0-0.99_096",
                                  "vgg_30-0-0-0-0.99_096"])
def test_discover_unparsable_network_name(tmp_path, stem):
    folder = tmp_path / "nns/data/matrices"
    folder.mkdir(parents=True)
    (folder / f"{stem}.csv").write_text("1\n")
    with pytest.raises(InputError) as info:
        discover(tmp_path)
    assert f"{stem}.csv" in str(info.value)


# ---- the real data subset (conftest.py's `subset_entries` extracts it once with safe_extract) --

def test_real_subset_discovered(subset_entries):
    assert len(subset_entries) == 38
    vgg = [e for e in subset_entries if e.group == "vgg"]
    dta = [e for e in subset_entries if e.group == "dta"]
    assert len(vgg) == 24 and {e.layer for e in vgg} == {"096"}
    assert len(dta) == 12 and {e.layer for e in dta} == {"014"}
    assert [e.name for e in subset_entries if e.group == "benchmark"] == ["SiNa", "orsreg_1"]
    assert {e.pruning for e in vgg} >= {30, 99} and {e.clusters for e in vgg} == {32, 256}


def test_real_subset_matches_manifest(subset_entries):
    manifest = {m["file"]: m for m in json.loads(MANIFEST.read_text())}
    relative = {Path(*e.path.parts[-4:]).as_posix(): e for e in subset_entries}
    assert set(relative) == set(manifest)
    for file, entry in relative.items():
        W = load_matrix(entry.path)
        assert W.shape == (manifest[file]["rows"], manifest[file]["cols"]), file
        assert hashlib.sha256(W.tobytes()).hexdigest() == manifest[file]["sha256_float32"], file
