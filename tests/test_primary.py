"""hamsham.primary: the benchmark matrices rebuilt from primary-source formats served on loopback."""
import gzip
import hashlib
import io
import tarfile

import numpy as np
import pytest
from http_server import LoopbackServer, Route

from hamsham.archive import discover
from hamsham.download import DownloadError
from hamsham.errors import InputError
from hamsham.io import load_matrix
from hamsham.primary import LAYOUT, SOURCES, build_benchmark

FAST = {"timeout": 2.0, "retries": 0, "progress": False}
RNG = np.random.default_rng(7)

ORSREG = np.zeros((5, 4))
ORSREG[[0, 1, 3, 4, 4], [0, 2, 1, 3, 0]] = [1.5, -2.0, 3.25, 4.0, -0.5]
ORSREG_MTX = ("%%MatrixMarket matrix coordinate real general\n% orsreg_1 (HB), a test stand-in\n"
              "5 4 5\n1 1 1.5\n2 3 -2.0\n4 2 3.25\n5 4 4.0\n5 1 -0.5\n")
SINA = np.array([[2.0, 0.5, 0, 0], [0.5, 3.0, 0, -1.25], [0, 0, 4.0, 0], [0, -1.25, 0, 5.0]])
SINA_MTX = ("%%MatrixMarket matrix coordinate real symmetric\n%-------\n% SiNa (PARSEC)\n%-------\n"
            "4 4 6\n1 1 2.0\n2 1 0.5\n2 2 3.0\n3 3 4.0\n4 2 -1.25\n4 4 5.0\n")
COVTYPE = RNG.integers(0, 4000, size=(30, 55))
CENSUS = np.column_stack([np.arange(10000, 10040), RNG.integers(0, 20, size=(40, 68))])


