"""Get the study's archive from its published link, a MediaFire landing page.

The study published `STUDY_URL`, an HTML page holding a short-lived direct
link, not the file. `resolve` fetches the page and finds that link: the
`<a id="downloadButton" href=...>` link, else the button's base64
`data-scrambled-url`, else a plain `https://download<digits>.mediafire.com/...`
link anywhere in the page. Only https links on MediaFire's download hosts
are accepted. Every failure (captcha, file removed, page changed, foreign
link, no network, HTTP error) raises `LandingPageError` with the reason and
how to get the archive by hand.

`fetch_archive` resolves the page afresh on every call (the direct link
expires) and downloads with `hamsham.download.download`, so a `.part` left
by an interrupted run resumes from a freshly resolved link. Any URL that is
not a landing page is downloaded as is. An HTML body where the archive
should be is refused and deleted.

Tests only: the environment variable `HAMSHAM_TEST_LANDING_HOSTS` (host
names, comma-separated, e.g. `127.0.0.1`) makes `/file/...` URLs on those
hosts landing pages too, whose direct links may then be on the same host
over http or https.
"""
import base64
import binascii
import html
import os
import re
import sys
import urllib.error
import urllib.request
from html.parser import HTMLParser
from http.client import HTTPException
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from hamsham.checksum import sha256_file
from hamsham.download import DownloadError, download
from hamsham.errors import InputError

STUDY_URL = "https://www.mediafire.com/file/m0cjv959w4melbu/sHAM_data.tar.gz/file"
TEST_HOSTS_ENV = "HAMSHAM_TEST_LANDING_HOSTS"
MANUAL_HINT = ("To get the archive by hand: open {url} in a browser, download sHAM_data.tar.gz, "
               "and put it at resources/sHAM_data.tar.gz or pass "
               "--config archive=/path/to/sHAM_data.tar.gz")
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/124.0 Safari/537.36")

_LANDING_HOSTS = ("www.mediafire.com", "mediafire.com")
_DOWNLOAD_HOST = re.compile(r"download\d+\.mediafire\.com")
_PLAIN_LINK = r"https?://download\d+\.mediafire\.com(?::\d+)?/[^\s\"'<>\\]+"
_PLACEHOLDER = re.compile(r"\s*(#.*|javascript:.*)?", re.IGNORECASE | re.DOTALL)
_REMOVED = ("file removed", "invalid or deleted file", "file has been removed", "file was removed")
_MAX_PAGE = 8 << 20
_HEAD = 512


class LandingPageError(InputError):
    """The landing page gave no usable direct link; `.path` is the page's URL."""


def is_landing_page(url) -> bool:
    """Whether `url` is a MediaFire `/file/` page (or one on a test host, see the module doc)."""
    parts = urlsplit(str(url))
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() not in ("http", "https") or not parts.path.startswith("/file/"):
        return False
    return host in _LANDING_HOSTS or host in _test_hosts()


