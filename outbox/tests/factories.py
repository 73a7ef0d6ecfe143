from __future__ import annotations

import factory

from outbox.models import OutgoingMail, OutgoingMailKind


class OutgoingMailFactory(factory.django.DjangoModelFactory):
    """A row as ``outgoing_mail_create`` writes it, without waking a task."""

    class Meta:
        model = OutgoingMail

    kind = OutgoingMailKind.TICKET_CREATED
    from_email = "Issue Tracker <noreply@localhost>"
    to_email = factory.Sequence(lambda n: f"reporter{n}@example.org")
    subject = factory.Sequence(lambda n: f"Your report {n}")
    body = "We have your report."
    message_id = factory.Sequence(lambda n: f"<outgoing-{n}@localhost>")