def tarball(members):
    """A tar.gz of (name, bytes | None for a folder | 'link:target') members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data.removeprefix("link:")
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def csv_lines(rows):
    return [",".join(str(v) for v in row) for row in rows]


def covtype_body(lines=None):
    return gzip.compress(("\n".join(lines or csv_lines(COVTYPE)) + "\n").encode())


def census_body(lines=None):
    header = ",".join(["caseid", "dAge", "dAncstry1"] + [f"attr{i}" for i in range(66)])
    return ("\r\n".join([header, *(lines or csv_lines(CENSUS))]) + "\r\n\r\n").encode()


def routes():
    return {
        "/MM/HB/orsreg_1.tar.gz": Route(body=tarball([
            ("orsreg_1", None), ("orsreg_1/orsreg_1.mtx", ORSREG_MTX.encode()),
            ("orsreg_1/orsreg_1_b.mtx", b"%%MatrixMarket matrix array real general\n5 1\n1\n2\n3\n4\n5\n")])),
        "/MM/PARSEC/SiNa.tar.gz": Route(body=tarball([("SiNa/SiNa.mtx", SINA_MTX.encode())])),
        "/covtype/covtype.data.gz": Route(body=covtype_body()),
        "/census1990-mld/USCensus1990.data.txt": Route(body=census_body()),
    }


def urls(server):
    paths = {"orsreg_1": "/MM/HB/orsreg_1.tar.gz", "SiNa": "/MM/PARSEC/SiNa.tar.gz",
             "covtype": "/covtype/covtype.data.gz", "census": "/census1990-mld/USCensus1990.data.txt"}
    return {name: server.url(path) for name, path in paths.items()}


def test_builds_the_archive_layout(tmp_path):
    with LoopbackServer(routes()) as server:
        digest = hashlib.sha256(server.routes["/covtype/covtype.data.gz"].body).hexdigest()
        built = build_benchmark(tmp_path / "data", urls=urls(server), sha256={"covtype": digest}, **FAST)
        assert len(server.requests) == 4
    matrices = tmp_path / "data" / LAYOUT
    assert built == {name: matrices / SOURCES[name].output for name in SOURCES}
    expected = {"orsreg_1": ORSREG, "SiNa": SINA, "covtype": COVTYPE[:, :54], "census": CENSUS[:, 1:]}
    for name, matrix in expected.items():
        np.testing.assert_array_equal(load_matrix(built[name]), matrix.astype(np.float32), err_msg=name)
    assert sorted(p.name for p in matrices.iterdir()) == ["SiNa.mtx", "census.csv", "covtype.csv",
                                                          "orsreg_1.mtx"]  # no temporaries left
    assert {e.name for e in discover(tmp_path / "data")} == set(SOURCES)
    assert (tmp_path / "data" / "downloads" / "USCensus1990.data.txt").is_file()


def test_raw_downloads_are_reused(tmp_path):
    with LoopbackServer(routes()) as server:
        build_benchmark(tmp_path, urls=urls(server), names=["SiNa"], downloads=tmp_path / "raw", **FAST)
        (tmp_path / LAYOUT / "SiNa.mtx").unlink()
        build_benchmark(tmp_path, urls=urls(server), names=["SiNa"], downloads=tmp_path / "raw", **FAST)
        assert len(server.requests) == 1
    np.testing.assert_array_equal(load_matrix(tmp_path / LAYOUT / "SiNa.mtx"), SINA.astype(np.float32))


@pytest.mark.parametrize("name, path, body, line, count", [
    ("covtype", "/covtype/covtype.data.gz",
     covtype_body(csv_lines(COVTYPE[:6]) + [csv_lines(COVTYPE[6:7, :54])[0]] + csv_lines(COVTYPE[7:])),
     7, 54),
    ("census", "/census1990-mld/USCensus1990.data.txt",
     census_body(csv_lines(CENSUS[:2]) + [csv_lines(CENSUS[2:3])[0] + ",1"]), 4, 70),
])
def test_ragged_line_is_rejected(tmp_path, name, path, body, line, count):
    with LoopbackServer({**routes(), path: Route(body=body)}) as server:
        with pytest.raises(InputError, match=f"line {line} has {count} values, expected "
                                             f"{SOURCES[name].columns}") as info:
            build_benchmark(tmp_path, urls=urls(server), names=[name], **FAST)
    assert info.value.path == tmp_path / "downloads" / SOURCES[name].raw
    assert not (tmp_path / LAYOUT).exists() or list((tmp_path / LAYOUT).iterdir()) == []


def test_404_names_the_source_and_url(tmp_path):
    with LoopbackServer({}) as server:
        with pytest.raises(DownloadError, match="benchmark source 'SiNa' could not be downloaded: "
                                                "HTTP 404") as info:
            build_benchmark(tmp_path, urls=urls(server), names=["SiNa"], **FAST)
        assert info.value.path == server.url("/MM/PARSEC/SiNa.tar.gz")
        assert str(info.value).startswith(server.url("/MM/PARSEC/SiNa.tar.gz"))


def test_checksum_mismatch_names_the_source(tmp_path):
    with LoopbackServer(routes()) as server:
        with pytest.raises(DownloadError, match="'orsreg_1' could not be downloaded: sha256 mismatch"):
            build_benchmark(tmp_path, urls=urls(server), names=["orsreg_1"], sha256={"orsreg_1": "0" * 64},
                            **FAST)


@pytest.mark.parametrize("members, problem", [
    ([("orsreg_1/orsreg_1.mtx", "link:/etc/passwd")], "'orsreg_1/orsreg_1.mtx' is a link; refused"),
    ([("../orsreg_1/orsreg_1.mtx", ORSREG_MTX.encode())], "unsafe path; refused"),
    ([("/orsreg_1/orsreg_1.mtx", ORSREG_MTX.encode())], "unsafe path; refused"),
    ([("orsreg_1/README", b"x")], "holds no member 'orsreg_1/orsreg_1.mtx'"),
    ([("orsreg_1/orsreg_1.mtx", b"<html>not found</html>")], "is not a Matrix Market file"),
])
def test_unsafe_or_missing_member_is_refused(tmp_path, members, problem):
    with LoopbackServer({"/MM/HB/orsreg_1.tar.gz": Route(body=tarball(members))}) as server:
        with pytest.raises(InputError, match=problem):
            build_benchmark(tmp_path, urls=urls(server), names=["orsreg_1"], **FAST)
    assert not (tmp_path / LAYOUT / "orsreg_1.mtx").exists()
    assert not (tmp_path / LAYOUT).exists() or list((tmp_path / LAYOUT).iterdir()) == []


def test_corrupt_tarball_is_reported(tmp_path):
    with LoopbackServer({"/MM/HB/orsreg_1.tar.gz": Route(body=b"\x1f\x8b" + b"garbage" * 10)}) as server:
        with pytest.raises(InputError, match="benchmark source 'orsreg_1' .* is unreadable"):
            build_benchmark(tmp_path, urls=urls(server), names=["orsreg_1"], **FAST)


def test_unknown_source_name():
    with pytest.raises(ValueError, match="unknown benchmark source 'mnist'"):
        build_benchmark("unused", names=["mnist"])
