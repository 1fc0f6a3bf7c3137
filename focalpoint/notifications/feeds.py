"""Fetch and parse RSS, Atom and RDF feeds without trusting the other side.

Pure functions (no Flask, no database):

- ``fetch(url)`` downloads a feed over HTTP(S) with one *total* time limit (DNS, connect,
  redirects, headers and body together), a byte cap on the body and on its decompressed size,
  re-validated redirects, conditional GET, and optional SSRF protection (``block_private``:
  every resolved address must be public, and the connection is pinned to the vetted address).
- ``parse_feed(body, headers)`` refuses documents that declare XML entities (billion laughs,
  XXE, quadratic blowup), hands the bytes to feedparser as a stream, and returns plain
  dataclasses whose HTML has been sanitised with nh3.

Every failure is a ``FeedError`` with a short English message (``str(e)``) and a stable ``code``.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import http.client
import io
import ipaddress
import math
import re
import socket
import ssl
import threading
import time
import urllib.parse
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from html.parser import HTMLParser

import feedparser
import nh3

try:  # the same function feedparser.parse() uses; pinned feedparser 6.0.x
    from feedparser.encodings import convert_to_utf8 as _fp_convert_to_utf8
except ImportError:  # pragma: no cover - a future feedparser may move it
    _fp_convert_to_utf8 = None

__all__ = [
    "FeedError",
    "FetchResult",
    "FeedEntry",
    "ParsedFeed",
    "fetch",
    "parse_feed",
    "sanitize_html",
    "html_to_text",
    "is_public_address",
]

DEFAULT_USER_AGENT = "FocalPoint/1.0 (+feed reader)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

MAX_GUID = 500
MAX_LINK = 2000
MAX_TITLE = 1000
MAX_SUMMARY_HTML = 200_000
MAX_TEXT = 100_000
UNTITLED = "(untitled)"

_READ_CHUNK = 64 * 1024
_MAX_URL = 8192
# Raw HTML handed to nh3 for one entry; the sanitised result is then cut to MAX_SUMMARY_HTML.
_MAX_RAW_HTML = 2_000_000
# A prolog (everything before the root element) longer than this, in a document that contains
# "<!ENTITY" somewhere, is refused rather than scanned further.
_MAX_PROLOG_SCAN = 1_000_000

_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


class FeedError(Exception):
    """Any failure to fetch or parse a feed.

    ``str(e)`` is a short, user-facing English message; ``e.code`` is a stable slug:
    timeout, too_large, entities, not_a_feed, http_error, connection, redirects,
    blocked_address, bad_url, decompression, empty, encoding.
    """

    def __init__(self, message: str, code: str = "error"):
        super().__init__(message)
        self.code = code

    @property
    def message(self) -> str:
        return str(self)


@dataclass
class FetchResult:
    status: int  # 200 (or another 2xx), or 304 when not modified (body then b"")
    body: bytes
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    url: str  # final URL after redirects
    etag: str | None
    last_modified: str | None


@dataclass
class FeedEntry:
    guid: str
    link: str | None
    title: str
    summary_html: str
    text: str
    published: datetime | None


@dataclass
class ParsedFeed:
    title: str
    entries: list[FeedEntry]
    bozo: str | None


# --------------------------------------------------------------------------------------------
# Small helpers for messages
# --------------------------------------------------------------------------------------------


def _human_size(n: int) -> str:
    if n >= 2**20:
        return f"{n / 2**20:.3g} MB"
    if n >= 1024:
        return f"{n / 1024:.3g} KB"
    return f"{n} bytes"


def _seconds(t: float) -> str:
    return f"{t:g} s"


def _timeout_error(total_timeout: float) -> FeedError:
    return FeedError(f"The server took longer than {_seconds(total_timeout)} to answer", "timeout")


def _short(text: str, limit: int = 120) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------
# The SSRF classifier
# --------------------------------------------------------------------------------------------

_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
_LEGACY_IPV4 = re.compile(r"[0-9a-fA-FxX.]+")


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]  # IPv6 zone id ("fe80::1%eth0")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    # The legacy forms that inet_aton (and so getaddrinfo) accepts: 0x7f000001, 2130706433,
    # 127.1, 0177.0.0.1.
    if text and _LEGACY_IPV4.fullmatch(text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            pass
    raise ValueError(f"not an IP address: {text!r}")


def _is_public(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(addr, ipaddress.IPv6Address):
        # Addresses that carry an IPv4 address are judged by that address.
        if addr.ipv4_mapped is not None:
            return _is_public(addr.ipv4_mapped)
        if addr in _NAT64_LOCAL_USE:
            return False
        if addr in _NAT64_WELL_KNOWN:
            return _is_public(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
        if addr.sixtofour is not None and not _is_public(addr.sixtofour):
            return False
        if addr.teredo is not None:
            return False
        if addr.is_site_local:
            return False
    if (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
    ):
        return False
    return addr.is_global


def is_public_address(ip: str) -> bool:
    """True only if ``ip`` is a globally routable unicast address.

    Refuses loopback, private (RFC 1918, ULA), shared (100.64/10), link-local (169.254/16,
    fe80::/10, so also 169.254.169.254), multicast, reserved, unspecified, documentation
    ranges, and IPv6 forms that embed one of those (IPv4-mapped, NAT64, 6to4). Accepts the
    legacy IPv4 spellings that the resolver accepts (``0x7f000001``, ``2130706433``,
    ``127.1``). Anything that is not an IP address is not public.
    """
    if not isinstance(ip, str):
        return False
    try:
        return _is_public(_parse_ip(ip))
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------------------------

_HOST_CHARS = re.compile(r"[a-z0-9._\-]+")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str  # ASCII, lower case, no brackets
    port: int
    request_path: str

    @property
    def key(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{self.request_path}"


def _parse_url(url: str) -> _Target:
    if not isinstance(url, str):
        raise FeedError("The feed address must be text", "bad_url")
    url = url.strip()
    if not url:
        raise FeedError("The feed address is empty", "bad_url")
    if len(url) > _MAX_URL:
        raise FeedError("The feed address is too long", "bad_url")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise FeedError("The feed address contains control characters", "bad_url")
    try:
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise FeedError("Only http:// and https:// feed addresses are supported", "bad_url")
        if parts.username is not None or parts.password is not None:
            raise FeedError(
                "Feed addresses with a user name or password are not supported", "bad_url"
            )
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        raise FeedError("The feed address is not a valid URL", "bad_url") from None
    if not host:
        raise FeedError("The feed address has no host name", "bad_url")
    if port is None:
        port = 443 if scheme == "https" else 80
    elif port == 0:
        raise FeedError("The feed address has an invalid port", "bad_url")
    if ":" in host or "%" in host:
        try:
            if "%" in host:
                raise ValueError
            host = str(ipaddress.IPv6Address(host))
        except ValueError:
            raise FeedError("The feed address has an invalid host name", "bad_url") from None
    else:
        if not host.isascii():
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                raise FeedError("The feed address has an invalid host name", "bad_url") from None
        host = host.rstrip(".") or host
        if not _HOST_CHARS.fullmatch(host):
            raise FeedError("The feed address has an invalid host name", "bad_url")
    path = urllib.parse.quote(parts.path or "/", safe=_PATH_SAFE)
    if not path.startswith("/"):
        path = "/" + path
    if parts.query:
        path += "?" + urllib.parse.quote(parts.query, safe=_QUERY_SAFE)
    return _Target(url=url, scheme=scheme, host=host, port=port, request_path=path)


# --------------------------------------------------------------------------------------------
# Sockets that never block past a deadline
# --------------------------------------------------------------------------------------------


class _DeadlineMixin:
    deadline: float = math.inf

    def _arm(self) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("total time limit reached")
        self.settimeout(remaining)  # type: ignore[attr-defined]


class _DeadlineSocket(_DeadlineMixin, socket.socket):
    """A socket whose every read and write waits at most until ``deadline``.

    http.client reads the status line, headers and body through ``makefile()``, which calls
    ``recv_into``; re-arming the timeout there turns per-read timeouts into one total limit.
    """

    def recv_into(self, buffer, nbytes=0, flags=0):
        self._arm()
        return super().recv_into(buffer, nbytes, flags)

    def recv(self, bufsize, flags=0):
        self._arm()
        return super().recv(bufsize, flags)

    def send(self, data, flags=0):
        self._arm()
        return super().send(data, flags)

    def sendall(self, data, flags=0):
        self._arm()
        return super().sendall(data, flags)


class _DeadlineSSLSocket(_DeadlineMixin, ssl.SSLSocket):
    def recv_into(self, buffer, nbytes=None, flags=0):
        self._arm()
        return super().recv_into(buffer, nbytes, flags)

    def recv(self, buflen=1024, flags=0):
        self._arm()
        return super().recv(buflen, flags)

    def send(self, data, flags=0):
        self._arm()
        return super().send(data, flags)

    def sendall(self, data, flags=0):
        self._arm()
        return super().sendall(data, flags)


def _resolve(host: str, port: int, deadline: float, total_timeout: float) -> list[tuple]:
    """getaddrinfo with the deadline (it has no timeout of its own, so it runs in a thread)."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        if literal.version == 6:
            return [(socket.AF_INET6, (str(literal), port, 0, 0))]
        return [(socket.AF_INET, (str(literal), port))]

    box: dict = {}

    def run() -> None:
        try:
            box["result"] = socket.getaddrinfo(
                host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, socket.IPPROTO_TCP
            )
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=run, name="feed-dns", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        raise _timeout_error(total_timeout)
    if "error" in box:
        exc = box["error"]
        if isinstance(exc, (socket.gaierror, UnicodeError)):
            raise FeedError(
                f"The host name {_short(host)} could not be resolved", "connection"
            ) from None
        raise exc
    addresses = []
    seen = set()
    for family, _type, _proto, _canon, sockaddr in box.get("result", []):
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        if sockaddr[0] in seen:
            continue
        seen.add(sockaddr[0])
        addresses.append((family, sockaddr))
    if not addresses:
        raise FeedError(f"The host name {_short(host)} could not be resolved", "connection")
    return addresses


