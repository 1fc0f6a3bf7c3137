"""Fetch and parse RSS, Atom and RDF feeds without trusting the other side.

Pure functions (no Flask, no database):

- ``fetch(url)`` downloads a feed over HTTP(S) with one *total* time limit (DNS, connect,
  redirects, headers and body together), a byte cap on the body and on its decompressed size,
  re-validated redirects, conditional GET, and optional SSRF protection (``block_private``:
  every resolved address must be public, and the connection is pinned to the vetted address).
- ``parse_feed(body, headers)`` refuses documents that declare XML entities (billion laughs,
  XXE, quadratic blowup), hands the bytes to feedparser as a stream (never a str, which it
  would open as a path or URL), and returns plain dataclasses whose HTML has been sanitised
  with nh3. feedparser runs in a reusable helper process with a time and memory limit, since
  some inputs make it run for minutes; a few of its slow regular expressions are also swapped
  for linear ones (see "feedparser hardening" below: this changes feedparser process-wide).

Every failure is a ``FeedError`` with a short English message (``str(e)``) and a stable ``code``.
"""

from __future__ import annotations

import atexit
import hashlib
import html as html_lib
import http.client
import io
import ipaddress
import logging
import math
import os
import re
import socket
import ssl
import sys
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

# parse_feed() runs feedparser in a helper process with these limits.
PARSE_TIMEOUT = 30.0
PARSE_MEMORY_LIMIT = 2**30  # address space of the helper process
_WORKER_START_TIMEOUT = 30.0

_READ_CHUNK = 64 * 1024
_LONGEST_WAIT = 86_400.0  # socket and thread waits must be finite even with total_timeout=inf
_MAX_URL = 8192
# Raw HTML handed to nh3 for one entry; the sanitised result is then cut to MAX_SUMMARY_HTML.
_MAX_RAW_HTML = 2_000_000
# A prolog (everything before the root element) longer than this, in a document that contains
# "<!ENTITY" somewhere, is refused rather than scanned further.
_MAX_PROLOG_SCAN = 1_000_000
# Longest part before the first "<" + word character (see _check_prolog).
_MAX_PROLOG = 64 * 1024

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
    #: RSS guid / Atom id / RDF about; else "sha256:" + sha256(link + "\n" + title) (+ "\n" + text
    #: when there is neither link nor title). Never empty, at most 500 characters (a longer id
    #: is replaced by "sha256:" + its hash).
    guid: str
    #: Only absolute http(s) links, at most 2000 characters.
    link: str | None
    #: Plain text, whitespace collapsed, at most 1000 characters; "(untitled)" if none.
    title: str
    #: Content (else summary), sanitised by sanitize_html(), at most 200,000 characters.
    summary_html: str
    #: Plain text of the same HTML, whitespace collapsed, at most 100,000 characters.
    text: str
    #: Published (else updated), timezone-aware UTC; None if absent or unparseable.
    published: datetime | None


@dataclass
class ParsedFeed:
    title: str  # plain text, "" if none
    entries: list[FeedEntry]
    #: feedparser's complaint when it parsed the document despite it (ill-formed but usable).
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
        self.settimeout(min(remaining, _LONGEST_WAIT))  # type: ignore[attr-defined]


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
    worker.join(min(max(0.0, deadline - time.monotonic()), _LONGEST_WAIT))
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
    def __init__(self) -> None:
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
        return _Plain()
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


def _header_value(value: str | None) -> str | None:
    """A stored validator or user agent, as a header value (no control characters)."""
    if not isinstance(value, str):
        return None
    value = "".join(ch for ch in value if ch.isprintable()).strip()
    return value[:1000] or None


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
            "User-Agent": _header_value(user_agent) or DEFAULT_USER_AGENT,
            "Accept": _ACCEPT,
            "Accept-Encoding": "gzip, deflate",
            "Connection": "close",
        }
        if _header_value(etag):
            headers["If-None-Match"] = _header_value(etag)
        if _header_value(last_modified):
            headers["If-Modified-Since"] = _header_value(last_modified)
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
    return _sanitize(html)


