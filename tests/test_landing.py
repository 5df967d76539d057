"""hamsham.landing: MediaFire-like landing pages served from loopback (HAMSHAM_TEST_LANDING_HOSTS)."""
import base64
import hashlib
import io
import os
import tarfile

import pytest
from http_server import LoopbackServer, Route

from hamsham.download import DownloadError
from hamsham.errors import InputError
from hamsham.landing import STUDY_URL, TEST_HOSTS_ENV, LandingPageError, fetch_archive, is_landing_page, resolve

LANDING = "/file/m0cjv959w4melbu/sHAM_data.tar.gz/file"
FILE = "/xyz/sHAM_data.tar.gz"
FAST = {"timeout": 2.0, "retries": 0, "progress": False}
MANUAL = ("resources/sHAM_data.tar.gz or pass --config archive=/path/to/sHAM_data.tar.gz")


def _archive():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in [("sHAM_data/benchmark/data/matrices/small.mtx",
                            b"%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 1.5\n"),
                           ("sHAM_data/noise.bin", os.urandom(100_000))]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


ARCHIVE = _archive()
DIGEST = hashlib.sha256(ARCHIVE).hexdigest()


def page(button='', script='', body='', landing="https://www.mediafire.com" + LANDING):
    """A page shaped like MediaFire's download page (head, scripts, the button)."""
    return f"""<!DOCTYPE html>
<html lang="en" class="no-js">
<head>
  <meta charset="utf-8">
  <title>sHAM_data.tar.gz - MediaFire</title>
  <link rel="canonical" href="{landing}">
  <meta property="og:url" content="{landing}">
  <meta property="og:title" content="sHAM_data.tar.gz">
  <link rel="stylesheet" href="https://static.mediafire.com/css/mf-downloads.css">
  <script src="https://static.mediafire.com/js/jquery.min.js"></script>
  <script type="text/javascript">
    var pageInfo = {{"quickkey": "m0cjv959w4melbu", "filename": "sHAM_data.tar.gz", "page": "{landing}"}};
    {script}
  </script>
</head>
<body class="dl-page">
  <div class="header"><a href="https://www.mediafire.com/">MediaFire</a>
    <a href="https://www.mediafire.com/login/">Log in</a></div>
  <div class="download_file_info">
    <div class="filename">sHAM_data.tar.gz</div>
    <ul class="details"><li>File size: <span>1.49GB</span></li><li>Uploaded: <span>2022-03-17</span></li></ul>
  </div>
  <div class="download_link">
    {button}
  </div>
  {body}
  <div class="footer"><a href="https://www.mediafire.com/policies/terms_of_service.php">Terms</a></div>
</body>
</html>""".encode()


def button(href, extra=""):
    return (f'<a aria-label="Download file" class="input popsok" id="downloadButton" '
            f'href="{href}" rel="nofollow" {extra}>Download (1.49GB)</a>')


@pytest.fixture(autouse=True)
def test_hosts(monkeypatch):
    monkeypatch.setenv(TEST_HOSTS_ENV, "127.0.0.1")


@pytest.fixture
def server():
    with LoopbackServer({FILE: Route(body=ARCHIVE)}) as server:
        yield server


def serve_page(server, body):
    server.routes[LANDING] = Route(body=body)
    return server.url(LANDING)


def test_is_landing_page(monkeypatch):
    assert is_landing_page(STUDY_URL)
    assert is_landing_page("http://mediafire.com/file/abc/x.tar.gz/file")
    assert not is_landing_page("https://www.mediafire.com/folder/abc")
    assert not is_landing_page("https://download2391.mediafire.com/abc/sHAM_data.tar.gz")
    assert not is_landing_page("https://evil.example.com/file/abc/x")
    assert not is_landing_page("ftp://www.mediafire.com/file/abc/x")
    assert is_landing_page("http://127.0.0.1:8000/file/abc/x")
    assert not is_landing_page("http://127.0.0.1:8000/xyz/x")
    monkeypatch.delenv(TEST_HOSTS_ENV)
    assert not is_landing_page("http://127.0.0.1:8000/file/abc/x")
    monkeypatch.setenv(TEST_HOSTS_ENV, " localhost , 10.0.0.1")
    assert not is_landing_page("http://127.0.0.1:8000/file/abc/x")
    assert is_landing_page("http://localhost:8000/file/abc/x")


def test_resolves_the_download_button(server):
    url = serve_page(server, page(button(server.url(FILE))))
    assert resolve(url, timeout=2) == server.url(FILE)
    headers = server.requests[0][1]
    assert headers["User-Agent"].startswith("Mozilla/5.0")


def test_resolves_the_scrambled_link(server):
    scrambled = base64.b64encode(server.url(FILE).encode()).decode()
    url = serve_page(server, page(button("javascript:void(0)", f'data-scrambled-url="{scrambled}"')))
    assert resolve(url, timeout=2) == server.url(FILE)


def test_falls_back_to_a_link_in_a_script(server):
    # The page's own (landing) URL appears first, in the canonical link and pageInfo: it is skipped.
    landing = server.url(LANDING)
    link = server.url(FILE).replace("/", "\\/")  # as written inside a JavaScript string
    script = f'window.dlUrl = "{link}";'
    url = serve_page(server, page(button("#"), script=script, landing=landing))
    assert resolve(url, timeout=2) == server.url(FILE)


def test_plain_search_finds_mediafire_download_hosts(server):
    real = "https://download2391.mediafire.com/a1b2c3/m0cjv959w4melbu/sHAM_data.tar.gz"
    url = serve_page(server, page(body=f"<p>If your download does not start, use {real}</p>"))
    assert resolve(url, timeout=2) == real


