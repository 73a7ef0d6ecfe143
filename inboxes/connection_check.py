""" "Test connection" (INB-3): IMAP login + select and SMTP connect + login, both at once.

Each side has its own 10 s timeout on every socket operation, and the whole check is bounded
too, so a server that trickles bytes cannot hold a request open. Results are sentences a person
understands, never tracebacks.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from django.utils.translation import get_language, override
from django.utils.translation import gettext as _

from issuetracker.crypto import DecryptionError
from issuetracker.hosts import InternalHostError, ensure_public_host
from issuetracker.network import describe_network_error, internal_host_message
from outbox.smtp import smtp_connection_for

from .imap import ImapError, ImapMailbox, ImapSettings
from .models import Inbox

logger = logging.getLogger(__name__)

# Per socket operation; a connect + TLS + login takes a few of them, bounded overall below.
CHECK_TIMEOUT_SECONDS = 10
OVERALL_TIMEOUT_SECONDS = 25


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


@dataclass(frozen=True)
class ConnectionReport:
    imap: CheckResult
    smtp: CheckResult

    @property
    def ok(self) -> bool:
        return self.imap.ok and self.smtp.ok


def check_imap(imap: ImapSettings) -> CheckResult:
    try:
        with ImapMailbox(imap) as mailbox:
            mailbox.uid_next()
    except ImapError as exc:
        return CheckResult(ok=False, message=str(exc))
    return CheckResult(ok=True, message=_("IMAP: logged in to %(host)s and opened the inbox.") % {"host": imap.host})


def check_smtp(inbox: Inbox) -> CheckResult:
    """Connect, STARTTLS/TLS as configured, log in; send nothing."""
    server = f"{inbox.smtp_host}:{inbox.smtp_port}"
    try:
        connection = smtp_connection_for(inbox)
    except DecryptionError:
        return CheckResult(
            ok=False,
            message=_("SMTP: the stored password cannot be decrypted (was ENCRYPTION_KEY changed?). Enter it again."),
        )
    connection.timeout = CHECK_TIMEOUT_SECONDS
    try:
        # Checked at every connection, not only when saved: DNS can change since (SSRF).
        ensure_public_host(inbox.smtp_host)
        connection.open()
    except InternalHostError:
        return CheckResult(ok=False, message=internal_host_message("SMTP", inbox.smtp_host))
    except smtplib.SMTPAuthenticationError:
        return CheckResult(ok=False, message=_("SMTP: login refused by %(host)s.") % {"host": inbox.smtp_host})
    except smtplib.SMTPNotSupportedError:
        return CheckResult(
            ok=False,
            message=_("SMTP: %(server)s does not offer STARTTLS or login. Check the port and the STARTTLS setting.")
            % {"server": server},
        )
    except smtplib.SMTPServerDisconnected as exc:
        # smtplib turns a read timeout while waiting for the greeting into "disconnected".
        if "timed out" in str(exc):
            return CheckResult(ok=False, message=describe_network_error(TimeoutError(), "SMTP", server))
        return CheckResult(
            ok=False, message=_("SMTP: %(server)s closed the connection unexpectedly.") % {"server": server}
        )
    except smtplib.SMTPException as exc:
        return CheckResult(
            ok=False,
            message=_("SMTP: %(server)s answered with an error (%(detail)s).")
            % {"server": server, "detail": str(exc)[:200]},
        )
    except (OSError, EOFError) as exc:
        return CheckResult(ok=False, message=describe_network_error(exc, "SMTP", server))
    finally:
        try:
            connection.close()
        except Exception:  # noqa: S110 - closing a half-open test connection; nothing left to do
            pass
    if inbox.smtp_username:
        message = _("SMTP: logged in to %(host)s.") % {"host": inbox.smtp_host}
    else:
        message = _("SMTP: connected to %(host)s (no login configured).") % {"host": inbox.smtp_host}
    return CheckResult(ok=True, message=message)


def inbox_check_connection(*, inbox: Inbox, imap_password: str | None = None) -> ConnectionReport:
    """Check an inbox's settings, saved or not (``inbox`` may be unsaved, with passwords set).

    Without ``imap_password`` the inbox's own (stored or just typed) password is used.
    """
    imap = _imap_settings(inbox, imap_password)
    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="inbox-check")
    try:
        # Translations are per thread: the checks answer in the language of the request.
        language = get_language()
        imap_future = executor.submit(_in_language, language, check_imap, imap) if imap else None
        smtp_future = executor.submit(_in_language, language, check_smtp, inbox)
        report = ConnectionReport(
            imap=_result(imap_future, "IMAP", f"{inbox.imap_host}:{inbox.imap_port}")
            if imap_future
            else _undecryptable_imap_password(),
            smtp=_result(smtp_future, "SMTP", f"{inbox.smtp_host}:{inbox.smtp_port}"),
        )
    finally:
        # A check still stuck in a socket call finishes on its own timeout; the request does not wait.
        executor.shutdown(wait=False, cancel_futures=True)
    logger.info(
        "inbox connection checked",
        extra={
            "inbox_id": inbox.pk,
            "imap_ok": report.imap.ok,
            "smtp_ok": report.smtp.ok,
            "imap_result": report.imap.message,
            "smtp_result": report.smtp.message,
        },
    )
    return report


def _imap_settings(inbox: Inbox, imap_password: str | None) -> ImapSettings | None:
    """None when the stored password cannot be decrypted (a changed ENCRYPTION_KEY)."""
    try:
        password = inbox.get_imap_password() if imap_password is None else imap_password
    except DecryptionError:
        return None
    return ImapSettings(
        host=inbox.imap_host,
        port=inbox.imap_port,
        username=inbox.imap_username,
        password=password,
        use_ssl=inbox.imap_use_ssl,
        timeout=CHECK_TIMEOUT_SECONDS,
    )


def _undecryptable_imap_password() -> CheckResult:
    # The same sentence a poll records (polling.imap_settings_for).
    return CheckResult(
        ok=False,
        message=_("IMAP: the stored password cannot be decrypted (was ENCRYPTION_KEY changed?). Enter it again."),
    )


def _in_language[A, T](language: str | None, check: Callable[[A], T], argument: A) -> T:
    with override(language):
        return check(argument)


def _result(future: Future[CheckResult], protocol: str, server: str) -> CheckResult:
    try:
        return future.result(timeout=OVERALL_TIMEOUT_SECONDS)
    except FutureTimeout:
        return CheckResult(
            ok=False,
            message=_("%(protocol)s: %(server)s did not answer in time.") % {"protocol": protocol, "server": server},
        )
    except Exception as exc:
        logger.exception("inbox connection check crashed", extra={"protocol": protocol, "server": server})
        return CheckResult(
            ok=False,
            message=_("%(protocol)s: the check failed unexpectedly (%(error)s).")
            % {"protocol": protocol, "error": exc.__class__.__name__},
        )
