"""Per-IP fixed-window rate limits (NFR-2), counted in the Django cache (Redis in production).

Three buckets: log-in and sign-up attempts, public submissions (the report form, a message on
the secret page), and everything else.
`/health` and static files are never limited. Every answer carries the X-RateLimit-* headers
of the bucket it was counted in; over the limit the answer is a friendly 429 page.

The fixed-window counters below (`window_hit`, `window_count`, `window_unhit`) serve every
limit of the project: this middleware, the per-reporter limit, and failed log-ins (accounts).
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.core.cache import cache as django_cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .mailboxes import normalised_mailbox

WINDOW_SECONDS = 60
_AUTH_PATHS = ("/accounts/login/", "/accounts/signup/")
_EXEMPT_PREFIXES = ("/health", "/static/")


@dataclass(frozen=True)
class WindowHit:
    key: str
    count: int  # hits in this window so far, this one included
    reset_at: int  # Unix time when the window ends


def _window_key(counter: str, window_seconds: int, now: float) -> str:
    return f"ratelimit:{counter}:{int(now // window_seconds)}"


def window_hit(counter: str, window_seconds: int) -> WindowHit:
    """Count one hit on `counter` in its current window of `window_seconds`."""
    now = time.time()
    key = _window_key(counter, window_seconds, now)
    timeout = window_seconds + 5
    # add() is a no-op when the key exists, so concurrent first hits do not reset the count.
    django_cache.add(key, 0, timeout=timeout)
    try:
        count = django_cache.incr(key)
    except ValueError:  # expired between add() and incr()
        django_cache.set(key, 1, timeout=timeout)
        count = 1
    return WindowHit(key=key, count=count, reset_at=(int(now // window_seconds) + 1) * window_seconds)


def window_count(counter: str, window_seconds: int) -> int:
    """Hits on `counter` in its current window, without counting one."""
    return int(django_cache.get(_window_key(counter, window_seconds, time.time()), 0))


def window_unhit(hit: WindowHit) -> None:
    """Take back a hit (in the window it was counted in), e.g. an attempt that turned out fine."""
    try:
        django_cache.decr(hit.key)
    except ValueError:  # the window is over and its key gone: nothing left to take back
        pass


@dataclass(frozen=True)
class Bucket:
    name: str
    limit: int


@cache
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _is_trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _trusted_networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request: HttpRequest) -> str:
    """The address the request came from.

    X-Forwarded-For is honoured only when the direct peer is a trusted proxy; then the
    rightmost address that is not itself a trusted proxy is the client (anything left of it
    could have been written by the client).
    """
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    if not settings.TRUSTED_PROXIES or not _is_trusted(remote):
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    for address in reversed(forwarded):
        if not _is_trusted(address):
            return address
    return forwarded[0] if forwarded else remote


def bucket_for(request: HttpRequest) -> Bucket | None:
    path = request.path
    if path.startswith(_EXEMPT_PREFIXES):
        return None
    if request.method == "POST":
        if path in _AUTH_PATHS:
            return Bucket("auth", settings.RATE_LIMIT_LOGIN)
        if path.startswith(("/board/", "/ticket/")):
            return Bucket("public_ticket", settings.RATE_LIMIT_PUBLIC_TICKET)
    return Bucket("default", settings.RATE_LIMIT_DEFAULT)


class RateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not settings.RATE_LIMIT_ENABLED:
            return self.get_response(request)
        bucket = bucket_for(request)
        if bucket is None:
            return self.get_response(request)

        now = time.time()
        hit = window_hit(f"{bucket.name}:{client_ip(request)}", WINDOW_SECONDS)
        count, reset_at = hit.count, hit.reset_at

        if count > bucket.limit:
            response = render(request, "429.html", {"retry_after": int(reset_at - now) + 1}, status=429)
            response["Retry-After"] = str(int(reset_at - now) + 1)
        else:
            response = self.get_response(request)
        response["X-RateLimit-Limit"] = str(bucket.limit)
        response["X-RateLimit-Remaining"] = str(max(bucket.limit - count, 0))
        response["X-RateLimit-Reset"] = str(reset_at)
        return response


REPORTER_WINDOW_SECONDS = 3600


def reporter_address_allowed(email: str) -> bool:
    """At most RATE_LIMIT_REPORTER_PER_HOUR automatic mails per reporter mailbox (THR-6).

    Each report mails its reporter, so without this the form could be used from many IPs to
    send a stranger mail through a manager's server. Counted on the normalised mailbox, so
    `+tags`, case, quoting and comments do not each get their own allowance. An address whose
    domain is an IP address (or that is no address at all) is never allowed: nothing is ever
    sent to it automatically.
    """
    try:
        mailbox = normalised_mailbox(email)
    except ValueError:
        return False
    if not settings.RATE_LIMIT_ENABLED:
        return True
    # Hashed: the cache key stays short and safe whatever the address holds, and Redis keeps
    # no list of reporters' addresses.
    digest = hashlib.sha256(mailbox.encode()).hexdigest()[:32]
    return window_hit(f"reporter:{digest}", REPORTER_WINDOW_SECONDS).count <= settings.RATE_LIMIT_REPORTER_PER_HOUR


def ticket_message_allowed(ticket_id: int) -> bool:
    """At most RATE_LIMIT_TICKET_MESSAGES_PER_HOUR messages on one ticket's secret page (THR-4).

    The per-IP limit alone would let many addresses flood one ticket, and its managers' mail.
    """
    if not settings.RATE_LIMIT_ENABLED:
        return True
    return window_hit(f"ticket-message:{ticket_id}", REPORTER_WINDOW_SECONDS).count <= (
        settings.RATE_LIMIT_TICKET_MESSAGES_PER_HOUR
    )
