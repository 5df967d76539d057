"""download(): resume, retries, errors and checksum, against the loopback server."""
import hashlib
import os
import time

import pytest
from http_server import LoopbackServer, Route

from hamsham.download import DownloadError, download
from hamsham.errors import InputError

DATA = os.urandom(300_000)
DIGEST = hashlib.sha256(DATA).hexdigest()
FAST = {"timeout": 2.0, "backoff": 0.01, "progress": False}


def test_success_checks_sha256_and_leaves_no_part(tmp_path, capsys):
    dest = tmp_path / "sub" / "a.tar.gz"
    with LoopbackServer({"/a": Route(body=DATA)}) as server:
        assert download(server.url("/a"), dest, sha256=DIGEST.upper(), **FAST) == dest
    assert dest.read_bytes() == DATA
    assert not (tmp_path / "sub" / "a.tar.gz.part").exists()
    assert capsys.readouterr().err == ""


def test_progress_reports_to_stderr(tmp_path, capsys):
    with LoopbackServer({"/a": Route(body=DATA)}) as server:
        download(server.url("/a"), tmp_path / "a", **{**FAST, "progress": True})
    assert "done, 0.3 MB" in capsys.readouterr().err


def test_resumes_after_cut_connection(tmp_path):
    route = Route(body=DATA, cut_after=100_000)
    with LoopbackServer({"/a": route}) as server:
        download(server.url("/a"), tmp_path / "a", sha256=DIGEST, **FAST)
        ranges = [headers.get("Range") for _, headers in server.requests]
    assert ranges == [None, "bytes=100000-"]
    assert (tmp_path / "a").read_bytes() == DATA


def test_resumes_an_existing_part_file(tmp_path):
    (tmp_path / "a.part").write_bytes(DATA[:1234])
    with LoopbackServer({"/a": Route(body=DATA)}) as server:
        download(server.url("/a"), tmp_path / "a", **FAST)
        assert [h.get("Range") for _, h in server.requests] == ["bytes=1234-"]
    assert (tmp_path / "a").read_bytes() == DATA


def test_server_ignoring_range_restarts_from_zero(tmp_path):
    (tmp_path / "a.part").write_bytes(b"garbage that must not stay")
    with LoopbackServer({"/a": Route(body=DATA, ranges=False)}) as server:
        download(server.url("/a"), tmp_path / "a", sha256=DIGEST, **FAST)
    assert (tmp_path / "a").read_bytes() == DATA


def test_complete_part_file_is_finished_without_refetching(tmp_path):
    (tmp_path / "a.part").write_bytes(DATA)  # a run that stopped just before the rename
    with LoopbackServer({"/a": Route(body=DATA)}) as server:
        download(server.url("/a"), tmp_path / "a", sha256=DIGEST, **FAST)
        assert len(server.requests) == 1  # answered 416 with the full size
    assert (tmp_path / "a").read_bytes() == DATA


def test_existing_dest_with_matching_sha256_is_kept(tmp_path):
    (tmp_path / "a").write_bytes(DATA)
    with LoopbackServer({}) as server:
        download(server.url("/a"), tmp_path / "a", sha256=DIGEST, **FAST)
        assert server.requests == []


def test_retries_500_then_succeeds(tmp_path):
    route = Route(body=DATA, fail_times=3)
    with LoopbackServer({"/a": route}) as server:
        download(server.url("/a"), tmp_path / "a", sha256=DIGEST, retries=3, **FAST)
    assert route.hits == 4
    assert (tmp_path / "a").read_bytes() == DATA


def test_persistent_500_fails_after_bounded_retries(tmp_path):
    route = Route(body=DATA, fail_times=100)
    with LoopbackServer({"/a": route}) as server:
        with pytest.raises(DownloadError, match="500") as info:
            download(server.url("/a"), tmp_path / "a", retries=2, **FAST)
    assert route.hits == 3
    assert info.value.path == server.url("/a") and isinstance(info.value, InputError)
    assert not (tmp_path / "a").exists()


def test_404_is_not_retried(tmp_path):
    with LoopbackServer({}) as server:
        with pytest.raises(DownloadError, match="404"):
            download(server.url("/missing"), tmp_path / "a", **FAST)
        assert len(server.requests) == 1
    assert not (tmp_path / "a").exists()


def test_other_4xx_is_not_retried(tmp_path):
    with LoopbackServer({"/a": Route(status=403)}) as server:
        with pytest.raises(DownloadError, match="403"):
            download(server.url("/a"), tmp_path / "a", **FAST)
        assert len(server.requests) == 1


def test_endless_redirect_is_an_error(tmp_path):
    with LoopbackServer({"/loop": Route(redirect_to="/loop")}) as server:
        with pytest.raises(DownloadError, match="redirect"):
            download(server.url("/loop"), tmp_path / "a", max_redirects=5, **FAST)
        assert len(server.requests) == 6


def test_slow_server_times_out_quickly(tmp_path):
    route = Route(body=DATA, delay=30.0)
    start = time.monotonic()
    with LoopbackServer({"/a": route}) as server:
        with pytest.raises(DownloadError, match="timed out"):
            download(server.url("/a"), tmp_path / "a", timeout=0.3, retries=1, backoff=0.01, progress=False)
    assert time.monotonic() - start < 5
    assert route.hits == 2


def test_stall_mid_body_times_out_then_resumes(tmp_path):
    route = Route(body=DATA, cut_after=50_000, stall=30.0)
    start = time.monotonic()
    with LoopbackServer({"/a": route}) as server:
        download(server.url("/a"), tmp_path / "a", sha256=DIGEST, timeout=0.3, backoff=0.01, progress=False)
        assert [h.get("Range") for _, h in server.requests] == [None, "bytes=50000-"]
    assert time.monotonic() - start < 5
    assert (tmp_path / "a").read_bytes() == DATA


def test_checksum_mismatch_removes_everything(tmp_path):
    wrong = "0" * 64
    with LoopbackServer({"/a": Route(body=DATA)}) as server:
        with pytest.raises(DownloadError) as info:
            download(server.url("/a"), tmp_path / "a", sha256=wrong, **FAST)
    assert wrong in str(info.value) and DIGEST in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["ftp://example.org/a", "file:///etc/hostname", "/tmp/a.tar.gz"])
def test_only_http_urls(tmp_path, url):
    with pytest.raises(DownloadError, match="http"):
        download(url, tmp_path / "a", **FAST)


def test_malformed_sha256_is_rejected(tmp_path):
    with pytest.raises(DownloadError, match="64 hexadecimal"):
        download("http://127.0.0.1:9/a", tmp_path / "a", sha256="abc", **FAST)
