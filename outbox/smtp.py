"""Sending through a manager's inbox SMTP server, or the site's default mailer (EML-3)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import mailers
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend

from inboxes.models import Inbox

IMPLICIT_TLS_PORT = 465


def smtp_connection_for(inbox: Inbox | None) -> BaseEmailBackend:
    if inbox is None:
        return mailers.default
    # Port 465 speaks TLS from the first byte; elsewhere STARTTLS as configured. Django's SMTP
    # backend raises when STARTTLS is asked for and refused, so TLS is never silently dropped.
    implicit_tls = inbox.smtp_port == IMPLICIT_TLS_PORT
    return SmtpBackend(
        alias=f"inbox-{inbox.pk}",
        host=inbox.smtp_host,
        port=inbox.smtp_port,
        username=inbox.smtp_username or None,
        password=inbox.get_smtp_password() or None,
        use_tls=inbox.smtp_use_starttls and not implicit_tls,
        use_ssl=implicit_tls,
        timeout=settings.SMTP_TIMEOUT_SECONDS,
        fail_silently=False,
    )
