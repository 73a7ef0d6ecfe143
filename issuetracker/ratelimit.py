"""Per-IP fixed-window rate limits (NFR-2), counted in the Django cache (Redis in production).

Three buckets: log-in and sign-up attempts, public ticket submissions, and everything else.
`/health` and static files are never limited. Every answer carries the X-RateLimit-* headers
of the bucket it was counted in; over the limit the answer is a friendly 429 page.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.core.cache import cache as django_cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

WINDOW_SECONDS = 60
_AUTH_PATHS = ("/accounts/login/", "/accounts/signup/")
_EXEMPT_PREFIXES = ("/health", "/static/")


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
        if path.startswith("/board/"):
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
        window = int(now // WINDOW_SECONDS)
        reset_at = (window + 1) * WINDOW_SECONDS
        key = f"ratelimit:{bucket.name}:{client_ip(request)}:{window}"
        # add() is a no-op when the key exists, so concurrent first hits do not reset the count.
        django_cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
        try:
            count = django_cache.incr(key)
        except ValueError:  # expired between add() and incr()
            django_cache.set(key, 1, timeout=WINDOW_SECONDS + 5)
            count = 1

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
    """At most RATE_LIMIT_REPORTER_PER_HOUR public reports per reporter address.

    Each report mails its reporter, so without this the form could be used from many IPs to
    send a stranger mail through a manager's server.
    """
    if not settings.RATE_LIMIT_ENABLED:
        return True
    key = f"ratelimit:reporter:{email.strip().lower()}:{int(time.time() // REPORTER_WINDOW_SECONDS)}"
    django_cache.add(key, 0, timeout=REPORTER_WINDOW_SECONDS + 5)
    try:
        count = django_cache.incr(key)
    except ValueError:
        django_cache.set(key, 1, timeout=REPORTER_WINDOW_SECONDS + 5)
        count = 1
    return count <= settings.RATE_LIMIT_REPORTER_PER_HOUR