def _connect(addresses: list[tuple], deadline: float) -> _DeadlineSocket:
    last_error: OSError | None = None
    for family, sockaddr in addresses:
        sock = _DeadlineSocket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.deadline = deadline
        try:
            sock._arm()
            sock.connect(sockaddr)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except TimeoutError:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            last_error = exc
    assert last_error is not None
    raise last_error


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to an address chosen (and vetted) before connecting.

    ``host`` stays the name from the URL, so the Host header and the TLS server name (SNI and
    certificate check) are the original ones while the socket goes to the pinned address.
    """

    def __init__(self, target: _Target, addresses: list[tuple], deadline: float):
        super().__init__(target.host, target.port)
        self.default_port = 443 if target.scheme == "https" else 80
        self._target = target
        self._addresses = addresses
        self._deadline = deadline

    def connect(self) -> None:
        sock = _connect(self._addresses, self._deadline)
        if self._target.scheme != "https":
            self.sock = sock
            return
        try:
            context = ssl.create_default_context()
            context.sslsocket_class = _DeadlineSSLSocket
            tls = context.wrap_socket(
                sock, server_hostname=self._target.host, do_handshake_on_connect=False
            )
            tls.deadline = self._deadline
            tls._arm()
            tls.do_handshake()
        except BaseException:
            sock.close()
            raise
        self.sock = tls


# --------------------------------------------------------------------------------------------
# Bodies: byte cap and bounded decompression
# --------------------------------------------------------------------------------------------


class _Inflater:
    """Decompresses gzip/deflate with never more than ``limit`` bytes of output held."""

    def __init__(self, encoding: str, limit: int):
        self._gzip = encoding in ("gzip", "x-gzip")
        self._limit = limit
        self._out = bytearray()
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS) if self._gzip else None
        self._started = False

    def _too_big(self) -> FeedError:
        return FeedError(
            f"The feed expands to more than {_human_size(self._limit)} when decompressed",
            "decompression",
        )

    def feed(self, data: bytes) -> None:
        if not data:
            return
        self._started = True
        try:
            if self._d is None:
                # "deflate" is meant to be zlib-wrapped, but some servers send raw deflate.
                zlib_wrapped = (
                    len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
                )
                self._d = zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)
            while data:
                if self._d.eof:
                    if self._gzip and data.strip(b"\0"):
                        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)  # next gzip member
                    else:
                        return  # trailing bytes after the stream: ignored
                room = self._limit - len(self._out)
                chunk = self._d.decompress(data, room + 1)
                self._out += chunk
                if len(self._out) > self._limit:
                    raise self._too_big()
                data = self._d.unused_data if self._d.eof else self._d.unconsumed_tail
        except zlib.error:
            raise FeedError("The server sent corrupt compressed data", "decompression") from None

    def finish(self) -> bytes:
        if self._started and self._d is not None and not self._d.eof:
            raise FeedError("The compressed feed is truncated", "decompression")
        return bytes(self._out)


class _Plain:
    def __init__(self, limit: int):
        self._parts: list[bytes] = []

    def feed(self, data: bytes) -> None:
        if data:
            self._parts.append(data)

    def finish(self) -> bytes:
        return b"".join(self._parts)


def _decoder_for(content_encoding: str, max_bytes: int):
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return _Plain(max_bytes)
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return _Inflater(codings[0], max_bytes)
    raise FeedError(
        f"The server used an unsupported content encoding ({_short(content_encoding, 40)})",
        "decompression",
    )


def _too_large(max_bytes: int) -> FeedError:
    return FeedError(f"The feed is larger than {_human_size(max_bytes)}", "too_large")


def _read_body(resp: http.client.HTTPResponse, max_bytes: int) -> bytes:
    length = resp.getheader("content-length")
    if length is not None:
        try:
            declared = int(length.split(",")[0].strip())
        except ValueError:
            declared = None
        if declared is not None and declared > max_bytes:
            raise _too_large(max_bytes)
    decoder = _decoder_for(resp.getheader("content-encoding") or "", max_bytes)
    received = 0
    while True:
        chunk = resp.read1(_READ_CHUNK)
        if not chunk:
            break
        received += len(chunk)
        if received > max_bytes:
            raise _too_large(max_bytes)
        decoder.feed(chunk)
    if resp.length:  # Content-Length promised more than arrived
        raise FeedError("The connection closed before the whole feed arrived", "connection")
    return decoder.finish()


def _response_headers(resp: http.client.HTTPResponse) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in resp.getheaders():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _status_message(status: int, reason: str) -> str:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = _short(reason or "", 60)
    return f"HTTP {status} {phrase}".rstrip()


# --------------------------------------------------------------------------------------------
# fetch()
# --------------------------------------------------------------------------------------------


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    total_timeout: float = 20.0,
    max_bytes: int = 10 * 2**20,
    max_redirects: int = 5,
    block_private: bool = False,
    user_agent: str = DEFAULT_USER_AGENT,
) -> FetchResult:
    """GET ``url`` and return the (decompressed) body, or raise FeedError.

    ``total_timeout`` bounds the whole call: name resolution, connecting, every redirect, the
    headers and the body. ``max_bytes`` caps both the bytes received and the decompressed
    size. With ``block_private`` every address the host resolves to must be public, and the
    connection goes to that vetted address (no second lookup, so no DNS rebinding).
    """
    deadline = time.monotonic() + total_timeout
    try:
        return _fetch(
            url,
            etag=etag,
            last_modified=last_modified,
            deadline=deadline,
            total_timeout=total_timeout,
            max_bytes=max_bytes,
            max_redirects=max_redirects,
            block_private=block_private,
            user_agent=user_agent,
        )
    except FeedError:
        raise
    except TimeoutError:
        raise _timeout_error(total_timeout) from None
    except Exception as exc:
        if time.monotonic() >= deadline:
            raise _timeout_error(total_timeout) from None
        raise _connection_error(exc) from None


def _connection_error(exc: Exception) -> FeedError:
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = getattr(exc, "verify_message", "") or "verification failed"
        return FeedError(f"The server's TLS certificate was refused ({detail})", "connection")
    if isinstance(exc, ssl.SSLError):
        return FeedError("The secure (TLS) connection to the server failed", "connection")
    if isinstance(exc, http.client.RemoteDisconnected):
        return FeedError("The server closed the connection without answering", "connection")
    if isinstance(exc, ConnectionRefusedError):
        return FeedError("Connection refused", "connection")
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return FeedError("The server reset the connection", "connection")
    if isinstance(exc, http.client.IncompleteRead):
        return FeedError("The connection closed before the whole feed arrived", "connection")
    if isinstance(exc, http.client.HTTPException):
        return FeedError("The server sent an invalid HTTP response", "connection")
    if isinstance(exc, OSError):
        detail = exc.strerror or type(exc).__name__
        return FeedError(f"Connection failed: {_short(detail, 80)}", "connection")
    return FeedError(f"Connection failed: {type(exc).__name__}", "connection")


def _fetch(
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    deadline: float,
    total_timeout: float,
    max_bytes: int,
    max_redirects: int,
    block_private: bool,
    user_agent: str,
) -> FetchResult:
    current = url.strip() if isinstance(url, str) else url
    seen: set[str] = set()
    redirects = 0
    while True:
        target = _parse_url(current)
        seen.add(target.key)
        addresses = _resolve(target.host, target.port, deadline, total_timeout)
        if block_private:
            for _family, sockaddr in addresses:
                if not is_public_address(sockaddr[0]):
                    raise FeedError(
                        f"Refused: {_short(target.host, 80)} points to a private, local or "
                        f"reserved network address ({_short(sockaddr[0], 60)})",
                        "blocked_address",
                    )
        headers = {
            "User-Agent": user_agent,
            "Accept": _ACCEPT,
            "Accept-Encoding": "gzip, deflate",
            "Connection": "close",
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        conn = _PinnedConnection(target, addresses, deadline)
        try:
            conn.request("GET", target.request_path, headers=headers)
            resp = conn.getresponse()
            status = resp.status
            if status in REDIRECT_STATUSES:
                location = (resp.getheader("location") or "").strip()
                if not location:
                    raise FeedError(
                        f"{_status_message(status, resp.reason)} without a Location header",
                        "http_error",
                    )
                try:  # http.client decodes headers as Latin-1; most servers mean UTF-8
                    location = location.encode("latin-1").decode("utf-8")
                except UnicodeError:
                    pass
                following = urllib.parse.urljoin(target.url, location)
                redirects += 1
                if redirects > max_redirects:
                    raise FeedError(f"Too many redirects (more than {max_redirects})", "redirects")
                next_target = _parse_url(following)  # raises bad_url for file:, ftp: …
                if next_target.key in seen:
                    raise FeedError(
                        "Redirect loop: the server redirected back to an address it had "
                        "already sent",
                        "redirects",
                    )
                current = following
                continue
            response_headers = _response_headers(resp)
            if status == 304:
                return FetchResult(
                    status=304,
                    body=b"",
                    headers=response_headers,
                    url=target.url,
                    etag=response_headers.get("etag") or etag,
                    last_modified=response_headers.get("last-modified") or last_modified,
                )
            if not 200 <= status < 300:
                raise FeedError(_status_message(status, resp.reason), "http_error")
            body = _read_body(resp, max_bytes)
            return FetchResult(
                status=status,
                body=body,
                headers=response_headers,
                url=target.url,
                etag=response_headers.get("etag"),
                last_modified=response_headers.get("last-modified"),
            )
        finally:
            conn.close()


# --------------------------------------------------------------------------------------------
# HTML: sanitising and plain text
# --------------------------------------------------------------------------------------------

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "div",
        "dl", "dt", "em", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "kbd", "li", "mark",
        "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "table",
        "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul", "var",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "abbr": {"title"},
    "ol": {"start"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
}
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Dropped with everything inside them (other disallowed tags are unwrapped, keeping their text).
_CLEAN_CONTENT_TAGS = frozenset(
    {
        "script", "style", "iframe", "object", "embed", "applet", "noscript", "noembed",
        "noframes", "template", "svg", "math", "form", "textarea", "select", "button", "title",
        "head", "xmp", "frameset", "frame",
    }
)  # fmt: skip

_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _clean_chars(text: str) -> str:
    """Drop C0 controls (but tab/CR/LF), DEL and lone surrogates (NUL breaks PostgreSQL)."""
    return _CONTROL_CHARS.sub("", text)


def sanitize_html(html: str) -> str:
    """Return ``html`` reduced to harmless markup (nh3 with an explicit allow-list).

    No scripts, styles, frames, forms, SVG/MathML, images, event handlers or ``style``
    attributes survive; URLs must be http, https or mailto (relative ones are dropped, since
    they would point into this application); links get rel="noopener noreferrer nofollow".
    Images are left out on purpose: remote images in feed HTML are read-tracking beacons.
    """
    if not isinstance(html, str):
        raise TypeError("sanitize_html() expects str")
    if not html:
        return ""
    cleaned = nh3.clean(
        _clean_chars(html),
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(_CLEAN_CONTENT_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        url_relative="deny",
    )
    return _clean_chars(cleaned)


_SKIP_TEXT_TAGS = _CLEAN_CONTENT_TAGS | {"script", "style"}
_INLINE_TAGS = frozenset(
    {
        "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "del", "dfn", "em", "font", "i",
        "ins", "kbd", "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub",
        "sup", "time", "tt", "u", "var", "wbr",
    }
)  # fmt: skip


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP_TEXT_TAGS:
            self._skipping.append(tag)
        elif tag not in _INLINE_TAGS:
            self.parts.append(" ")

    def handle_startendtag(self, tag, attrs):
        if tag not in _INLINE_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if self._skipping:
            if tag in self._skipping:
                while self._skipping and self._skipping.pop() != tag:
                    pass
        elif tag not in _INLINE_TAGS:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self._skipping:
            self.parts.append(data)


def _collapse(text: str) -> str:
    return " ".join(_clean_chars(text).split())


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, whitespace collapsed.

    Content of script/style and other non-text elements is dropped; block elements become
    word breaks.
    """
    if not isinstance(html, str):
        raise TypeError("html_to_text() expects str")
    if not html:
        return ""
    parser = _TextExtractor()
    try:
        parser.feed(_clean_chars(html))
        parser.close()
    except Exception:  # html.parser is lenient; this is a last resort
        return _collapse(re.sub(r"<[^>]*>", " ", html))
    return _collapse("".join(parser.parts))


