"""Writes of manager notifications (THR-8): one per event, mailed at once or kept for a digest.

``notify_*`` are called inside the transaction of the event (a ticket created, a reporter's
message kept, a poll recorded as failed), so the notification and its mail exist exactly when the
event does. Mail goes through the outbox and the site's default sender (``inbox=None``): it is
the site writing to its user, not a manager's inbox writing to a reporter.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from accounts.models import Manager, NotificationMode
from inboxes.models import Inbox
from outbox.models import OutgoingMailKind
from outbox.rendering import RenderedEmail
from outbox.services import outgoing_mail_create
from tickets.models import Ticket

from .emails import render_digest, render_notification
from .models import TEXT_MAX_LENGTH, Notification, NotificationKind, digest_due

logger = logging.getLogger(__name__)

# A digest lists this many notifications, the newest; older ones are counted as "and N more".
DIGEST_MAX_ENTRIES = 100


def notify_ticket_created(*, ticket: Ticket) -> Notification | None:
    """A new ticket on one of the manager's boards. Forwarding stubs are left out: those tickets
    live on Jira or Trello, where the team hears of them."""
    if ticket.is_forwarded:
        return None
    return _notify(
        manager=ticket.board.manager,
        kind=NotificationKind.NEW_TICKET,
        ticket=ticket,
        sender_email=ticket.creator_email,
        text=ticket.description,
    )


def notify_reporter_message(*, ticket: Ticket, sender_email: str, body: str) -> Notification | None:
    """The reporter wrote on a ticket (by mail or on the secret page)."""
    return _notify(
        manager=ticket.board.manager,
        kind=NotificationKind.REPORTER_MESSAGE,
        ticket=ticket,
        sender_email=sender_email,
        text=body,
    )


def notify_inbox_failing(*, inbox: Inbox, error: str) -> Notification | None:
    """An inbox that worked has started failing. Call once per failure streak (polling knows when)."""
    return _notify(manager=inbox.manager, kind=NotificationKind.INBOX_FAILING, inbox=inbox, text=error)


def _receives_notifications(manager: Manager) -> bool:
    # A suspended manager cannot log in to follow a link, and asked for silence by suspending.
    return manager.is_active and not manager.is_suspended and manager.notification_mode != NotificationMode.OFF


def _excerpt(text: str) -> str:
    text = text.strip()
    if len(text) <= TEXT_MAX_LENGTH:
        return text
    return text[: TEXT_MAX_LENGTH - 1].rstrip() + "…"


def _notify(
    *,
    manager: Manager,
    kind: NotificationKind,
    text: str,
    ticket: Ticket | None = None,
    inbox: Inbox | None = None,
    sender_email: str = "",
) -> Notification | None:
    # With mail off nothing is kept: the rows exist to be mailed, and what they tell is on the
    # manager's pages anyway (the ticket, its unread mark, the failing-inbox banner).
    if not _receives_notifications(manager):
        return None
    each = manager.notification_mode == NotificationMode.EACH
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        notification = Notification.objects.create(
            manager=manager,
            kind=kind,
            ticket=ticket,
            inbox=inbox,
            sender_email=sender_email.strip()[:320],
            text=_excerpt(text),
            created_at=now,
            mailed_at=now if each else None,
        )
        if each:
            _mail(manager, render_notification(notification, manager=manager))
    logger.info(
        "manager notified",
        extra={"notification_id": notification.pk, "manager_id": manager.pk, "kind": kind, "mailed": each},
    )
    return notification


def _mail(manager: Manager, rendered: RenderedEmail) -> None:
    # No ticket on the row: this mail is not part of the reporter's thread, so a reply that
    # quotes its Message-ID must never be threaded onto the ticket (THR-4).
    outgoing_mail_create(
        kind=OutgoingMailKind.NOTIFICATION,
        to_email=manager.email,
        subject=rendered.subject,
        body=rendered.body,
        manager=manager,
        inbox=None,
    )


def notification_digest_send(*, manager_id: int, now: datetime | None = None) -> int:
    """Mail a manager their waiting notifications in one digest, if their period is over.

    Returns how many notifications the digest carries; 0 when none was due. Exactly once, however
    many runs race: the manager row is locked, so a second run waits for the first and then finds
    the digest just sent and the period not over; and each notification is marked by a
    conditional update, so none is ever listed in two digests. A notification committed while a
    digest is being written stays waiting for the next one.
    """
    now = now or timezone.now()
    with transaction.atomic():
        manager = Manager.objects.select_for_update().filter(pk=manager_id).first()
        if manager is None or not _receives_notifications(manager):
            return 0
        pending = Notification.objects.filter(manager_id=manager_id, mailed_at__isnull=True)
        oldest = pending.order_by("created_at").values_list("created_at", flat=True).first()
        if oldest is None or not digest_due(
            mode=manager.notification_mode,
            sent_at=manager.notifications_digest_sent_at,
            oldest_pending=oldest,
            now=now,
        ):
            return 0
        if not pending.update(mailed_at=now):
            return 0
        # This digest's rows are those just marked with its time: read back, so however many
        # there are, only the newest DIGEST_MAX_ENTRIES are ever loaded.
        batch = Notification.objects.filter(manager_id=manager_id, mailed_at=now)
        counts = dict(batch.order_by().values("kind").annotate(n=Count("pk")).values_list("kind", "n"))
        newest = list(
            batch.select_related("ticket__board", "inbox").order_by("-created_at", "-id")[:DIGEST_MAX_ENTRIES]
        )
        _mail(manager, render_digest(manager=manager, notifications=newest, counts=counts))
        Manager.objects.filter(pk=manager_id).update(notifications_digest_sent_at=now)
    total = sum(counts.values())
    logger.info("notification digest written", extra={"manager_id": manager_id, "notifications": total})
    return total


def notifications_discard_pending(*, manager: Manager) -> int:
    """The manager turned mail off: what waited for their digest is not sent later."""
    deleted, _by_model = Notification.objects.filter(manager=manager, mailed_at__isnull=True).delete()
    return deleted