def _sanitize(html: str, base: str | None = None) -> str:
    """sanitize_html(), resolving relative URLs against ``base`` (an absolute http(s) URL)."""
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
        url_relative=("rewrite_with_base", base) if base else "deny",
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
    # nh3 first: it drops script/style/… with their content and re-serialises the rest as
    # well-formed HTML, so html.parser never meets the unterminated constructs it is slow on.
    return _text_of_clean_html(_sanitize(html))


def _text_of_clean_html(clean: str) -> str:
    parser = _TextExtractor()
    parser.feed(clean)
    parser.close()
    return _collapse("".join(parser.parts))


# --------------------------------------------------------------------------------------------
# feedparser hardening
# --------------------------------------------------------------------------------------------
#
# feedparser 6.0.14 has regular expressions whose time grows faster than the input, measured on
# this stack: the XML-declaration encoding sniffer is cubic in the length of the first line
# (52 KB: 177 s), the DOCTYPE/ENTITY strippers are quadratic in the blank lines before the root
# element (40 KB of newlines: 10 s), and the author e-mail sniffer is quadratic in the length of an
# <author> (40 KB: 8 s; kurtmckee/feedparser#562). Its own HTML sanitiser and relative-URI
# resolver are quadratic on some embedded HTML too; those two are simply turned off (nh3 does
# the sanitising, and resolves relative URLs). The rest is fixed here, process-wide, by swapping
# in linear-time patterns with the same meaning for real documents. Each swap only happens if
# the pattern is still the known slow one, so a fixed feedparser is left alone.

_MAX_AUTHOR = 256  # characters of an RSS <author>/<dc:creator> given to feedparser's e-mail regex

_SAFE_PATTERNS = {
    # module, name, known slow pattern, linear replacement
    ("encodings", "RE_XML_PI_ENCODING"): (
        b"^<\\?.*encoding=[\\'\"](.*?)[\\'\"].*\\?>",
        re.compile(rb"^<\?[^\n>]{0,1024}?encoding=['\"]([^'\"\n>]{0,128})['\"][^\n]{0,1024}?\?>"),
    ),
    ("sanitizer", "RE_ENTITY_PATTERN"): (
        rb"^\s*<!ENTITY([^>]*?)>",
        re.compile(rb"^[ \t\r\f\v]*<!ENTITY([^>]{0,4096}?)>", re.MULTILINE),
    ),
    ("sanitizer", "RE_DOCTYPE_PATTERN"): (
        rb"^\s*<!DOCTYPE([^>]*?)>",
        re.compile(rb"^[ \t\r\f\v]*<!DOCTYPE([^>]{0,4096}?)>", re.MULTILINE),
    ),
}


def _harden_feedparser() -> None:
    import importlib

    for (module_name, attr), (slow, fast) in _SAFE_PATTERNS.items():
        try:
            module = importlib.import_module(f"feedparser.{module_name}")
        except ImportError:  # pragma: no cover
            continue
        current = getattr(module, attr, None)
        if isinstance(current, re.Pattern) and current.pattern == slow:
            setattr(module, attr, fast)
    try:
        from feedparser.mixin import _FeedParserMixin
    except ImportError:  # pragma: no cover
        return
    original = _FeedParserMixin.__dict__.get("_sync_author_detail")
    if original is None or getattr(original, "_focalpoint_bounded", False):
        return

    def _sync_author_detail(self, key="author"):
        context = self._get_context()
        value = context.get(key)
        if isinstance(value, str) and len(value) > _MAX_AUTHOR:
            context[key] = value[:_MAX_AUTHOR]
        return original(self, key)

    _sync_author_detail._focalpoint_bounded = True
    _FeedParserMixin._sync_author_detail = _sync_author_detail


_harden_feedparser()


# --------------------------------------------------------------------------------------------
# parse_feed()
# --------------------------------------------------------------------------------------------

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_FP_HEAD_END = re.compile(rb"<\w")  # where feedparser's replace_doctype() ends the prolog
_NAME_START = re.compile(rb"[\w:\x80-\xff]")
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
        elif _NAME_START.match(data, i + 1):
            return i
        else:
            i += 1  # a stray "<": not markup the prolog may hold, keep looking
        if i >= limit:
            return limit