# --------------------------------------------------------------------------------------------
# parse_feed()
# --------------------------------------------------------------------------------------------

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_DECL_TOKEN = re.compile(rb"[\"'\[\]<>]")


def _skip_declaration(data: bytes, i: int, limit: int) -> int:
    """From just after "<!", return the index after the declaration's closing ">"."""
    depth = 0
    n = len(data)
    while i < limit:
        m = _DECL_TOKEN.search(data, i, limit)
        if m is None:
            return n
        ch = data[m.start()]
        i = m.end()
        if ch in b"\"'":
            j = data.find(bytes([ch]), i)
            if j < 0:
                return n
            i = j + 1
        elif ch == ord("["):
            depth += 1
        elif ch == ord("]"):
            depth = max(0, depth - 1)
        elif ch == ord("<"):
            if data.startswith(b"!--", i):
                j = data.find(b"-->", i + 3)
                if j < 0:
                    return n
                i = j + 3
            elif data.startswith(b"?", i):
                j = data.find(b"?>", i + 1)
                if j < 0:
                    return n
                i = j + 2
        elif ch == ord(">") and depth == 0:
            return i
    return n


def _prolog_end(data: bytes, limit: int) -> int:
    """Index of the root element's "<" (or ``limit`` if not found before ``limit``)."""
    i = 0
    while True:
        i = data.find(b"<", i, limit)
        if i < 0:
            return limit
        if data.startswith(b"<?", i):
            j = data.find(b"?>", i + 2)
            i = len(data) if j < 0 else j + 2
        elif data.startswith(b"<!--", i):
            j = data.find(b"-->", i + 4)
            i = len(data) if j < 0 else j + 3
        elif data.startswith(b"<!", i):
            i = _skip_declaration(data, i + 2, limit)
        else:
            return i
        if i >= limit:
            return limit


