"""Assertion helpers over what the account flows actually sent (mail.outbox)."""

from __future__ import annotations

import re

from django.core import mail

_CONFIRM_LINK = re.compile(r"https?://[^/\s]+(/accounts/confirm-email/[^/\s]+/)")
_RESET_LINK = re.compile(r"https?://[^/\s]+(/accounts/password/reset/key/[^/\s]+/)")


def _only_mail_to(address: str) -> mail.EmailMessage:
    sent = [message for message in mail.outbox if address in message.to]
    assert len(sent) == 1, f"expected one mail to {address}, got {[m.subject for m in sent]}"
    return sent[0]


def confirmation_path(address: str) -> str:
    """The path of the verification link in the one mail sent to `address`."""
    match = _CONFIRM_LINK.search(_only_mail_to(address).body)
    assert match, "no confirmation link in the verification mail"
    return match.group(1)


def reset_path(address: str) -> str:
    """The path of the password reset link in the one mail sent to `address`."""
    match = _RESET_LINK.search(_only_mail_to(address).body)
    assert match, "no reset link in the password reset mail"
    return match.group(1)
