"""Reads of the outbox that other parts need: reply threading, the inbox page."""

from __future__ import annotations

from collections.abc import Sequence

from inboxes.models import Inbox

from .models import OutgoingMail, OutgoingMailStatus


def ticket_id_for_message_ids(*, manager_id: int, message_ids: Sequence[str]) -> int | None:
    """The ticket that the newest of our mails named in ``message_ids`` was about (TKT-7)."""
    if not message_ids:
        return None
    return (
        OutgoingMail.objects.filter(manager_id=manager_id, message_id__in=list(message_ids), ticket__isnull=False)
        .order_by("-created_at")
        .values_list("ticket_id", flat=True)
        .first()
    )


def inbox_failed_outgoing_mail(*, inbox: Inbox, limit: int = 20) -> list[OutgoingMail]:
    return list(
        OutgoingMail.objects.filter(inbox=inbox, status=OutgoingMailStatus.FAILED)
        .only("id", "to_email", "subject", "last_error", "created_at", "attempts", "status", "inbox_id")
        .order_by("-created_at", "-id")[:limit]
    )
