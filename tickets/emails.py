"""Plain-text notification mails to reporters (EML-1, EML-2), one function per kind.

Bodies come from template files under templates/emails/; autoescaping is off there because
the result is plain text, never HTML.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from .models import StateChange, Ticket


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    body: str


def secret_link(ticket: Ticket) -> str:
    return settings.SITE_URL + reverse("public_ticket", kwargs={"ticket_uuid": ticket.uuid})


def _render(name: str, ticket: Ticket, context: dict[str, object]) -> RenderedEmail:
    # In the reporter's language (the page they filed on), not the worker's or the manager's.
    with translation.override(ticket.reporter_language or settings.LANGUAGE_CODE):
        subject = render_to_string(f"emails/{name}.subject.txt", context)
        body = render_to_string(f"emails/{name}.txt", context)
    return RenderedEmail(subject=" ".join(subject.split()), body=body.strip() + "\n")


def render_ticket_created(ticket: Ticket) -> RenderedEmail:
    return _render("ticket_created", ticket, {"ticket": ticket, "board": ticket.board, "link": secret_link(ticket)})


def render_state_changed(ticket: Ticket, change: StateChange) -> RenderedEmail:
    return _render(
        "state_changed",
        ticket,
        {"ticket": ticket, "change": change, "board": ticket.board, "link": secret_link(ticket)},
    )