def _declares_entities(data: bytes, head_end: int) -> bool:
    """True if "<!ENTITY" occurs before the root element (DOCTYPE internal subset included),
    by our reading of the prolog or by feedparser's (everything before the first "<\\w")."""
    first = _ENTITY_DECL.search(data)
    if first is None:
        return False
    if first.start() < head_end:
        return True
    if first.start() > _MAX_PROLOG_SCAN:
        # Only look that far: a feed does not have a megabyte of prolog.
        return _prolog_end(data, _MAX_PROLOG_SCAN) >= _MAX_PROLOG_SCAN
    return _prolog_end(data, first.start() + 1) > first.start()


def _check_prolog(body: bytes, headers: dict[str, str]) -> None:
    """Refuse entity declarations and overlong prologs before feedparser sees the document."""
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
        first_tag = _FP_HEAD_END.search(data)
        head_end = first_tag.start() if first_tag else 0
        if _declares_entities(data, head_end):
            raise FeedError("The document declares XML entities, which are refused", "entities")
        # feedparser runs regular expressions over everything before the first "<\\w"; nothing
        # in a feed needs that part to be long.
        if head_end > _MAX_PROLOG:
            raise FeedError(
                f"Not a feed: no root element in the first {_human_size(_MAX_PROLOG)}",
                "not_a_feed",
            )


def _head_text(body: bytes) -> str:
    head = body[:2048]
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):].decode(codec, "ignore").lower()
    return head.decode("latin-1").lower()


def _skip_misc(head: str) -> str:
    """``head`` without leading whitespace, processing instructions and comments."""
    while True:
        head = head.lstrip()
        if head.startswith("<?"):
            end = head.find("?>")
        elif head.startswith("<!--"):
            end = head.find("-->")
        else:
            return head
        if end < 0:
            return ""
        head = head[end + 2 :] if head.startswith("<?") else head[end + 3 :]


