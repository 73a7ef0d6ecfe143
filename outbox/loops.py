"""Which automatic mail may go to the sender of an incoming message (ING-7, THR-6, ING-8).

Every automatic mail to a sender (the confirmation of a ticket opened by mail, the suspension
answer) passes through ``block_reason`` first. Every ticket a person opens by mail gets its
confirmation, also the third one within an hour (THR-6). Held back are only:

- answers to mail a machine sent: auto-responders answering each other overnight are how help
  desks send thousands of mails (ING-7);
- answers to one of this site's own addresses, for the same reason;
- any mail to an address that names a server by its IP address: nothing ties it to a mailbox
  anyone could recognise, so it could be anybody's;
- more than RATE_LIMIT_REPORTER_PER_HOUR automatic mails to one mailbox within an hour. That
  limit protects the person's mailbox, not ours: it is counted on the normalised mailbox
  (issuetracker.mailboxes), so `Rita@Example.org` and `rita+x@example.org` share it, and across
  every inbox of the site, so forged reports sent to many inboxes still reach the victim at
  most that many times an hour.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import timedelta
from email.utils import parseaddr

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from inboxes.models import Inbox
from issuetracker.mailboxes import DomainLiteralError, normalised_mailbox
from tickets.models import TicketSource

from .models import OutgoingMail, OutgoingMailKind, OutgoingMailStatus

AUTOMATIC_MAIL_WINDOW = timedelta(hours=1)
SUSPENSION_REPLY_WINDOW = timedelta(days=1)
_COUNTED_STATUSES = (OutgoingMailStatus.PENDING, OutgoingMailStatus.SENT)


def default_from_address() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()


def counted_mailbox(address: str) -> str | None:
    """The mailbox the hourly limit counts ``address`` on; None for an address never mailed."""
    try:
        return normalised_mailbox(address)
    except ValueError:
        return None


def automatic_mail_to(*, mailboxes: Collection[str]) -> Q:
    """Automatic mail to ``mailboxes`` within the last hour, through any inbox: what the limit counts."""
    # Confirmations of web-form tickets are not answers to mail; the public form limits them itself
    # (issuetracker.ratelimit). A manager's reply is no automatic mail at all.
    automatic = Q(kind=OutgoingMailKind.SUSPENSION_REPLY) | Q(
        kind=OutgoingMailKind.TICKET_CREATED, ticket__source=TicketSource.EMAIL
    )
    return automatic & Q(
        to_mailbox__in=list(mailboxes),
        status__in=_COUNTED_STATUSES,
        created_at__gte=timezone.now() - AUTOMATIC_MAIL_WINDOW,
    )


def automatic_mail_counts(*, addresses: Collection[str]) -> dict[str, int]:
    """Normalised mailbox → automatic mails it got within the last hour, for ``addresses`` (one query)."""
    mailboxes = {mailbox for mailbox in map(counted_mailbox, addresses) if mailbox}
    if not mailboxes:
        return {}
    rows = (
        OutgoingMail.objects.filter(automatic_mail_to(mailboxes=mailboxes))
        .order_by()
        .values("to_mailbox")
        .annotate(count=Count("pk"))
        .values_list("to_mailbox", "count")
    )
    return dict(rows)


def own_addresses(*, addresses: Collection[str]) -> set[str]:
    """Those of ``addresses`` (lowercased) that are one of this site's own from addresses (one query)."""
    lowered = {address.strip().lower() for address in addresses}
    if not lowered:
        return set()
    own = (
        Inbox.objects.annotate(address=Lower("from_address"))
        .filter(address__in=lowered)
        .values_list("address", flat=True)
    )
    return set(own) | ({default_from_address()} & lowered)


def block_reason(
    *,
    auto_generated_reason: str | None,
    own_address: bool,
    to_email: str,
    automatic_mail_counts: Mapping[str, int],
) -> str | None:
    """The rule itself: why no automatic mail may go to ``to_email``, or None when one may.

    ``automatic_mail_counts`` holds the automatic mail of the last hour per normalised mailbox
    (``automatic_mail_counts()``); a mailbox missing from it got none.
    """
    if auto_generated_reason:
        return _("The message was sent automatically (%(reason)s), so it gets no automatic answer.") % {
            "reason": auto_generated_reason
        }
    if own_address:
        return _("The sender is one of this site's own addresses, so it gets no automatic answer.")
    try:
        mailbox = normalised_mailbox(to_email)
    except DomainLiteralError:
        return _(
            "The sender's address names a server by its IP address, not a domain, so it never gets automatic mail."
        )
    except ValueError:
        return _("The sender's address is no mailbox that mail can be sent to, so it gets no automatic answer.")
    count = automatic_mail_counts.get(mailbox, 0)
    limit = settings.RATE_LIMIT_REPORTER_PER_HOUR
    if count >= limit:
        return ngettext(
            "This address already got %(count)s automatic answer within the last hour (at most %(limit)s go "
            "to one mailbox), so it gets no further answer for now.",
            "This address already got %(count)s automatic answers within the last hour (at most %(limit)s go "
            "to one mailbox), so it gets no further answer for now.",
            count,
        ) % {"count": count, "limit": limit}
    return None


def automatic_reply_block_reason(*, to_email: str, auto_generated_reason: str | None) -> str | None:
    """``block_reason`` for one sender, with the facts read from the database (two queries).

    Intake reads the same facts for a whole batch at once (``inboxes.batch_facts``); this is for
    single decisions such as assigning a standby item.
    """
    if auto_generated_reason:
        return block_reason(
            auto_generated_reason=auto_generated_reason, own_address=False, to_email=to_email, automatic_mail_counts={}
        )
    return block_reason(
        auto_generated_reason=None,
        own_address=bool(own_addresses(addresses=[to_email])),
        to_email=to_email,
        automatic_mail_counts=automatic_mail_counts(addresses=[to_email]),
    )


def suspension_reply_sent_recently(*, manager_id: int, to_email: str) -> bool:
    return OutgoingMail.objects.filter(
        kind=OutgoingMailKind.SUSPENSION_REPLY,
        manager_id=manager_id,
        to_email=to_email.strip().lower(),
        status__in=_COUNTED_STATUSES,
        created_at__gte=timezone.now() - SUSPENSION_REPLY_WINDOW,
    ).exists()
