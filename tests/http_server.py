"""A loopback HTTP server for tests, configurable per path, bounded in time and count.

    with LoopbackServer({"/f": Route(body=data, cut_after=1000)}) as server:
        download(server.url("/f"), dest)
        server.requests   # [(path, headers), ...] in arrival order

It listens on 127.0.0.1 (a free port), answers each request in a daemon
thread and closes every connection after one response (HTTP/1.0). Leaving
the `with` block stops it and wakes any handler still sleeping.
"""
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    """How one path answers; the behaviours apply in the order of the fields."""

    body: bytes = b""
    status: int = 200            # a status other than 200 is sent with an empty body
    redirect_to: str | None = None  # answer 302 to this path (itself: an endless loop)
    delay: float = 0.0           # sleep this long (interrupted at shutdown) before answering
    fail_times: int = 0          # answer 500 to this many requests first
    cut_after: int | None = None  # on the first 200/206 answer, close after this many body bytes
    stall: float = 0.0           # ... after waiting this long (interrupted at shutdown)
    ranges: bool = True          # honour `Range: bytes=N-` (False: always the whole body, 200)
    hits: int = 0                # requests seen so far (updated by the server)


class LoopbackServer:
    """Serve `routes` (path -> Route) on 127.0.0.1 until the `with` block ends."""

    def __init__(self, routes):
        self.routes = routes
        self.requests = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def url(self, path):
        return f"http://127.0.0.1:{self._httpd.server_port}{path}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server._answer(self)

            def log_message(self, *args):
                pass

        return Handler

    def _answer(self, handler):
        route = self.routes.get(handler.path)
        with self._lock:
            self.requests.append((handler.path, dict(handler.headers)))
            if route is not None:
                route.hits += 1
                hit = route.hits
        if route is None or route.status != 200:
            return _send(handler, 404 if route is None else route.status, b"")
        if route.redirect_to is not None:
            return _send(handler, 302, b"", Location=route.redirect_to)
        if route.delay and self._stopping.wait(route.delay):
            return None
        if hit <= route.fail_times:
            return _send(handler, 500, b"")
        status, body, headers = 200, route.body, {}
        match = re.fullmatch(r"bytes=(\d+)-", handler.headers.get("Range", ""))
        if match and route.ranges:
            start = int(match[1])
            if start >= len(body):
                return _send(handler, 416, b"", **{"Content-Range": f"bytes */{len(body)}"})
            status, body = 206, body[start:]
            headers["Content-Range"] = f"bytes {start}-{len(route.body) - 1}/{len(route.body)}"
        if hit != route.fail_times + 1 or route.cut_after is None:
            return _send(handler, status, body, **headers)
        _send(handler, status, body[:route.cut_after], length=len(body), **headers)
        self._stopping.wait(route.stall)
        return None


def _send(handler, status, body, length=None, **headers):
    """Answer with `body`, announcing `length` bytes (default: all of them)."""
    try:
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body) if length is None else length))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (a timeout test): nothing to do
