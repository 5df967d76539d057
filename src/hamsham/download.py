"""Download one file over HTTP(S), resumably, with retries and an optional sha256 check.

The bytes go to `<dest>.part` and become `dest` (by an atomic rename) only
once complete and verified. A `.part` left by an interrupted run is resumed
with a `Range` request (a server answering 200 instead of 206 restarts from
zero). Connection errors, timeouts (`timeout` is per connect and per read),
cut connections and 5xx answers are retried with exponential backoff;
other 4xx answers, redirect loops and checksum mismatches are not. Bytes are
stored exactly as served (no Content-Encoding decoding).
"""
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
import urllib3

from hamsham.checksum import sha256_file
from hamsham.errors import InputError

_CHUNK = 1 << 20
_MAX_SLEEP = 60.0
_LOG_EVERY = 2.0


class DownloadError(InputError):
    """A download failed; `.path` is the URL."""


class _Retry(Exception):
    """A failure worth another attempt."""


def download(url, dest, *, sha256=None, retries=5, timeout=30.0, max_redirects=10, backoff=1.0,
             progress=True, check=None) -> Path:
    """Fetch `url` into `dest` and return `dest`.

    An existing `dest` is kept, without network access, only when `sha256` is
    given and matches it. After `retries` failed retries the `.part` file is
    kept for a later resume; on a checksum mismatch it is deleted. `check`,
    if given, is called with the finished `.part` path before the checksum;
    if it raises, the `.part` is deleted and the error propagates.
    """
    url, dest = str(url), Path(dest)
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise DownloadError(url, "only http:// and https:// URLs can be downloaded "
                                 "(pass a local archive as a path instead)")
    if sha256 is not None:
        if not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
            raise DownloadError(url, f"sha256 must be 64 hexadecimal digits, got {sha256!r}")
        sha256 = sha256.lower()
        if dest.is_file() and sha256_file(dest) == sha256:
            return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    with requests.Session() as session:
        session.max_redirects = max_redirects
        for attempt in range(retries + 1):
            try:
                _fetch(session, url, part, timeout, progress)
                break
            except _Retry as err:
                if attempt == retries:
                    raise DownloadError(url, f"failed after {retries + 1} attempt(s): {err}") from None
                pause = min(backoff * 2**attempt, _MAX_SLEEP)
                if progress:
                    print(f"download {url}: {err}; retrying in {pause:.1f} s", file=sys.stderr)
                time.sleep(pause)
    if check is not None:
        try:
            check(part)
        except Exception:
            part.unlink(missing_ok=True)
            raise
    if sha256 is not None:
        actual = sha256_file(part)
        if actual != sha256:
            part.unlink()
            raise DownloadError(url, f"sha256 mismatch: expected {sha256}, got {actual}; "
                                     "the downloaded file was deleted")
    os.replace(part, dest)
    if progress:
        print(f"download {url}: done, {dest.stat().st_size / 1e6:.1f} MB in {dest}", file=sys.stderr)
    return dest


def _fetch(session, url, part, timeout, progress):
    """One attempt: resume or restart `part`; raise `_Retry` for transient failures."""
    have = part.stat().st_size if part.is_file() else 0
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        with session.get(url, headers=headers, stream=True, timeout=(timeout, timeout)) as response:
            status, content_range = response.status_code, _content_range(response)
            if status == 416 and have and content_range == (None, have):
                return  # an earlier run got every byte but stopped before the rename
            if status >= 500:
                raise _Retry(f"HTTP {status} {response.reason}")
            if status == 206 and content_range[0] == have:
                total = content_range[1]
            elif status == 200:
                have, total = 0, _int(response.headers.get("Content-Length"))
            elif status in (206, 416):
                part.unlink(missing_ok=True)
                raise _Retry(f"server could not resume at byte {have}; restarting from zero")
            else:
                raise DownloadError(url, f"HTTP {status} {response.reason} (not retried)")
            have = _stream(url, response, part, have, total, progress)
    except requests.TooManyRedirects:
        raise DownloadError(url, f"more than {session.max_redirects} redirects (a redirect loop?)") from None
    except requests.exceptions.SSLError as err:
        raise DownloadError(url, f"TLS error: {err}") from None
    except (requests.Timeout, urllib3.exceptions.ReadTimeoutError):
        raise _Retry(f"timed out (no answer or no data within {timeout} s)") from None
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
            urllib3.exceptions.HTTPError) as err:
        raise _Retry(f"connection failed: {err}") from None
    except requests.RequestException as err:
        raise DownloadError(url, str(err)) from None
    if total is not None and have != total:
        raise _Retry(f"connection closed after {have} of {total} bytes")


def _stream(url, response, part, have, total, progress):
    """Append the body to `part` (from byte `have`); return the new size."""
    start = last_log = time.monotonic()
    got = 0
    with open(part, "ab" if have else "wb") as f:
        # read1 hands over whatever arrived, so a stall or cut loses nothing already received.
        while chunk := response.raw.read1(_CHUNK, decode_content=False):
            f.write(chunk)
            got += len(chunk)
            now = time.monotonic()
            if progress and now - last_log >= _LOG_EVERY:
                last_log = now
                of = f" of {total / 1e6:.1f}" if total is not None else ""
                print(f"download {url}: {(have + got) / 1e6:.1f}{of} MB, "
                      f"{got / 1e6 / (now - start):.2f} MB/s", file=sys.stderr)
        f.flush()
        os.fsync(f.fileno())
    return have + got


def _content_range(response):
    """(first byte, total) from `Content-Range: bytes a-b/n` or `bytes */n`; None where absent."""
    header = response.headers.get("Content-Range", "").strip()
    match = re.fullmatch(r"bytes (?:(\d+)-\d+|\*)/(\d+|\*)", header)
    return (_int(match[1]), _int(match[2])) if match else (None, None)


def _int(text):
    return int(text) if text and text.isdigit() else None

