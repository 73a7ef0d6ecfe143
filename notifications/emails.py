"""Plain-text mail to managers (THR-8), one function per kind, rendered from templates/notifications/.

Every link goes to the manager's own pages (``SITE_URL`` + the ticket or inbox page), never to the
reporter's secret page: a notification is forwarded, pasted into chats and read on shared screens,
and a secret link in it would hand the ticket to anyone who sees it. Rendered in the manager's
language and with times in their timezone; autoescaping is off in the templates because the
result is plain text, never HTML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.urls import reverse

from accounts.models import Manager
from outbox.rendering import RenderedEmail, render_mail

from .models import Notification, NotificationKind

# A digest entry's text: one line of the excerpt, so a hundred entries stay readable.
DIGEST_EXCERPT_LENGTH = 160


@dataclass(frozen=True)
class DigestEntry:
    notification: Notification
    link: str

    @property
    def excerpt(self) -> str:
        line = " ".join(self.notification.text.split())
        return line if len(line) <= DIGEST_EXCERPT_LENGTH else line[: DIGEST_EXCERPT_LENGTH - 1].rstrip() + "…"


def manager_link(notification: Notification) -> str:
    """The manager's page for what the notification is about."""
    if notification.ticket_id is not None:
        path = reverse("tickets:detail", args=[notification.ticket.board_id, notification.ticket_id])
    elif notification.inbox_id is not None:
        path = reverse("inboxes:detail", args=[notification.inbox_id])
    else:
        path = reverse("dashboard")
    return settings.SITE_URL + path


def _render(name: str, manager: Manager, context: dict[str, Any]) -> RenderedEmail:
    return render_mail(
        f"notifications/{name}", context, language=manager.language or settings.LANGUAGE_CODE, tz=manager.timezone
    )


_TEMPLATES = {
    NotificationKind.NEW_TICKET: "new_ticket",
    NotificationKind.REPORTER_MESSAGE: "reporter_message",
    NotificationKind.INBOX_FAILING: "inbox_failing",
}


def render_notification(notification: Notification, *, manager: Manager) -> RenderedEmail:
    """The mail for one event (per-event mode)."""
    return _render(
        _TEMPLATES[NotificationKind(notification.kind)],
        manager,
        {
            "notification": notification,
            "ticket": notification.ticket,
            "board": notification.ticket.board if notification.ticket_id else None,
            "inbox": notification.inbox,
            "link": manager_link(notification),
        },
    )


def render_digest(
    *, manager: Manager, notifications: Sequence[Notification], counts: Mapping[str, int]
) -> RenderedEmail:
    """One mail for the notifications counted per kind in ``counts``; ``notifications`` (the newest
    of them) are listed, the rest summed up as "and N more"."""
    total = sum(counts.values())
    return _render(
        "digest",
        manager,
        {
            "entries": [DigestEntry(notification=n, link=manager_link(n)) for n in notifications],
            "total": total,
            "more": total - len(notifications),
            "new_tickets": counts.get(NotificationKind.NEW_TICKET, 0),
            "reporter_messages": counts.get(NotificationKind.REPORTER_MESSAGE, 0),
            "failing_inboxes": counts.get(NotificationKind.INBOX_FAILING, 0),
            "dashboard_link": settings.SITE_URL + reverse("dashboard"),
        },
    )
