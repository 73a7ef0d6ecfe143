"""Mail-loop protection (ING-7) and the suspension auto-reply limit (ING-8).

Every automatic mail to the sender of an incoming message (the ticket confirmation, the
suspension answer) passes through ``automatic_reply_block_reason`` first. Auto-responders that
answer each other overnight are how help desks send thousands of mails; these rules make sure
our side of such a conversation ends after at most one mail per sender per inbox per hour.
"""

from __future__ import annotations

from datetime import timedelta
from email.utils import parseaddr

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from tickets.models import TicketSource

from .models import Inbox, OutgoingMail, OutgoingMailKind, OutgoingMailStatus

AUTOMATIC_REPLY_WINDOW = timedelta(hours=1)
SUSPENSION_REPLY_WINDOW = timedelta(days=1)
_COUNTED_STATUSES = (OutgoingMailStatus.PENDING, OutgoingMailStatus.SENT)


def is_own_address(address: str) -> bool:
    """One of the site's own sending addresses: answering it would be talking to ourselves."""
    address = address.strip().lower()
    if not address:
        return False
    if parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower() == address:
        return True
    return Inbox.objects.annotate(address=Lower("from_address")).filter(address=address).exists()


def _automatic_mail_to(*, inbox: Inbox | None, to_email: str) -> Q:
    # Confirmations of web-form tickets are not answers to mail, so they do not count here.
    automatic = Q(kind=OutgoingMailKind.SUSPENSION_REPLY) | Q(
        kind=OutgoingMailKind.TICKET_CREATED, ticket__source=TicketSource.EMAIL
    )
    return automatic & Q(inbox=inbox, to_email=to_email.strip().lower(), status__in=_COUNTED_STATUSES)


def automatic_reply_block_reason(
    *, inbox: Inbox | None, to_email: str, auto_generated_reason: str | None, exclude_mail_id: int | None = None
) -> str | None:
    """Why no automatic mail may go to ``to_email`` now, or None when one may."""
    if auto_generated_reason:
        return _("The message was sent automatically (%(reason)s), so it gets no automatic answer.") % {
            "reason": auto_generated_reason
        }
    if is_own_address(to_email):
        return _("The sender is one of this site's own addresses, so it gets no automatic answer.")
    since = timezone.now() - AUTOMATIC_REPLY_WINDOW
    recent = OutgoingMail.objects.filter(_automatic_mail_to(inbox=inbox, to_email=to_email), created_at__gte=since)
    if exclude_mail_id is not None:
        recent = recent.exclude(pk=exclude_mail_id)
    if recent.exists():
        return _("This sender already got an automatic answer from this inbox within the last hour.")
    return None


def suspension_reply_sent_recently(*, manager_id: int, to_email: str) -> bool:
    return OutgoingMail.objects.filter(
        kind=OutgoingMailKind.SUSPENSION_REPLY,
        manager_id=manager_id,
        to_email=to_email.strip().lower(),
        status__in=_COUNTED_STATUSES,
        created_at__gte=timezone.now() - SUSPENSION_REPLY_WINDOW,
    ).exists()


def outgoing_mail_suppress(*, mail_id: int, reason: str) -> None:
    """Keep the row, never send it: called in the transaction that created it, before the send task runs."""
    OutgoingMail.objects.filter(pk=mail_id, status=OutgoingMailStatus.PENDING).update(
        status=OutgoingMailStatus.SUPPRESSED, last_error=reason[:1000]
    )


def confirmation_apply_loop_protection(*, ticket_id: int, inbox: Inbox | None, auto_generated_reason: str) -> str:
    """After ``ticket_create``: suppress its confirmation when ING-7 forbids it. Returns the reason or ""."""
    mail = (
        OutgoingMail.objects.filter(ticket_id=ticket_id, kind=OutgoingMailKind.TICKET_CREATED)
        .only("id", "to_email", "inbox_id")
        .first()
    )
    if mail is None:
        return ""
    reason = automatic_reply_block_reason(
        inbox=inbox, to_email=mail.to_email, auto_generated_reason=auto_generated_reason, exclude_mail_id=mail.pk
    )
    if reason:
        outgoing_mail_suppress(mail_id=mail.pk, reason=reason)
    return reason or ""
