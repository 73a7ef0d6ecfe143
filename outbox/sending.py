"""Sending one outbox row: claim it, send it with its own Message-ID, record the outcome.

The claim (``issuetracker.leases``) keeps two workers off one row, so a task delivered twice, a
Celery retry and the beat drain never send a mail twice; the row's attempt count is the only
retry budget, and ``next_attempt_at`` tells the drain when a row's wake-up is overdue. A temporary failure (a 4xx
answer, a refused or timed-out connection) raises ``TransientSendError`` with the delay the
row now waits; anything permanent, or the last allowed attempt, marks the row failed with a
reason a person understands (EML-4).
"""

from __future__ import annotations

import logging
import smtplib
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.message import MIMEPart

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone
from django.utils.translation import gettext as _

from attachments.files import served_type
from attachments.models import Attachment
from attachments.selectors import attachment_open
from inboxes.models import Inbox
from issuetracker.crypto import DecryptionError
from issuetracker.hosts import InternalHostError, ensure_public_host
from issuetracker.leases import Claim, LeaseFields, lease_claim, lease_overdue_ids
from issuetracker.network import describe_network_error

from .models import PERSONAL_KINDS, OutgoingMail, OutgoingMailStatus
from .smtp import smtp_connection_for

logger = logging.getLogger(__name__)

LEASE_FIELDS = LeaseFields(until="claimed_until", token="claim_token", attempts="attempts")
# A send is a connect, a login and one DATA, each bounded by the SMTP timeout.
MAX_ATTEMPTS = 8
# A row whose wake-up should have run this long ago was missed (broker down, worker killed).
STALLED_AFTER = timedelta(seconds=30)


def claim_duration() -> timedelta:
    return timedelta(seconds=4 * settings.SMTP_TIMEOUT_SECONDS + 20)


def retry_delay(attempts: int) -> int:
    """Seconds before attempt ``attempts + 1``: 30 s, 1, 2, 4 … minutes, capped at 30 minutes."""
    return int(min(30 * 2 ** max(attempts - 1, 0), 1800))


class TransientSendError(Exception):
    """Worth retrying later: connection refused, timeout, 4xx from the server."""

    def __init__(self, reason: str, *, retry_in: int) -> None:
        super().__init__(reason)
        self.retry_in = retry_in


def build_email_message(mail: OutgoingMail) -> EmailMessage:
    headers = {
        "Message-ID": mail.message_id,
        # Auto-responders must not answer us (ING-7); every mail asks that.
        "X-Auto-Response-Suppress": "All",
    }
    if mail.kind not in PERSONAL_KINDS:
        # ING-7: a robot's mail says so. A manager's reply or move is a person's words (RFC 3834):
        # marked automatic, the reporter's filters and help desk could set it aside.
        headers["Auto-Submitted"] = "auto-generated"
    if mail.in_reply_to:
        headers["In-Reply-To"] = mail.in_reply_to
    if mail.references:
        headers["References"] = mail.references
    message = EmailMessage(
        subject=mail.subject, body=mail.body, from_email=mail.from_email, to=[mail.to_email], headers=headers
    )
    for attachment in mail.attachments.select_related("stored_file").order_by("id"):
        message.attach(_mime_part(attachment))
    return message


def _mime_part(attachment: Attachment) -> MIMEPart:
    """A file as a base64 part, so its bytes arrive unchanged (a text part would have its line
    endings rewritten), named as the sender named it (RFC 2231 when not ASCII).

    The SMTP client sends a message as one string, so the file is in memory while its mail is
    built; it is read from storage in chunks, and only then (ATT-3).
    """
    content = bytearray()
    with attachment_open(attachment) as stored:
        for chunk in stored.chunks():
            content += chunk
    maintype, subtype = served_type(
        sniffed=attachment.stored_file.content_type, declared=attachment.content_type, name=attachment.name
    ).split("/", 1)
    if maintype == "message":  # a message/* part may not be base64 (RFC 2046): sent as a plain file
        maintype, subtype = "application", "octet-stream"
    part = MIMEPart()
    part.set_content(bytes(content), maintype, subtype, disposition="attachment", filename=attachment.display_name)
    return part


def outgoing_mails_send(*, mail_ids: Sequence[int]) -> list[tuple[int, int]]:
    """Send several rows one after the other; returns (id, seconds to wait) of those to retry."""
    transient = []
    for mail_id in mail_ids:
        try:
            outgoing_mail_send(mail_id=mail_id)
        except TransientSendError as exc:
            transient.append((mail_id, exc.retry_in))
    return transient


