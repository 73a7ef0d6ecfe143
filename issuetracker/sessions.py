"""A sliding session that costs no write on most requests (ACC-3).

Saving the session on every request (SESSION_SAVE_EVERY_REQUEST) would add an UPDATE to every
page. Instead the session is touched at most once per TOUCH_INTERVAL; the cookie and the stored
expiry are then renewed by SessionMiddleware. The age is SESSION_HOURS plus that interval, so a
session always lasts at least SESSION_HOURS after the last request.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

TOUCH_INTERVAL_SECONDS = 300
_TOUCHED_KEY = "_touched"


class SlidingSessionMiddleware:
    """Must come after SessionMiddleware, so its response step runs first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.is_empty() or session.modified:
            return response
        now = int(timezone.now().timestamp())
        if now - int(session.get(_TOUCHED_KEY, 0)) >= TOUCH_INTERVAL_SECONDS:
            session[_TOUCHED_KEY] = now
        return response
