"""Assertions shared by the notification tests."""

from __future__ import annotations

from email.message import EmailMessage as ParsedMessage

from django.core import mail
from django.core.mail import EmailMessage

from accounts.models import Manager
from outbox.models import OutgoingMail, OutgoingMailKind
from tickets.models import Ticket


def manager_ticket_link(ticket: Ticket) -> str:
    return f"http://testserver/boards/{ticket.board_id}/tickets/{ticket.pk}/"


def notification_rows(manager: Manager) -> list[OutgoingMail]:
    return list(OutgoingMail.objects.filter(kind=OutgoingMailKind.NOTIFICATION, to_email=manager.email))


def sent_to(manager: Manager) -> list[EmailMessage]:
    return [message for message in mail.outbox if message.to == [manager.email]]


def _secrets(ticket: Ticket) -> list[str]:
    # The secret link, the uuid in any spelling, and the reporter's short reference (its first
    # eight characters, carried in the subjects of the reporter's mail).
    return [f"/ticket/{ticket.uuid}", "/ticket/", str(ticket.uuid), ticket.uuid.hex, str(ticket.uuid)[:8]]


def assert_no_secret(message: EmailMessage | ParsedMessage, ticket: Ticket) -> None:
    """Neither the decoded body, nor any header, nor the raw message names the ticket's secret."""
    if isinstance(message, EmailMessage):
        parsed = message.message()
        texts = [message.subject, message.body, parsed.as_string()]
    else:
        parsed = message
        texts = [parsed.get_body(("plain",)).get_content(), parsed.as_string()]
    texts += [f"{name}: {value}" for name, value in parsed.items()]
    for text in texts:
        for secret in _secrets(ticket):
            assert secret not in text, (secret, text)
