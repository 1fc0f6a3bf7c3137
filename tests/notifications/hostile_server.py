"""A small threaded HTTP server on 127.0.0.1 that misbehaves on request.

    from hostile_server import HostileServer, Respond, Redirect, Drip

    with HostileServer({"/feed": Respond(b"<rss .../>", headers={"Content-Type": "application/rss+xml"}),
                        "/slow": Drip(b"x" * 100, interval=1.0)}) as base:
        fetch(base + "/feed")

Routes map a path (with or without the query string) to a behaviour; plain bytes mean
``Respond(bytes)``; a callable that is not a behaviour is called with the ``Request`` and must
return one. Unknown paths get a 404. Every request is recorded in ``server.requests``.
The server speaks HTTP/1.1 with one request per connection. Standard library only.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = [
    "HostileServer",
    "Request",
    "Respond",
    "Redirect",
    "Drip",
    "Stream",
    "GzipBomb",
    "CloseWithoutAnswer",
    "NeverAnswer",
    "Conditional",
    "Raw",
    "closed_port",
]

_REASONS = {
    200: "OK", 204: "No Content", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 403: "Forbidden", 404: "Not Found", 410: "Gone",
    429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable",
}  # fmt: skip


@dataclass
class Request:
    method: str
    target: str  # as sent: path and query
    path: str  # without the query
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    client: tuple = ()


class _Conn:
    """What a behaviour gets: the socket, the request and the server's stop flag."""

    def __init__(self, sock, request: Request, stopping: threading.Event):
        self.sock = sock
        self.request = request
        self.stopping = stopping

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def sleep(self, seconds: float) -> bool:
        """Wait; False if the server is stopping."""
        return not self.stopping.wait(seconds)


def _head(status: int, headers: dict | list | None, reason: str | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason or _REASONS.get(status, 'Status')}"]
    items = headers.items() if isinstance(headers, dict) else (headers or [])
    names = set()
    for name, value in items:
        lines.append(f"{name}: {value}")
        names.add(name.lower())
    if "connection" not in names:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Behaviour:
    def serve(self, conn: _Conn) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class Respond(Behaviour):
    """A whole response. ``content_length=False`` sends the body close-delimited;
    ``chunked=True`` sends it with Transfer-Encoding: chunked (in 1 KB chunks)."""

    def __init__(self, body: bytes = b"", status: int = 200, headers=None, *,
                 content_length: bool = True, chunked: bool = False, reason: str | None = None):
        self.body = body
        self.status = status
        self.headers = dict(headers or {})
        self.content_length = content_length
        self.chunked = chunked
        self.reason = reason

    def serve(self, conn: _Conn) -> None:
        headers = dict(self.headers)
        if self.chunked:
            headers["Transfer-Encoding"] = "chunked"
        elif self.content_length and self.status not in (204, 304):
            headers.setdefault("Content-Length", str(len(self.body)))
        conn.send(_head(self.status, headers, self.reason))
        if conn.request.method == "HEAD" or self.status in (204, 304):
            return
        if self.chunked:
            for i in range(0, len(self.body), 1024):
                piece = self.body[i:i + 1024]
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
        else:
            conn.send(self.body)


class Redirect(Behaviour):
    def __init__(self, location: str, status: int = 302):
        self.location = location
        self.status = status

    def serve(self, conn: _Conn) -> None:
        conn.send(_head(self.status, {"Location": self.location, "Content-Length": "0"}))


class Drip(Behaviour):
    """Send ``body`` one byte every ``interval`` seconds. With ``drip_headers`` the status line
    and headers are dripped too; otherwise they go at once (with the full Content-Length)."""

    def __init__(self, body: bytes = b"<rss>" + b" " * 10_000, interval: float = 1.0,
                 headers=None, status: int = 200, drip_headers: bool = False):
        self.body = body
        self.interval = interval
        self.headers = dict(headers or {})
        self.status = status
        self.drip_headers = drip_headers

    def serve(self, conn: _Conn) -> None:
        headers = {"Content-Length": str(len(self.body)), **self.headers}
        head = _head(self.status, headers)
        payload = head + self.body
        if not self.drip_headers:
            conn.send(head)
            payload = self.body
        for i in range(len(payload)):
            conn.send(payload[i:i + 1])
            if not conn.sleep(self.interval):
                return


class Stream(Behaviour):
    """``size`` bytes made of ``chunk`` repeated, generated while sending (no big buffer)."""

    def __init__(self, size: int, chunk: bytes = b"<!-- padding -->" * 4096, headers=None,
                 content_length: bool = True, status: int = 200):
        self.size = size
        self.chunk = chunk
        self.headers = dict(headers or {})
        self.content_length = content_length
        self.status = status

    def serve(self, conn: _Conn) -> None:
        headers = dict(self.headers)
        if self.content_length:
            headers["Content-Length"] = str(self.size)
        conn.send(_head(self.status, headers))
        left = self.size
        while left > 0 and not conn.stopping.is_set():
            piece = self.chunk[:left]
            conn.send(piece)
            left -= len(piece)