def outgoing_mail_send(*, mail_id: int) -> OutgoingMailStatus | None:
    """Send one row. Returns the resulting status, or None when the row was not ours to send
    (already sent, failed, suppressed, or held by another worker).

    Raises TransientSendError when another attempt should follow.
    """
    claim = lease_claim(
        OutgoingMail.objects.filter(status=OutgoingMailStatus.PENDING),
        pk=mail_id,
        fields=LEASE_FIELDS,
        duration=claim_duration(),
    )
    if claim is None:
        return None
    mail = OutgoingMail.objects.select_related("inbox").get(pk=mail_id)
    if mail.attempts > MAX_ATTEMPTS:
        # The last allowed attempt died with its worker (the drain brought the row back): give up
        # visibly instead of leaving it pending for ever.
        return _fail(claim, mail, mail.last_error or _("Sending was interrupted too many times."))
    try:
        if mail.inbox is not None:
            ensure_public_host(mail.inbox.smtp_host)  # DNS may have changed since the form checked it
        message = build_email_message(mail)
        connection = smtp_connection_for(mail.inbox)
    except InternalHostError:
        return _fail(claim, mail, _("SMTP: the server address points inside our own network; it is not used."))
    except socket.gaierror as exc:
        return _temporary(claim, mail, describe_network_error(exc, "SMTP", _server(mail.inbox)), exc)
    except DecryptionError:
        return _fail(claim, mail, _("SMTP: the stored password cannot be decrypted; enter it again on the inbox page."))
    except Exception as exc:  # a row that cannot even be built will not improve by retrying
        logger.exception("mail cannot be built", extra={"outgoing_mail_id": mail.pk})
        return _fail(claim, mail, _("The message could not be built (%(error)s).") % {"error": exc.__class__.__name__})
    try:
        with connection:
            connection.send_messages([message])
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        code = getattr(exc, "smtp_code", None) or _first_code(exc)
        if code is not None and 400 <= code < 500:
            return _temporary(claim, mail, _describe(exc, mail.inbox), exc)
        return _fail(claim, mail, _describe(exc, mail.inbox))
    except smtplib.SMTPAuthenticationError as exc:
        if 400 <= exc.smtp_code < 500:
            return _temporary(claim, mail, _describe(exc, mail.inbox), exc)
        return _fail(claim, mail, _describe(exc, mail.inbox))
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            return _temporary(claim, mail, _describe(exc, mail.inbox), exc)
        return _fail(claim, mail, _describe(exc, mail.inbox))
    except (smtplib.SMTPException, OSError) as exc:
        return _temporary(claim, mail, _describe(exc, mail.inbox), exc)
    except Exception as exc:
        # Anything else (a bug, a header the mail library refuses): visible and retryable by a
        # person, never pending forever (EML-4).
        logger.exception("mail send crashed", extra={"outgoing_mail_id": mail.pk})
        return _fail(claim, mail, _("Sending failed unexpectedly (%(error)s).") % {"error": exc.__class__.__name__})
    sent: dict[str, object] = {"status": OutgoingMailStatus.SENT, "sent_at": timezone.now(), "last_error": ""}
    if mail.body_is_secret:
        sent["body"] = ""  # a single-use link has no business in the database once delivered
    claim.release(**sent)
    logger.info("mail sent", extra={"outgoing_mail_id": mail.pk, "kind": mail.kind, "inbox_id": mail.inbox_id})
    return OutgoingMailStatus.SENT


def _server(inbox: Inbox | None) -> str:
    return f"{inbox.smtp_host}:{inbox.smtp_port}" if inbox else _("the default mail server")


def _first_code(exc: smtplib.SMTPException) -> int | None:
    recipients = getattr(exc, "recipients", None)
    if isinstance(recipients, dict) and recipients:
        code, _message = next(iter(recipients.values()))
        return int(code)
    return None


def _describe(exc: BaseException, inbox: Inbox | None) -> str:
    params = {"server": _server(inbox)}
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return _("SMTP: login refused by %(server)s") % params
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _("SMTP: %(server)s refused the recipient") % params
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return _("SMTP: %(server)s refused the sender address") % params
    # Socket-level failures read the same as for IMAP: one wording for both.
    return describe_network_error(exc, "SMTP", params["server"])


def _temporary(claim: Claim, mail: OutgoingMail, reason: str, exc: BaseException) -> OutgoingMailStatus:
    """Wait and try again, unless that was the last attempt the row allows."""
    if mail.attempts >= MAX_ATTEMPTS:
        return _fail(claim, mail, reason)
    delay = retry_delay(mail.attempts)
    logger.warning(
        "mail send failed, will retry",
        extra={"outgoing_mail_id": mail.pk, "attempt": mail.attempts, "retry_in": delay, "error": reason},
    )
    claim.release(last_error=reason, next_attempt_at=timezone.now() + timedelta(seconds=delay))
    raise TransientSendError(reason, retry_in=delay) from exc


def _fail(claim: Claim, mail: OutgoingMail, reason: str) -> OutgoingMailStatus:
    logger.error("mail failed for good", extra={"outgoing_mail_id": mail.pk, "error": reason})
    claim.release(status=OutgoingMailStatus.FAILED, last_error=reason)
    return OutgoingMailStatus.FAILED


def outgoing_mail_stalled_ids(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Pending rows whose wake-up was missed: due for a while, and nobody holds them."""
    return lease_overdue_ids(
        OutgoingMail.objects.filter(status=OutgoingMailStatus.PENDING),
        fields=LEASE_FIELDS,
        due="next_attempt_at",
        grace=STALLED_AFTER,
        limit=limit,
        now=now,
    )
