"""Failed log-ins slow a guesser down without locking the owner out (OPS-5).

allauth's own limit counted failures per account from anywhere: five wrong passwords typed by
anyone, anywhere, locked the owner out for five minutes, over and over. Here every failure is
counted in budgets that a guesser uses up for themselves:

- a browser that has logged in to the account before (it holds a signed "known device" cookie
  naming the account) has its own budget for that account and nothing else counts against it,
  so nobody elsewhere can use it up;
- any other browser is counted per IP and account, per IP, and, for the account, in one budget
  that all unknown browsers share. That last one is what stops a guesser spread over many
  addresses; when it is used up, only unknown browsers wait.

An owner on a new device while someone guesses at their account still gets in: following a
password reset link proves the mailbox and marks that browser as known too.

An attempt is counted before the password is checked and taken back when it was right, so a
refusal never depends on whether the password was correct (a guesser learns nothing from it),
and the owner's successful log-ins never use up a budget. IPv6 addresses are counted per /64,
the block one subscriber usually gets.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponseBase
from django.utils.crypto import salted_hmac

from issuetracker.ratelimit import WindowHit, client_ip, window_count, window_hit, window_unhit

KNOWN_DEVICE_COOKIE = "known_device"
KNOWN_DEVICE_DAYS = 180
# Cookie path: only the account pages read or renew it.
KNOWN_DEVICE_PATH = "/accounts/"
_KNOWN_DEVICE_SALT = "accounts.login_throttle.known_device"
_ACCOUNT_SALT = "accounts.login_throttle.account"
MAX_ACCOUNTS_PER_DEVICE = 10


@dataclass(frozen=True)
class Budget:
    name: str
    failures: int
    window_seconds: int


# A remembered browser, per account it logged in to: only its own typos count here.
KNOWN_DEVICE_BUDGET = Budget("device", failures=5, window_seconds=15 * 60)
# Any other browser: all three apply.
IP_ACCOUNT_BUDGET = Budget("ip_account", failures=5, window_seconds=15 * 60)
IP_BUDGET = Budget("ip", failures=20, window_seconds=15 * 60)
UNKNOWN_DEVICES_BUDGET = Budget("account", failures=20, window_seconds=60 * 60)


@dataclass
class LoginAttempt:
    hits: list[WindowHit] = field(default_factory=list)


@dataclass(frozen=True)
class KnownDevice:
    device_id: str
    accounts: tuple[str, ...]


def account_tag(login: str) -> str:
    """A keyed hash of the log-in address: counters and the cookie never hold the address itself."""
    return salted_hmac(_ACCOUNT_SALT, login.strip().lower(), algorithm="sha256").hexdigest()[:32]


def known_device(request: HttpRequest) -> KnownDevice | None:
    """The browser's known-device cookie, if it is ours, unaltered and not too old."""
    value = request.COOKIES.get(KNOWN_DEVICE_COOKIE)
    if not value:
        return None
    try:
        data = signing.loads(value, salt=_KNOWN_DEVICE_SALT, max_age=KNOWN_DEVICE_DAYS * 86400)
        return KnownDevice(device_id=str(data["d"]), accounts=tuple(str(tag) for tag in data["a"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def _ip_key(ip: str) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return ip


def _budgets(request: HttpRequest, login: str) -> list[tuple[Budget, str]]:
    account = account_tag(login)
    device = known_device(request)
    if device is not None and account in device.accounts:
        return [(KNOWN_DEVICE_BUDGET, f"{device.device_id}:{account}")]
    ip = _ip_key(client_ip(request))
    return [(IP_ACCOUNT_BUDGET, f"{ip}:{account}"), (IP_BUDGET, ip), (UNKNOWN_DEVICES_BUDGET, account)]


def _counter(budget: Budget, key: str) -> str:
    return f"login_failed:{budget.name}:{key}"


def login_attempt_begin(*, request: HttpRequest, login: str) -> LoginAttempt | None:
    """Count an attempt as failed until it proves otherwise; None when a budget is used up.

    Called before the password is checked; a refusal counts nothing.
    """
    if not settings.RATE_LIMIT_ENABLED:
        return LoginAttempt()
    budgets = _budgets(request, login)
    if any(window_count(_counter(b, key), b.window_seconds) >= b.failures for b, key in budgets):
        return None
    attempt = LoginAttempt(hits=[window_hit(_counter(b, key), b.window_seconds) for b, key in budgets])
    # Parallel attempts may have raced past the check above; the counts tell.
    if any(hit.count > b.failures for hit, (b, _key) in zip(attempt.hits, budgets, strict=True)):
        login_attempt_succeeded(attempt)
        return None
    return attempt


def login_attempt_succeeded(attempt: LoginAttempt) -> None:
    """The password was right: the attempt was no failure after all."""
    for hit in attempt.hits:
        window_unhit(hit)


def remember_device(*, request: HttpRequest, response: HttpResponseBase, login: str) -> None:
    """Mark this browser as known for `login` (after a log-in, or a reset that proved the mailbox)."""
    device = known_device(request)
    device_id = device.device_id if device is not None else secrets.token_urlsafe(16)
    tag = account_tag(login)
    others = [t for t in (device.accounts if device is not None else ()) if t != tag]
    accounts = [tag, *others][:MAX_ACCOUNTS_PER_DEVICE]
    response.set_cookie(
        KNOWN_DEVICE_COOKIE,
        signing.dumps({"d": device_id, "a": accounts}, salt=_KNOWN_DEVICE_SALT, compress=True),
        max_age=KNOWN_DEVICE_DAYS * 86400,
        path=KNOWN_DEVICE_PATH,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