class GzipBomb(Behaviour):
    """A gzip (or deflate) stream of ``decompressed_size`` zero bytes, compressed while sending
    (about 1 KB of gzip per MB of output), close-delimited."""

    def __init__(self, decompressed_size: int = 10 * 2**30, encoding: str = "gzip",
                 content_type: str = "application/rss+xml"):
        self.decompressed_size = decompressed_size
        self.encoding = encoding
        self.content_type = content_type

    def serve(self, conn: _Conn) -> None:
        wbits = 31 if self.encoding == "gzip" else 15
        comp = zlib.compressobj(9, zlib.DEFLATED, wbits)
        conn.send(_head(200, {"Content-Type": self.content_type,
                              "Content-Encoding": self.encoding}))
        zeros = bytes(2**20)
        left = self.decompressed_size
        while left > 0 and not conn.stopping.is_set():
            piece = zeros[:left]
            left -= len(piece)
            out = comp.compress(piece)
            if out:
                conn.send(out)
        conn.send(comp.flush())


class CloseWithoutAnswer(Behaviour):
    def serve(self, conn: _Conn) -> None:
        try:
            conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class NeverAnswer(Behaviour):
    """Read the request and then say nothing until the server stops."""

    def serve(self, conn: _Conn) -> None:
        conn.stopping.wait()


class Conditional(Behaviour):
    """200 with ETag/Last-Modified, or 304 when If-None-Match / If-Modified-Since match."""

    def __init__(self, body: bytes, etag: str | None = None, last_modified: str | None = None,
                 headers=None):
        self.body = body
        self.etag = etag
        self.last_modified = last_modified
        self.headers = dict(headers or {})

    def serve(self, conn: _Conn) -> None:
        validators = {}
        if self.etag:
            validators["ETag"] = self.etag
        if self.last_modified:
            validators["Last-Modified"] = self.last_modified
        sent = conn.request.headers
        inm = sent.get("if-none-match")
        ims = sent.get("if-modified-since")
        not_modified = False
        if inm is not None and self.etag:
            not_modified = self.etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*"
        elif ims is not None and self.last_modified:
            not_modified = ims.strip() == self.last_modified
        if not_modified:
            Respond(b"", 304, validators).serve(conn)
        else:
            Respond(self.body, 200, {**self.headers, **validators}).serve(conn)


class Raw(Behaviour):
    """Send these exact bytes (anything: a broken status line, garbage) and close."""

    def __init__(self, data: bytes):
        self.data = data

    def serve(self, conn: _Conn) -> None:
        conn.send(self.data)


class _Handler(socketserver.BaseRequestHandler):
    server: "_TCPServer"

    def handle(self) -> None:
        owner = self.server.owner
        sock = self.request
        try:
            if owner.ssl_context is not None:
                sock.settimeout(10)
                sock = owner.ssl_context.wrap_socket(sock, server_side=True)
            sock.settimeout(30)
            request = self._read_request(sock)
            if request is None:
                return
            owner._record(request)
            behaviour = owner._behaviour_for(request)
            sock.settimeout(None)
            behaviour.serve(_Conn(sock, request, owner.stopping))
        except (OSError, ssl.SSLError, ValueError):
            pass  # the client went away, refused our certificate, or sent garbage
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def _read_request(self, sock) -> Request | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
            if len(data) > 256 * 1024:
                return None
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        lines = head.split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        return Request(method=method, target=target, path=target.split("?", 1)[0],
                       headers=headers, client=self.client_address)


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    owner: "HostileServer"


class HostileServer:
    """Context manager: ``with HostileServer(routes) as base_url: ...``.

    ``ssl_context`` (a server-side ssl.SSLContext) makes it an https server.
    Attributes: ``routes`` (mutable), ``requests`` (list of Request), ``port``, ``base_url``.
    """

    def __init__(self, routes: dict | None = None, *, ssl_context: ssl.SSLContext | None = None,
                 host: str = "127.0.0.1"):
        self.routes: dict = dict(routes or {})
        self.ssl_context = ssl_context
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = _TCPServer((host, 0), _Handler)
        self._server.owner = self
        self.host = host
        self.port = self._server.server_address[1]
        scheme = "https" if ssl_context is not None else "http"
        self.base_url = f"{scheme}://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _behaviour_for(self, request: Request) -> Behaviour:
        route = self.routes.get(request.target, self.routes.get(request.path))
        if route is None:
            return Respond(b"not found", 404, {"Content-Type": "text/plain"})
        if isinstance(route, (bytes, bytearray)):
            return Respond(bytes(route))
        if isinstance(route, Behaviour):
            return route
        return route(request)

    def start(self) -> "HostileServer":
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="hostile-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> str:
        self.start()
        return self.base_url

    def __exit__(self, *exc) -> None:
        self.stop()


@contextmanager
def closed_port(host: str = "127.0.0.1"):
    """Yield a port on ``host`` that is bound but not listening: connecting is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
        yield sock.getsockname()[1]
    finally:
        sock.close()
