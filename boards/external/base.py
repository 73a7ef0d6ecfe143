"""Shared plumbing for the Jira and Trello clients.

The clients are plain Python that use Django's ``gettext`` only (no models, forms or views; they
do need configured settings, as in the app, its tests and the Celery worker), so they can be tested
against the local fake servers in ``testsupport.fake_platforms`` and reused from Celery tasks and
views alike. Every failure is turned into one of two exception classes whose ``message`` a board
manager can read, in the language active when it is built (``LANGUAGE_CODE`` outside a request,
e.g. in a Celery worker):

* ``TransientExternalError``: worth retrying later (timeouts, connection errors, HTTP 429, 5xx);
  ``retry_after`` carries the server's ``Retry-After`` advice in seconds when it gave one.
* ``PermanentExternalError``: retrying will not help until someone changes the settings
  (HTTP 400, 401, 403, 404, redirects, answers that are not the platform's API).

Secrets never reach a message or a log line: callers pass them in ``secrets`` and every text
built from a server answer is passed through ``redact`` as a second line of defence.

Messages for managers are translatable (NFR-5); log lines stay in English.
"""

from __future__ import annotations

import email.utils
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

# Seconds for connect and read alike. A ticket submission waits on this in the worst case, so it
# stays short; Celery retries transient failures later anyway.
TIMEOUT: float = 10.0

# Server-provided detail is quoted in messages for managers; cap it so a huge HTML error page
# cannot flood a form error or the standby queue.
_MAX_DETAIL_CHARS = 300


@dataclass(frozen=True)
class ExternalIssue:
    """What the platform returned for a created issue or card."""

    external_id: str
    url: str


class ExternalError(Exception):
    """A call to an external platform failed; ``message`` is meant for a board manager."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class TransientExternalError(ExternalError):
    """The platform may accept the same call later (rate limit, outage, network trouble)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        # Keep both values in ``args`` so the exception survives pickling (Celery results).
        self.args = (message, retry_after)


class PermanentExternalError(ExternalError):
    """The call will keep failing until the board's platform settings are corrected."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret occurring in ``text``; servers sometimes echo what they received."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[hidden]")
    return text


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date, RFC 9110)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def shorten(text: str, limit: int = _MAX_DETAIL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class StatusMessages:
    """Plain-language messages for the answers a particular call can get.

    ``bad_request`` receives the server's own detail (already redacted), so the manager sees which
    field was refused.
    """

    unauthorized: str
    forbidden: str
    not_found: str
    bad_request: Callable[[str], str]


def send(
    method: str,
    url: str,
    *,
    platform: str,
    secrets: Iterable[str],
    timeout: float,
    messages: StatusMessages,
    error_detail: Callable[[requests.Response], str],
    auth: tuple[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    params: Mapping[str, str] | None = None,
) -> Any:
    """Perform one HTTP call and return the decoded JSON body of a 2xx answer.

    Any other outcome raises a ``TransientExternalError`` or ``PermanentExternalError``.
    """
    secret_list = [s for s in secrets if s]
    request_headers = {"Accept": "application/json"}
    request_headers.update(headers or {})
    # Redirects are refused rather than followed: requests would turn a POST into a GET on 301/302
    # and we would rather not send credentials anywhere but the configured address.
    try:
        response = requests.request(
            method,
            url,
            auth=auth,
            headers=request_headers,
            json=json_body,
            params=params,
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.Timeout as exc:
        logger.warning("%s %s %s: no answer within %s s", platform, method, _path(url), timeout)
        raise TransientExternalError(
            _("%(platform)s did not answer within %(seconds)s seconds; it will be tried again later.")
            % {"platform": platform, "seconds": f"{timeout:g}"}
        ) from exc
    except requests.ConnectionError as exc:
        logger.warning("%s %s %s: connection failed", platform, method, _path(url))
        raise TransientExternalError(
            _("%(platform)s could not be reached (network problem or wrong address); it will be tried again later.")
            % {"platform": platform}
        ) from exc
    except requests.RequestException as exc:
        # MissingSchema, InvalidURL and friends: the configured address itself is unusable.
        logger.warning(
            "%s %s: request could not be built (%s)",
            platform,
            method,
            type(exc).__name__,
        )
        raise PermanentExternalError(
            _("%(platform)s: the address is not a valid web address; check the settings.") % {"platform": platform}
        ) from exc

    status = response.status_code
    logger.info("%s %s %s -> HTTP %s", platform, method, _path(url), status)

    if 200 <= status < 300:
        try:
            return response.json() if response.content else None
        except ValueError as exc:
            raise PermanentExternalError(
                _(
                    "%(platform)s: the address answered, but not like the %(platform)s API does; "
                    "check the address in the settings."
                )
                % {"platform": platform}
            ) from exc

    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 429:
        if retry_after is not None:
            message = _(
                "%(platform)s is limiting the number of requests right now (it asks to wait %(seconds)s "
                "seconds); it will be tried again later."
            ) % {"platform": platform, "seconds": f"{retry_after:g}"}
        else:
            message = _("%(platform)s is limiting the number of requests right now; it will be tried again later.") % {
                "platform": platform
            }
        raise TransientExternalError(message, retry_after=retry_after)
    if status >= 500:
        raise TransientExternalError(
            _("%(platform)s had a temporary problem (HTTP %(status)s); it will be tried again later.")
            % {"platform": platform, "status": status},
            retry_after=retry_after,
        )
    if 300 <= status < 400:
        raise PermanentExternalError(
            _(
                "%(platform)s: the address redirects elsewhere; enter the exact address of the "
                "%(platform)s site in the settings."
            )
            % {"platform": platform}
        )
    if status == 401:
        raise PermanentExternalError(messages.unauthorized)
    if status == 403:
        raise PermanentExternalError(messages.forbidden)
    if status == 404:
        raise PermanentExternalError(messages.not_found)
    detail = shorten(redact(error_detail(response), secret_list))
    if status == 400:
        raise PermanentExternalError(messages.bad_request(detail))
    if detail:
        raise PermanentExternalError(
            _("%(platform)s refused the request (HTTP %(status)s): %(detail)s")
            % {"platform": platform, "status": status, "detail": detail}
        )
    raise PermanentExternalError(
        _("%(platform)s refused the request (HTTP %(status)s)") % {"platform": platform, "status": status}
    )


def _path(url: str) -> str:
    """The path of a URL for log lines; the query string is dropped in case it holds secrets."""
    without_query = url.split("?", 1)[0]
    scheme_sep = without_query.find("://")
    rest = without_query[scheme_sep + 3 :] if scheme_sep >= 0 else without_query
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else "/"