def _declares_entities(data: bytes) -> bool:
    """True if "<!ENTITY" occurs before the root element (DOCTYPE internal subset included)."""
    first = _ENTITY_DECL.search(data)
    if first is None:
        return False
    if first.start() > _MAX_PROLOG_SCAN:
        # Only look that far: a feed does not have a megabyte of prolog.
        return _prolog_end(data, _MAX_PROLOG_SCAN) >= _MAX_PROLOG_SCAN
    return _prolog_end(data, first.start() + 1) > first.start()


def _refuse_entities(body: bytes, headers: dict[str, str]) -> None:
    candidates = [body]
    if _fp_convert_to_utf8 is not None:
        # Check the very bytes feedparser will parse, in case the document is in UTF-16/32 or
        # EBCDIC (declared by BOM, XML declaration or the Content-Type charset).
        try:
            converted = _fp_convert_to_utf8(dict(headers), body, {})
        except Exception:
            converted = None
        if isinstance(converted, bytes) and converted is not body:
            candidates.append(converted)
    else:  # pragma: no cover
        for codec in ("utf-16", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp037"):
            candidates.append(body.decode(codec, "ignore").encode("utf-8", "ignore"))
    for data in candidates:
        if _declares_entities(data):
            raise FeedError("The document declares XML entities, which are refused", "entities")


def _head_text(body: bytes) -> str:
    head = body[:2048]
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):].decode(codec, "ignore").lower()
    return head.decode("latin-1").lower()


