"""Mail from strangers is never markup on the inbox page (INB-4, NFR): the subjects, senders and
reasons of failed messages, the mail that could not be sent and the server's last error are shown
escaped."""

from __future__ import annotations

import pytest
from django.urls import reverse

from boards.tests.factories import BoardFactory
from inboxes.models import ProcessedEmail, ProcessedEmailStatus
from outbox.models import OutgoingMailStatus
from outbox.tests.factories import OutgoingMailFactory
from tickets.tests.hostile import assert_shown_escaped, hostile

from .factories import InboxFactory

pytestmark = pytest.mark.django_db


def test_inbox_page_shows_hostile_text_escaped(manager_client, manager):
    inbox = InboxFactory(
        manager=manager,
        name=hostile("inbox name"),
        from_address=hostile("inbox address"),
        last_error=hostile("server error"),
    )
    board = BoardFactory(manager=manager, name=hostile("exclusive board"), exclusive_inbox=inbox)
    failed = ProcessedEmail.objects.create(
        inbox=inbox,
        imap_uidvalidity=1,
        imap_uid=1,
        raw=b"Subject: x\r\n\r\nx",
        raw_size=14,
        status=ProcessedEmailStatus.FAILED,
        subject=hostile("subject"),
        sender_email=hostile("sender"),
        reason=hostile("reason"),
    )
    unsent = OutgoingMailFactory(
        inbox=inbox,
        status=OutgoingMailStatus.FAILED,
        subject=hostile("mail subject"),
        to_email=hostile("recipient"),
        last_error=hostile("smtp error"),
    )

    response = manager_client.get(reverse("inboxes:detail", args=[inbox.pk]))

    assert response.status_code == 200
    assert_shown_escaped(
        response.content.decode(),
        inbox.name,
        inbox.from_address,
        inbox.last_error,
        board.name,
        failed.subject,
        failed.sender_email,
        failed.reason,
        unsent.subject,
        unsent.to_email,
        unsent.last_error,
    )