def resolve(landing_url, timeout=30, *, manual_hint=MANUAL_HINT) -> str:
    """Fetch the landing page and return its direct download link."""
    url = str(landing_url)

    def fail(reason):
        return LandingPageError(url, f"{reason}. {manual_hint.replace('{url}', url)}")

    if not is_landing_page(url):
        raise fail("not a MediaFire landing page (https://www.mediafire.com/file/...)")
    request = urllib.request.Request(url, headers={
        "User-Agent": USER_AGENT, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
        "Accept-Language": "en-US,en;q=0.9"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            final = response.geturl()
            if _is_error_page(final):
                raise fail(f"the file was removed or is invalid (the page redirected to {final})")
            if final != url and _acceptable(url, final) and not is_landing_page(final):
                return final  # the page redirected straight to the file
            charset = response.headers.get_content_charset() or "utf-8"
            page = response.read(_MAX_PAGE).decode(charset, errors="replace")
    except urllib.error.HTTPError as err:
        if err.code in (404, 410):
            raise fail(f"the file was removed or is invalid (HTTP {err.code} {err.reason})") from None
        raise fail(f"the landing page answered HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        raise fail(f"could not reach the landing page (no network?): {err.reason}") from None
    except (TimeoutError, ConnectionError, HTTPException) as err:
        raise fail(f"could not read the landing page (no network?): {err or type(err).__name__}") from None
    except LookupError:
        raise fail("the landing page declares an unknown character set") from None

    parser = _PageParser()
    parser.feed(page)
    parser.close()
    link = parser.button_link() or _plain_link(url, page)
    if link is None:
        if any(marker in page.lower() for marker in _REMOVED):
            raise fail("the file was removed or is invalid (MediaFire shows its 'File Removed' "
                       "or 'Invalid or Deleted File' page)")
        if parser.has_form and parser.mentions_captcha:
            raise fail("MediaFire answered with a captcha page instead of the download page")
        raise fail("no download link found on the page (MediaFire may have changed its layout)")
    link = urljoin(url, link)
    if not _acceptable(url, link):
        raise fail(f"the page links to {link}, which is not a MediaFire download host; refused")
    return link


def fetch_archive(url, dest, *, sha256=None, retries=5, timeout=30.0, progress=True,
                  manual_hint=MANUAL_HINT) -> Path:
    """Download the archive at `url` (a landing page is resolved first) into `dest`."""
    url, dest = str(url), Path(dest)
    if sha256 is not None and dest.is_file() and sha256_file(dest) == sha256.lower():
        return dest  # already here: no need to resolve a landing page
    part = dest.with_name(dest.name + ".part")
    _drop_if_html(part)  # never resume onto an HTML body
    source = url
    if is_landing_page(url):
        source = resolve(url, timeout=timeout, manual_hint=manual_hint)
        if progress:
            print(f"download {url}: resolved to {source}", file=sys.stderr)

    hint = manual_hint.replace("{url}", url)

    def refuse_html(path):
        if _looks_like_html(path):
            raise InputError(source, "the server sent an HTML page instead of the archive; "
                                     f"the file was deleted. {hint}")

    try:
        return download(source, dest, sha256=sha256, retries=retries, timeout=timeout,
                        progress=progress, check=refuse_html)
    except DownloadError as err:
        _drop_if_html(part)
        if source == url:
            raise
        raise DownloadError(source, f"{err.problem} (link found on {url}). {hint}") from None


class _PageParser(HTMLParser):
    """Collect the download button's attributes and captcha hints."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.button = None
        self.has_form = False
        self.mentions_captcha = False

    def handle_starttag(self, tag, attrs):
        attrs = {name.lower(): value or "" for name, value in attrs}
        if tag == "form":
            self.has_form = True
        if "captcha" in tag or any("captcha" in value.lower() for value in attrs.values()):
            self.mentions_captcha = True
        if tag == "a" and attrs.get("id") == "downloadButton" and self.button is None:
            self.button = attrs

    def button_link(self):
        """The button's href, else its decoded `data-scrambled-url`; None if neither is usable."""
        if self.button is None:
            return None
        href = self.button.get("href", "")
        if not _PLACEHOLDER.fullmatch(href):
            return href.strip()
        scrambled = self.button.get("data-scrambled-url", "").strip()
        scrambled += "=" * (-len(scrambled) % 4)  # tolerate stripped padding
        try:
            link = base64.b64decode(scrambled, validate=True).decode("ascii").strip()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return link if link.lower().startswith(("http://", "https://")) else None


def _plain_link(page_url, page):
    """The first download link written anywhere in the page (also in scripts), or None."""
    patterns = [_PLAIN_LINK]
    host = (urlsplit(page_url).hostname or "").lower()
    if host in _test_hosts():
        patterns.append(rf"https?://{re.escape(host)}(?::\d+)?/[^\s\"'<>\\]+")
    text = page.replace("\\/", "/")  # links inside JavaScript strings
    for match in re.finditer("|".join(f"(?:{p})" for p in patterns), text, re.IGNORECASE):
        link = html.unescape(match[0])
        if _acceptable(page_url, link) and not is_landing_page(link):
            return link
    return None


def _acceptable(page_url, link):
    """https on a MediaFire download host; or, for a page on a test host, that host."""
    parts, page = urlsplit(link), urlsplit(page_url)
    host, scheme = (parts.hostname or "").lower(), parts.scheme.lower()
    if scheme == "https" and _DOWNLOAD_HOST.fullmatch(host):
        return True
    page_host = (page.hostname or "").lower()
    return scheme in ("http", "https") and host == page_host and host in _test_hosts()


def _is_error_page(url):
    name = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1].lower()
    return name.startswith("error")


def _test_hosts():
    return {h.strip().lower() for h in os.environ.get(TEST_HOSTS_ENV, "").split(",") if h.strip()}


def _looks_like_html(path):
    """Whether `path` starts like an HTML page rather than a gzip or tar archive."""
    with open(path, "rb") as f:
        head = f.read(_HEAD)
    if head.startswith(b"\x1f\x8b") or head[257:262] == b"ustar":
        return False
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def _drop_if_html(part):
    if part.is_file() and _looks_like_html(part):
        part.unlink()