def _not_a_feed(body: bytes, headers: dict[str, str], result) -> FeedError:
    content_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
    head = _head_text(body).lstrip()
    if (
        content_type in ("text/html", "application/xhtml+xml")
        or head.startswith("<!doctype html")
        or re.match(r"(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<html[\s>]", head, re.S)
    ):
        return FeedError("Not a feed: the server sent an HTML page", "not_a_feed")
    if "json" in content_type or head[:1] in ("{", "["):
        return FeedError("Not a feed: the server sent JSON, not RSS or Atom", "not_a_feed")
    exc = result.get("bozo_exception")
    if exc is not None and type(exc).__name__ == "CharacterEncodingUnknown":
        return FeedError("The feed's character encoding could not be determined", "encoding")
    sample = body[:4096]
    if b"\0" in sample or sum(b < 9 or 13 < b < 32 for b in sample) > len(sample) // 20:
        return FeedError("Not a feed: the server sent binary data", "not_a_feed")
    return FeedError("Not a feed: the document has no RSS, Atom or RDF structure", "not_a_feed")


def _bozo_text(exc) -> str:
    if hasattr(exc, "getMessage") and hasattr(exc, "getLineNumber"):  # SAXParseException
        text = f"{exc.getMessage()} (line {exc.getLineNumber()}, column {exc.getColumnNumber()})"
    else:
        text = str(exc) or type(exc).__name__
    return _short(_collapse(text), 500)