def _not_a_feed(body: bytes, headers: dict[str, str], result) -> FeedError:
    content_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
    head = _skip_misc(_head_text(body))
    if (
        content_type in ("text/html", "application/xhtml+xml")
        or head.startswith("<!doctype html")
        or re.match(r"<html[\s>]", head)
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


_HTML_TYPES = ("text/html", "application/xhtml+xml")


def _plain(value, detail) -> str:
    if not isinstance(value, str) or not value:
        return ""
    kind = (detail or {}).get("type") or "text/plain"
    if kind in _HTML_TYPES:
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


def _http_base(value) -> str | None:
    """``value`` if it is an absolute http(s) URL usable as a base for relative links."""
    if not isinstance(value, str) or not value or len(value) > MAX_LINK:
        return None
    try:
        parts = urllib.parse.urlsplit(value.strip())
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.hostname:
        return value.strip()
    return None


def _entry_html(entry, feed_base: str | None) -> tuple[str, str | None]:
    """The entry's richest HTML (content, else summary) and the base URL for its links."""
    chosen = None
    for content in entry.get("content") or []:
        if not isinstance(content, dict) or not content.get("value"):
            continue
        if chosen is None or (
            content.get("type") in _HTML_TYPES and chosen.get("type") not in _HTML_TYPES
        ):
            chosen = content
    if chosen is None:
        summary = entry.get("summary")
        if not isinstance(summary, str) or not summary:
            return "", feed_base
        detail = entry.get("summary_detail") or {}
        chosen = {
            "value": summary,
            "type": detail.get("type") or "text/html",
            "base": detail.get("base"),
        }
    value = str(chosen.get("value") or "")[:_MAX_RAW_HTML]
    if chosen.get("type") not in _HTML_TYPES:
        value = html_lib.escape(value).replace("\n", "<br>\n")
    return value, _http_base(chosen.get("base")) or feed_base


def _cap_clean_html(full: str, cap: int) -> str:
    """Cut already sanitised HTML to at most ``cap`` characters, still well-formed."""
    if len(full) <= cap:
        return full
    cut = cap
    while True:
        out = _sanitize(full[:cut])  # re-sanitising closes anything the cut left open
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


def _make_entry(entry, feed_base: str | None) -> FeedEntry:
    title = _plain(entry.get("title"), entry.get("title_detail"))[:MAX_TITLE].strip() or UNTITLED
    link = _safe_link(entry.get("link"))
    full_html = _sanitize(*_entry_html(entry, feed_base))
    summary_html = _cap_clean_html(full_html, MAX_SUMMARY_HTML)
    text = _text_of_clean_html(full_html)[:MAX_TEXT]
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


def _parse_local(body: bytes, hdrs: dict[str, str], max_entries: int) -> ParsedFeed:
    """The whole parse, in this process: prolog checks, feedparser, entries."""
    _check_prolog(body, hdrs)
    try:
        result = feedparser.parse(
            io.BytesIO(body),
            response_headers=hdrs,
            # Both are quadratic on some HTML; nh3 sanitises and resolves relative URLs instead.
            sanitize_html=False,
            resolve_relative_uris=False,
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
    feed_base = _http_base(hdrs.get("content-location"))
    return ParsedFeed(
        title=title,
        entries=[_make_entry(e, feed_base) for e in entries[: max(0, max_entries)]],
        bozo=bozo,
    )


def parse_feed(
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    max_entries: int = 5000,
    timeout: float | None = PARSE_TIMEOUT,
) -> ParsedFeed:
    """Parse feed bytes (RSS 0.9x/1.0/2.0, Atom 0.3/1.0) into sanitised entries.

    ``headers`` are the HTTP response headers (names in any case): Content-Type gives the
    encoding, Content-Location the base for relative links.

    feedparser's running time is not linear in its input for every document (a 1.3 MB feed of
    nested XHTML took 490 s), so the parse runs in a helper process, reused between calls,
    that is killed after ``timeout`` seconds and may use at most PARSE_MEMORY_LIMIT bytes.
    ``timeout=None`` parses in this process with no limit (trusted input only).

    Raises FeedError: empty, entities, not_a_feed, encoding, timeout, too_large.
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
    if timeout is None:
        return _parse_local(body, hdrs, max_entries)
    return _POOL.parse(body, hdrs, max_entries, timeout)


# --------------------------------------------------------------------------------------------
# The parsing helper process
# --------------------------------------------------------------------------------------------

_WORKER_BOOT = """\
import importlib.util, sys
spec = importlib.util.spec_from_file_location("_focalpoint_feed_worker", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
module._worker_main(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
"""


def _feed_to_wire(feed: ParsedFeed) -> tuple:
    return (
        feed.title,
        feed.bozo,
        [(e.guid, e.link, e.title, e.summary_html, e.text, e.published) for e in feed.entries],
    )


def _feed_from_wire(wire: tuple) -> ParsedFeed:
    title, bozo, entries = wire
    return ParsedFeed(title=title, bozo=bozo, entries=[FeedEntry(*fields) for fields in entries])


def _worker_main(read_fd: int, write_fd: int, memory_limit: int) -> None:
    """The helper process: parse requests from the pipe until it closes."""
    import warnings
    from multiprocessing.connection import Connection

    warnings.simplefilter("ignore")
    if memory_limit > 0:
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
        except (ImportError, ValueError, OSError):
            pass
    inbox = Connection(read_fd, writable=False)
    outbox = Connection(write_fd, readable=False)
    outbox.send(("ready",))
    while True:
        try:
            body, hdrs, max_entries = inbox.recv()
        except (EOFError, OSError):
            return
        except MemoryError:
            message = f"The feed needs more than {_human_size(memory_limit)} of memory to parse"
            outbox.send(("error", message, "too_large"))
            return
        out_of_memory = False
        try:
            reply = ("ok", _feed_to_wire(_parse_local(body, hdrs, max_entries)))
        except FeedError as exc:
            reply = ("error", str(exc), exc.code)
        except MemoryError:
            out_of_memory = True
            reply = None
        except Exception as exc:  # a bug in a parser: still the feed's error, not ours to crash on
            reply = (
                "error",
                f"The document could not be parsed as a feed ({type(exc).__name__})",
                "not_a_feed",
            )
        del body
        if out_of_memory:
            reply = (
                "error",
                f"The feed needs more than {_human_size(memory_limit)} of memory to parse",
                "too_large",
            )
        try:
            outbox.send(reply)
        except MemoryError:
            outbox.send(("error", "The parsed feed is too large to hand over", "too_large"))
            out_of_memory = True
        if out_of_memory:
            return  # start afresh next time


class _ParseWorker:
    def __init__(self) -> None:
        import subprocess
        from multiprocessing.connection import Connection

        if not sys.executable:
            raise OSError("no Python executable to start the feed parser with")
        child_read, parent_write = os.pipe()
        parent_read, child_write = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if isinstance(p, str) and p)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _WORKER_BOOT, os.path.abspath(__file__),
                 str(child_read), str(child_write), str(PARSE_MEMORY_LIMIT)],
                pass_fds=(child_read, child_write),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
            )  # fmt: skip
        except BaseException:
            for fd in (child_read, parent_write, parent_read, child_write):
                os.close(fd)
            raise
        os.close(child_read)
        os.close(child_write)
        self.owner = os.getpid()
        self.outbox = Connection(parent_write, readable=False)
        self.inbox = Connection(parent_read, writable=False)
        try:
            ready = self.inbox.poll(_WORKER_START_TIMEOUT) and self.inbox.recv() == ("ready",)
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.close()
            raise OSError("the feed parser process did not start")

    def usable(self) -> bool:
        return self.owner == os.getpid() and self.process.poll() is None

    def close(self) -> None:
        for conn in (self.outbox, self.inbox):
            try:
                conn.close()
            except OSError:
                pass
        if self.owner == os.getpid() and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class _WorkerPool:
    """Helper processes, one per concurrent parse, kept (up to ``max_idle``) for reuse."""

    def __init__(self, max_idle: int = 2) -> None:
        self._idle: list[_ParseWorker] = []
        self._lock = threading.Lock()
        self._max_idle = max_idle
        self._warned = False

    def _take(self) -> _ParseWorker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.usable():
                    return worker
                worker.close()
        return _ParseWorker()

    def _give_back(self, worker: _ParseWorker) -> None:
        with self._lock:
            if worker.usable() and len(self._idle) < self._max_idle:
                self._idle.append(worker)
                return
        worker.close()

    def close_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()

    def parse(self, body: bytes, hdrs: dict[str, str], max_entries: int, timeout: float):
        for attempt in (1, 2):
            try:
                worker = self._take()
            except OSError as exc:
                if not self._warned:
                    self._warned = True
                    logging.getLogger(__name__).warning(
                        "Parsing feeds in-process, without a time limit: %s", exc
                    )
                return _parse_local(body, hdrs, max_entries)
            deadline = time.monotonic() + timeout
            try:
                worker.outbox.send((body, hdrs, max_entries))
            except OSError:  # the process had died while idle: use a fresh one
                worker.close()
                if attempt == 1:
                    continue
                raise FeedError("The feed parser process failed", "not_a_feed") from None
            try:
                if not worker.inbox.poll(max(0.0, deadline - time.monotonic())):
                    worker.close()
                    raise FeedError(
                        f"The feed took longer than {_seconds(timeout)} to parse", "timeout"
                    )
                reply = worker.inbox.recv()
            except (EOFError, OSError):
                worker.close()
                raise FeedError(
                    "The feed parser process stopped (probably out of memory)", "too_large"
                ) from None
            self._give_back(worker)
            if reply[0] == "ok":
                return _feed_from_wire(reply[1])
            raise FeedError(reply[1], reply[2])
        raise AssertionError("unreachable")  # pragma: no cover


_POOL = _WorkerPool()
atexit.register(_POOL.close_all)
