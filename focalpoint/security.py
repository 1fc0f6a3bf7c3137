"""Access rules for every endpoint, safe redirects, security headers and client addresses."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user

#: Endpoint attribute holding its access rule: "public", "authenticated", or a frozenset of roles.
ACCESS_ATTR = "_focalpoint_access"

PUBLIC = "public"
AUTHENTICATED = "authenticated"


def public(view):
    """Anyone, logged in or not."""
    setattr(view, ACCESS_ATTR, PUBLIC)
    return view


def authenticated(view):
    """Any logged-in user, whatever the role."""
    setattr(view, ACCESS_ATTR, AUTHENTICATED)
    return view


def roles_required(*roles):
    """Users with one of ``roles``; the admin role passes every role check."""
    wanted = frozenset(str(r) for r in roles)

    def decorator(view):
        setattr(view, ACCESS_ATTR, wanted)
        return view

    return decorator


def access_rule(endpoint: str | None):
    if endpoint is None:
        return None
    if endpoint == "static" or endpoint.endswith(".static"):
        return PUBLIC
    view = current_app.view_functions.get(endpoint)
    return getattr(view, ACCESS_ATTR, None)


def user_may(rule, user) -> bool:
    if rule == PUBLIC:
        return True
    if not user.is_authenticated:
        return False
    if rule == AUTHENTICATED:
        return True
    if not rule:
        return False
    roles = {str(r) for r in user.roles}
    return "admin" in roles or bool(roles & rule)


def enforce_access():
    """before_request hook: every endpoint must declare its rule; undeclared ones are refused."""
    if request.endpoint is None:  # 404 / 405: let Flask answer
        return None
    rule = access_rule(request.endpoint)
    if rule is None:
        current_app.logger.error("endpoint %s has no access rule: refused", request.endpoint)
        abort(403)
    if rule == PUBLIC:
        return None
    if not current_user.is_authenticated:
        if request.method not in ("GET", "HEAD"):
            # After login the browser would GET a POST-only address: go to the dashboard instead.
            return redirect(url_for("auth.login"))
        return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
    if not user_may(rule, current_user):
        abort(403)
    return None


# --- redirects ----------------------------------------------------------------------------------
_BAD_NEXT = re.compile(r"[\\\x00-\x20\x7f]")


def safe_next(target: str | None, default: str = "/") -> str:
    """Return ``target`` when it is a path on this site, else ``default``.

    Refuses absolute and scheme-relative URLs, backslashes (browsers read ``/\\evil.com`` as
    ``//evil.com``), control characters and white space, and encoded slashes at the start.
    """
    if not target or len(target) > 2000:
        return default
    if _BAD_NEXT.search(target):
        return default
    if not target.startswith("/") or target.startswith("//"):
        return default
    if target.lower().startswith(("/%2f", "/%5c")):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


# --- client address -----------------------------------------------------------------------------
def client_address() -> str:
    """The client's address; X-Forwarded-For is trusted only for PROXY_COUNT proxies."""
    hops = current_app.config.get("PROXY_COUNT", 0)
    if hops:
        forwarded = [p.strip() for p in request.headers.get("X-Forwarded-For", "").split(",") if p.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops][:64]
    return (request.remote_addr or "unknown")[:64]


# --- headers ------------------------------------------------------------------------------------
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def set_security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.endpoint and not request.endpoint.endswith("static"):
        headers.setdefault("Cache-Control", "no-store")
    return response


def external_url(endpoint: str, **values) -> str:
    """An absolute link for e-mails and feeds, built from BASE_URL, never from the Host header."""
    adapter = current_app.url_map.bind("localhost")
    path = adapter.build(endpoint, values, force_external=False)
    return current_app.config["BASE_URL"].rstrip("/") + path