def _plain(value, detail) -> str:
    if not isinstance(value, str) or not value:
        return ""
    kind = (detail or {}).get("type") or "text/plain"
    if kind in ("text/html", "application/xhtml+xml"):
        return html_to_text(value[: MAX_TITLE * 20])
    return _collapse(value[: MAX_TITLE * 20])


def _safe_link(value) -> str | None:
    if not isinstance(value, str):
        return None
    link = value.strip().replace(" ", "%20")
    if not link or len(link) > MAX_LINK:
        return None
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in link):
        return None
    try:
        parts = urllib.parse.urlsplit(link)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return link


def _entry_html(entry) -> str:
    chosen = None
    for content in entry.get("content") or []:
        if not isinstance(content, dict) or not content.get("value"):
            continue
        if chosen is None or (
            content.get("type") in ("text/html", "application/xhtml+xml")
            and chosen.get("type") not in ("text/html", "application/xhtml+xml")
        ):
            chosen = content
    if chosen is None:
        summary = entry.get("summary")
        if not isinstance(summary, str) or not summary:
            return ""
        chosen = entry.get("summary_detail") or {"type": "text/html"}
        chosen = {"value": summary, "type": chosen.get("type") or "text/html"}
    value = str(chosen.get("value") or "")[:_MAX_RAW_HTML]
    if chosen.get("type") not in ("text/html", "application/xhtml+xml"):
        value = html_lib.escape(value).replace("\n", "<br>\n")
    return value