def test_redirect_straight_to_the_file_is_the_link(server):
    server.routes[LANDING] = Route(redirect_to=FILE)
    assert resolve(server.url(LANDING), timeout=2) == server.url(FILE)


def reason(server, body=None, route=None):
    server.routes[LANDING] = route or Route(body=body)
    url = server.url(LANDING)
    with pytest.raises(LandingPageError) as info:
        resolve(url, timeout=2)
    err = info.value
    assert isinstance(err, InputError) and err.path == url
    assert f"open {url} in a browser" in str(err) and str(err).endswith(MANUAL)
    return err.problem


def test_captcha_page(server):
    captcha = ('<form id="form_captcha" method="post" action="/file/m0cjv959w4melbu/">'
               '<div class="g-recaptcha" data-sitekey="6LextQUAAAAALlQv0DSHOYxqF3DftRZxA5yebEe"></div>'
               '<input type="submit" value="Continue"></form>')
    assert "captcha" in reason(server, page(body=captcha))


def test_removed_file_404(server):
    assert "removed or is invalid (HTTP 404" in reason(server, route=Route(status=404))


def test_removed_file_page(server):
    removed = '<div class="errorWrapper"><h3>File Removed for Violation</h3><p>...</p></div>'
    assert "removed or is invalid" in reason(server, page(body=removed))
    invalid = "<h3>Invalid or Deleted File.</h3>"
    assert "removed or is invalid" in reason(server, page(body=invalid))


def test_redirect_to_the_error_page(server):
    server.routes["/error.php?errno=320&origin=download"] = Route(body=b"<html>error</html>")
    problem = reason(server, route=Route(redirect_to="/error.php?errno=320&origin=download"))
    assert "removed or is invalid (the page redirected to " in problem and "errno=320" in problem


def test_page_changed(server):
    assert "no download link found" in reason(server, page(button("#")))


@pytest.mark.parametrize("href", ["https://evil.example.com/sHAM_data.tar.gz",
                                  "http://download2391.mediafire.com/a/sHAM_data.tar.gz",
                                  "https://www.mediafire.com/download/m0cjv959w4melbu"])
def test_foreign_host_is_refused(server, href):
    assert "not a MediaFire download host; refused" in reason(server, page(button(href)))


def test_http_error(server):
    assert "answered HTTP 503" in reason(server, route=Route(status=503))


def test_dead_server():
    with LoopbackServer({}) as gone:
        url = gone.url(LANDING)
    with pytest.raises(LandingPageError, match="could not reach the landing page .*refused") as info:
        resolve(url, timeout=2)
    assert str(info.value).endswith(MANUAL)


def test_fetches_the_archive_through_the_page(server, tmp_path):
    url = serve_page(server, page(button(server.url(FILE))))
    dest = tmp_path / "resources" / "sHAM_data.tar.gz"
    assert fetch_archive(url, dest, sha256=DIGEST, **FAST) == dest
    assert dest.read_bytes() == ARCHIVE
    assert [path for path, _ in server.requests] == [LANDING, FILE]
    # Already here with the right checksum: no network at all.
    assert fetch_archive(url, dest, sha256=DIGEST, **FAST) == dest
    assert len(server.requests) == 2


def test_resolves_afresh_and_resumes_with_the_new_link(server, tmp_path):
    server.routes[FILE] = Route(body=ARCHIVE, cut_after=10_000)
    url = serve_page(server, page(button(server.url(FILE))))
    dest = tmp_path / "sHAM_data.tar.gz"
    with pytest.raises(DownloadError, match="failed after 1 attempt") as info:
        fetch_archive(url, dest, **FAST)
    assert f"(link found on {url})" in str(info.value) and str(info.value).endswith(MANUAL)
    assert (tmp_path / "sHAM_data.tar.gz.part").stat().st_size == 10_000
    server.routes["/fresh/sHAM_data.tar.gz"] = Route(body=ARCHIVE)  # the old link expired
    server.routes[LANDING].body = page(button(server.url("/fresh/sHAM_data.tar.gz")))
    fetch_archive(url, dest, sha256=DIGEST, **FAST)
    assert dest.read_bytes() == ARCHIVE
    assert server.routes[LANDING].hits == 2
    assert server.requests[-1] == ("/fresh/sHAM_data.tar.gz", server.requests[-1][1])
    assert server.requests[-1][1]["Range"] == "bytes=10000-"


@pytest.mark.parametrize("landing", [True, False])
def test_html_instead_of_the_archive_is_refused(server, tmp_path, landing):
    server.routes[FILE] = Route(body=b"\n<!DOCTYPE html><html><body>Please wait...</body></html>")
    url = serve_page(server, page(button(server.url(FILE)))) if landing else server.url(FILE)
    dest = tmp_path / "sHAM_data.tar.gz"
    with pytest.raises(InputError, match="sent an HTML page instead of the archive"):
        fetch_archive(url, dest, sha256=DIGEST, **FAST)
    assert list(tmp_path.iterdir()) == []


def test_cut_html_body_leaves_no_part(server, tmp_path):
    server.routes[FILE] = Route(body=b"<html>" + b" " * 50_000 + b"</html>", cut_after=1000)
    with pytest.raises(DownloadError):
        fetch_archive(server.url(FILE), tmp_path / "a.tar.gz", **FAST)
    assert list(tmp_path.iterdir()) == []


def test_html_part_from_an_earlier_run_is_not_resumed(server, tmp_path):
    (tmp_path / "a.tar.gz.part").write_bytes(b"<html><body>captcha</body></html>")
    fetch_archive(server.url(FILE), tmp_path / "a.tar.gz", sha256=DIGEST, **FAST)
    assert (tmp_path / "a.tar.gz").read_bytes() == ARCHIVE
    assert "Range" not in server.requests[0][1]
