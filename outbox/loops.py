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
from django.db.models import Exists, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from inboxes.models import Inbox
from tickets.models import TicketSource

from .models import OutgoingMail, OutgoingMailKind, OutgoingMailStatus

AUTOMATIC_REPLY_WINDOW = timedelta(hours=1)
SUSPENSION_REPLY_WINDOW = timedelta(days=1)
_COUNTED_STATUSES = (OutgoingMailStatus.PENDING, OutgoingMailStatus.SENT)


def _own_address_query(address: str) -> QuerySet[Inbox]:
    return Inbox.objects.annotate(address=Lower("from_address")).filter(address=address)


def default_from_address() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()


def automatic_mail_to(*, inbox: Inbox | None) -> Q:
    """Automatic mail sent through ``inbox`` that counts towards the hourly limit."""
    # Confirmations of web-form tickets are not answers to mail, so they do not count here.
    automatic = Q(kind=OutgoingMailKind.SUSPENSION_REPLY) | Q(
        kind=OutgoingMailKind.TICKET_CREATED, ticket__source=TicketSource.EMAIL
    )
    return automatic & Q(inbox=inbox, status__in=_COUNTED_STATUSES)


def block_reason(*, auto_generated_reason: str | None, own_address: bool, answered_recently: bool) -> str | None:
    """ING-7, the rule itself: why no automatic mail may go to a sender, or None when one may."""
    if auto_generated_reason:
        return _("The message was sent automatically (%(reason)s), so it gets no automatic answer.") % {
            "reason": auto_generated_reason
        }
    if own_address:
        return _("The sender is one of this site's own addresses, so it gets no automatic answer.")
    if answered_recently:
        return _("This sender already got an automatic answer from this inbox within the last hour.")
    return None


def automatic_reply_block_reason(
    *, inbox: Inbox | None, to_email: str, auto_generated_reason: str | None
) -> str | None:
    """``block_reason`` for one sender, with the facts read from the database (one query).

    Intake reads the same facts for a whole batch at once (``batch_facts``); this is for single
    decisions such as assigning a standby item.
    """
    if auto_generated_reason:
        return block_reason(auto_generated_reason=auto_generated_reason, own_address=False, answered_recently=False)
    to_email = to_email.strip().lower()
    recent = OutgoingMail.objects.filter(
        automatic_mail_to(inbox=inbox), to_email=to_email, created_at__gte=timezone.now() - AUTOMATIC_REPLY_WINDOW
    )
    if inbox is not None:
        own, answered = (
            Inbox.objects.filter(pk=inbox.pk)
            .annotate(own=Exists(_own_address_query(to_email)), recent=Exists(recent))
            .values_list("own", "recent")
            .get()
        )
    else:
        own, answered = _own_address_query(to_email).exists(), recent.exists()
    return block_reason(
        auto_generated_reason=None,
        own_address=own or to_email == default_from_address(),
        answered_recently=answered,
    )


def suspension_reply_sent_recently(*, manager_id: int, to_email: str) -> bool:
    return OutgoingMail.objects.filter(
        kind=OutgoingMailKind.SUSPENSION_REPLY,
        manager_id=manager_id,
        to_email=to_email.strip().lower(),
        status__in=_COUNTED_STATUSES,
        created_at__gte=timezone.now() - SUSPENSION_REPLY_WINDOW,
    ).exists()