def _capped_sanitize(raw: str, cap: int) -> str:
    full = sanitize_html(raw)
    if len(full) <= cap:
        return full
    cut = cap
    while True:
        out = sanitize_html(full[:cut])  # re-sanitising closes anything the cut left open
        if len(out) <= cap:
            return out
        cut -= max(len(out) - cap, 256)


def _published(entry) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime(*tuple(value)[:6], tzinfo=timezone.utc)
            except (TypeError, ValueError, OverflowError):
                continue
    return None


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _make_entry(entry) -> FeedEntry:
    title = _plain(entry.get("title"), entry.get("title_detail"))[:MAX_TITLE].strip() or UNTITLED
    link = _safe_link(entry.get("link"))
    full_html = sanitize_html(_entry_html(entry))
    summary_html = _capped_sanitize(full_html, MAX_SUMMARY_HTML)
    text = html_to_text(full_html)[:MAX_TEXT]
    raw_id = entry.get("id")
    guid = _collapse(raw_id) if isinstance(raw_id, str) else ""
    if len(guid) > MAX_GUID:
        guid = _sha256(guid)
    if not guid:
        basis = (link or "") + "\n" + title
        if not link and title == UNTITLED:
            basis += "\n" + text  # nothing else tells such entries apart
        guid = _sha256(basis)
    return FeedEntry(
        guid=guid,
        link=link,
        title=title,
        summary_html=summary_html,
        text=text,
        published=_published(entry),
    )


