"""The outbox (EML-3, EML-4): one row per mail, written with the change that caused it.

`outgoing_mail_create` is called inside the caller's transaction and schedules sending on
commit; `outgoing_mail_send` is what the Celery task runs. A row is claimed before sending so
two workers never send it together, and it is marked sent right after the server accepted it.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from issuetracker.crypto import DecryptionError
from issuetracker.hosts import InternalHostError, ensure_public_host

from .imap import describe_network_error
from .models import Inbox, OutgoingMail, OutgoingMailKind, OutgoingMailStatus
from .smtp import smtp_connection_for

logger = logging.getLogger(__name__)

CLAIM_SECONDS = 120
MAX_ATTEMPTS = 8


class TransientSendError(Exception):
    """Worth retrying later: connection refused, timeout, 4xx from the server."""


def choose_sending_inbox(*, board: Any, receiving_inbox: Inbox | None = None) -> Inbox | None:
    """EML-3: receiving inbox, else the board's exclusive inbox, else the manager's first active inbox."""
    if receiving_inbox is not None and receiving_inbox.is_active:
        return receiving_inbox
    exclusive = getattr(board, "exclusive_inbox", None)
    if exclusive is not None and exclusive.is_active:
        return exclusive
    return Inbox.objects.filter(manager_id=board.manager_id, is_active=True).order_by("created_at", "id").first()


def _message_id_domain(inbox: Inbox | None) -> str:
    address = inbox.from_address if inbox else settings.DEFAULT_FROM_EMAIL
    return address.rsplit("@", 1)[-1].strip(" >") or "localhost"


def outgoing_mail_create(
    *,
    kind: OutgoingMailKind,
    to_email: str,
    subject: str,
    body: str,
    manager: Any | None,
    inbox: Inbox | None,
    ticket: Any | None = None,
    in_reply_to: str = "",
    references: str = "",
) -> OutgoingMail:
    from_email = inbox.from_address if inbox else settings.DEFAULT_FROM_EMAIL
    mail = OutgoingMail.objects.create(
        kind=kind,
        manager=manager,
        inbox=inbox,
        ticket=ticket,
        from_email=from_email,
        to_email=to_email,
        subject=" ".join(subject.splitlines()).strip()[:998],
        body=body,
        message_id=make_msgid(domain=_message_id_domain(inbox)),
        in_reply_to=in_reply_to,
        references=references,
    )
    _enqueue_on_commit(mail.pk)
    return mail


_batch = threading.local()


@contextmanager
def outgoing_mail_batch() -> Iterator[None]:
    """Send the mails created inside the block with one task, published when the block ends.

    Intake creates a confirmation per message; one publish per fetched batch instead of one per
    mail is a measurable share of intake time (bench/). Wrap whole transactions: by the end of
    the block each row is committed or rolled back, and a rolled-back id is a no-op for the
    task. Should the block end inside a transaction anyway, publishing waits for its commit.
    """
    if getattr(_batch, "ids", None) is not None:  # nested: the outermost block publishes
        yield
        return
    _batch.ids = []
    try:
        yield
    finally:
        mail_ids, _batch.ids = _batch.ids, None
        if mail_ids:
            from .tasks import send_outgoing_mails

            transaction.on_commit(lambda: send_outgoing_mails.delay(mail_ids))


def _enqueue_on_commit(mail_id: int) -> None:
    pending = getattr(_batch, "ids", None)
    if pending is not None:
        pending.append(mail_id)
        return
    from .tasks import send_outgoing_mail

    transaction.on_commit(lambda: send_outgoing_mail.delay(mail_id))


def outgoing_mails_send(*, mail_ids: Sequence[int]) -> list[int]:
    """Send several rows one after the other; returns the ids that failed transiently."""
    transient = []
    for mail_id in mail_ids:
        try:
            outgoing_mail_send(mail_id=mail_id)
        except TransientSendError:
            transient.append(mail_id)
    return transient


def build_email_message(mail: OutgoingMail) -> EmailMessage:
    headers = {
        "Message-ID": mail.message_id,
        # ING-7: we are a robot; well-behaved auto-responders must not answer us.
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "All",
    }
    if mail.in_reply_to:
        headers["In-Reply-To"] = mail.in_reply_to
    if mail.references:
        headers["References"] = mail.references
    return EmailMessage(
        subject=mail.subject, body=mail.body, from_email=mail.from_email, to=[mail.to_email], headers=headers
    )


def _claim(mail_id: int) -> OutgoingMail | None:
    now = timezone.now()
    claimed = OutgoingMail.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        pk=mail_id,
        status=OutgoingMailStatus.PENDING,
        attempts__lt=MAX_ATTEMPTS + 1,
    ).update(claimed_until=now + timedelta(seconds=CLAIM_SECONDS), attempts=F("attempts") + 1)
    if not claimed:
        return None
    return OutgoingMail.objects.select_related("inbox").get(pk=mail_id)


def outgoing_mail_send(*, mail_id: int) -> OutgoingMailStatus | None:
    """Send one row. Returns the resulting status, or None when the row was not ours to send.

    Raises TransientSendError when another attempt should follow.
    """
    mail = _claim(mail_id)
    if mail is None:
        return None
    try:
        if mail.inbox is not None:
            ensure_public_host(mail.inbox.smtp_host)  # DNS may have changed since the form checked it
        message = build_email_message(mail)
        connection = smtp_connection_for(mail.inbox)
    except InternalHostError:
        return _mark_failed(mail, _("SMTP: the server address points inside our own network; it is not used."))
    except socket.gaierror as exc:
        reason = describe_network_error(exc, "SMTP", f"{mail.inbox.smtp_host}:{mail.inbox.smtp_port}")
        if mail.attempts >= MAX_ATTEMPTS:
            return _mark_failed(mail, reason)
        _record_attempt_error(mail, reason)
        raise TransientSendError(reason) from exc
    except DecryptionError:
        return _mark_failed(mail, _("SMTP: the stored password cannot be decrypted; enter it again on the inbox page."))
    except Exception as exc:  # a row that cannot even be built will not improve by retrying
        logger.exception("mail cannot be built", extra={"outgoing_mail_id": mail.pk})
        return _mark_failed(mail, _("The message could not be built (%(error)s).") % {"error": exc.__class__.__name__})
    try:
        with connection:
            connection.send_messages([message])
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        code = getattr(exc, "smtp_code", None) or _first_code(exc)
        reason = _describe(exc, mail.inbox)
        if code is not None and 400 <= code < 500 and mail.attempts < MAX_ATTEMPTS:
            _record_attempt_error(mail, reason)
            raise TransientSendError(reason) from exc
        return _mark_failed(mail, reason)
    except smtplib.SMTPAuthenticationError as exc:
        return _mark_failed(mail, _describe(exc, mail.inbox))
    except (smtplib.SMTPException, OSError) as exc:
        reason = _describe(exc, mail.inbox)
        if mail.attempts >= MAX_ATTEMPTS:
            return _mark_failed(mail, reason)
        _record_attempt_error(mail, reason)
        raise TransientSendError(reason) from exc
    except Exception as exc:
        # Anything else (a bug, a header the mail library refuses): visible and retryable by a
        # person, never pending forever (EML-4).
        logger.exception("mail send crashed", extra={"outgoing_mail_id": mail.pk})
        return _mark_failed(mail, _("Sending failed unexpectedly (%(error)s).") % {"error": exc.__class__.__name__})
    OutgoingMail.objects.filter(pk=mail.pk).update(
        status=OutgoingMailStatus.SENT, sent_at=timezone.now(), last_error="", claimed_until=None
    )
    logger.info("mail sent", extra={"outgoing_mail_id": mail.pk, "kind": mail.kind, "inbox_id": mail.inbox_id})
    return OutgoingMailStatus.SENT


def _first_code(exc: smtplib.SMTPException) -> int | None:
    recipients = getattr(exc, "recipients", None)
    if isinstance(recipients, dict) and recipients:
        code, _message = next(iter(recipients.values()))
        return int(code)
    return None


def _describe(exc: BaseException, inbox: Inbox | None) -> str:
    server = f"{inbox.smtp_host}:{inbox.smtp_port}" if inbox else _("the default mail server")
    params = {"server": server}
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return _("SMTP: login refused by %(server)s") % params
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _("SMTP: %(server)s refused the recipient") % params
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return _("SMTP: %(server)s refused the sender address") % params
    # Socket-level failures read the same as for IMAP: one wording for both.
    return describe_network_error(exc, "SMTP", server)


def _record_attempt_error(mail: OutgoingMail, reason: str) -> None:
    logger.warning("mail send failed, will retry", extra={"outgoing_mail_id": mail.pk, "error": reason})
    OutgoingMail.objects.filter(pk=mail.pk).update(last_error=reason, claimed_until=None)


def _mark_failed(mail: OutgoingMail, reason: str) -> OutgoingMailStatus:
    logger.error("mail failed for good", extra={"outgoing_mail_id": mail.pk, "error": reason})
    OutgoingMail.objects.filter(pk=mail.pk).update(
        status=OutgoingMailStatus.FAILED, last_error=reason, claimed_until=None
    )
    return OutgoingMailStatus.FAILED


def outgoing_mail_mark_exhausted(*, mail_id: int, reason: str) -> None:
    OutgoingMail.objects.filter(pk=mail_id, status=OutgoingMailStatus.PENDING).update(
        status=OutgoingMailStatus.FAILED, last_error=reason, claimed_until=None
    )


def outgoing_mail_retry(*, mail: OutgoingMail) -> bool:
    """A person asked to try a failed mail again (admin action, inbox page)."""
    updated = OutgoingMail.objects.filter(pk=mail.pk, status=OutgoingMailStatus.FAILED).update(
        status=OutgoingMailStatus.PENDING, attempts=0, claimed_until=None
    )
    if updated:
        _enqueue_on_commit(mail.pk)
    return bool(updated)


def outgoing_mail_requeue_stalled(*, older_than: timedelta = timedelta(minutes=10)) -> int:
    """Re-enqueue pending rows whose task was lost (broker restart, worker killed before ack)."""
    from .tasks import send_outgoing_mail

    now = timezone.now()
    stalled = list(
        OutgoingMail.objects.filter(
            status=OutgoingMailStatus.PENDING, created_at__lt=now - older_than, attempts__lte=MAX_ATTEMPTS
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .values_list("pk", flat=True)[:500]
    )
    for mail_id in stalled:
        send_outgoing_mail.delay(mail_id)
    return len(stalled)
