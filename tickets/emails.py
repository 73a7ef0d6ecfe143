"""Plain-text mail to reporters (EML-1, EML-2, THR-2), one function per kind, from templates/emails/."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from outbox.rendering import RenderedEmail, render_mail

from .models import Entry, Ticket


def secret_link(ticket: Ticket) -> str:
    return settings.SITE_URL + reverse("public_ticket", kwargs={"ticket_uuid": ticket.uuid})


def _render(name: str, ticket: Ticket, context: dict[str, object]) -> RenderedEmail:
    # In the reporter's language (the page they filed on), not the worker's or the manager's.
    return render_mail(f"emails/{name}", context, language=ticket.reporter_language or settings.LANGUAGE_CODE)


def render_ticket_created(ticket: Ticket) -> RenderedEmail:
    return _render("ticket_created", ticket, {"ticket": ticket, "board": ticket.board, "link": secret_link(ticket)})


def render_state_changed(ticket: Ticket, change: Entry) -> RenderedEmail:
    """A move, with the manager's words if they wrote any (EML-2, THR-2)."""
    return _render(
        "state_changed",
        ticket,
        {"ticket": ticket, "change": change, "board": ticket.board, "link": secret_link(ticket)},
    )


def render_reply(ticket: Ticket, reply: Entry) -> RenderedEmail:
    """A manager's reply that does not move the ticket (THR-2)."""
    return _render(
        "reply", ticket, {"ticket": ticket, "reply": reply, "board": ticket.board, "link": secret_link(ticket)}
    )