def parse_feed(
    body: bytes, headers: dict[str, str] | None = None, *, max_entries: int = 5000
) -> ParsedFeed:
    """Parse feed bytes (RSS 0.9x/1.0/2.0, Atom 0.3/1.0) into sanitised entries.

    ``headers`` are the HTTP response headers (names in any case); feedparser uses
    Content-Type for the encoding and Content-Location as the base for relative links.
    Raises FeedError: empty, entities, not_a_feed, encoding.
    """
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise TypeError("parse_feed() expects the document as bytes")
    body = bytes(body)
    if not body.strip():
        raise FeedError("The server sent an empty document", "empty")
    hdrs: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        hdrs[str(name).lower()] = str(value)
    _refuse_entities(body, hdrs)
    try:
        result = feedparser.parse(
            io.BytesIO(body),
            response_headers=hdrs,
            sanitize_html=True,
            resolve_relative_uris=True,
        )
    except MemoryError:
        raise
    except Exception as exc:
        raise FeedError(
            f"The document could not be parsed as a feed ({type(exc).__name__})", "not_a_feed"
        ) from None
    entries = result.get("entries") or []
    if not result.get("version") and not entries:
        raise _not_a_feed(body, hdrs, result)
    feed_info = result.get("feed") or {}
    title = _plain(feed_info.get("title"), feed_info.get("title_detail"))[:MAX_TITLE].strip()
    bozo = _bozo_text(result.get("bozo_exception")) if result.get("bozo") else None
    return ParsedFeed(
        title=title,
        entries=[_make_entry(e) for e in entries[: max(0, max_entries)]],
        bozo=bozo,
    )
