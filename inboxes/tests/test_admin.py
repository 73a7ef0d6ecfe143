"""ADM-1 for the inbox models: pages render, secrets stay hidden, the actions go through services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.tests.factories import ManagerFactory
from boards.tests.factories import BoardFactory
from inboxes.models import ProcessedEmail, ProcessedEmailStatus
from outbox.models import OutgoingMail, OutgoingMailKind, OutgoingMailStatus
from standby.tests.factories import StandbyItemFactory

from .factories import DEFAULT_IMAP_PASSWORD
from .mails import make_mail

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):  # type: ignore[no-untyped-def]
    client.force_login(ManagerFactory(email="admin@example.com", is_staff=True, is_superuser=True))
    return client


def test_inbox_admin_hides_secrets(admin_client, inbox):
    for url in (reverse("admin:inboxes_inbox_changelist"), reverse("admin:inboxes_inbox_change", args=[inbox.pk])):
        response = admin_client.get(url)
        assert response.status_code == 200
        assert DEFAULT_IMAP_PASSWORD.encode() not in response.content
        assert inbox.imap_password_encrypted.encode() not in response.content
        assert inbox.smtp_password_encrypted.encode() not in response.content


def test_list_and_change_pages_render(admin_client, inbox):
    raw = make_mail()
    email = ProcessedEmail.objects.create(inbox=inbox, imap_uidvalidity=1, imap_uid=1, raw=raw, raw_size=len(raw))
    item = StandbyItemFactory(manager=inbox.manager, receiving_inbox=inbox)
    for name, pk in (("inboxes_processedemail", email.pk), ("standby_standbyitem", item.pk)):
        assert admin_client.get(reverse(f"admin:{name}_changelist")).status_code == 200
        assert admin_client.get(reverse(f"admin:{name}_change", args=[pk])).status_code == 200


def test_reprocess_action(admin_client, inbox):
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    raw = make_mail(subject="From the admin")
    email = ProcessedEmail.objects.create(
        inbox=inbox, imap_uidvalidity=1, imap_uid=1, raw=raw, raw_size=len(raw), status=ProcessedEmailStatus.FAILED
    )
    response = admin_client.post(
        reverse("admin:inboxes_processedemail_changelist"),
        {"action": "reprocess_failed", "_selected_action": [email.pk]},
        follow=True,
    )
    assert b"1 email was processed." in response.content
    email.refresh_from_db()
    assert email.status == ProcessedEmailStatus.TICKET


def test_retry_failed_mail_action(admin_client, inbox, monkeypatch):
    mail = OutgoingMail.objects.create(
        kind=OutgoingMailKind.TICKET_CREATED,
        inbox=inbox,
        from_email=inbox.from_address,
        to_email="r@example.org",
        subject="s",
        body="b",
        message_id="<admin-1@example.org>",
        status=OutgoingMailStatus.FAILED,
    )
    assert admin_client.get(reverse("admin:outbox_outgoingmail_changelist")).status_code == 200
    response = admin_client.post(
        reverse("admin:outbox_outgoingmail_changelist"),
        {"action": "retry_failed", "_selected_action": [mail.pk]},
        follow=True,
    )
    assert b"1 mail will be sent again." in response.content
    mail.refresh_from_db()
    assert mail.status == OutgoingMailStatus.PENDING


def test_an_inbox_cannot_be_moved_to_another_manager(admin_client, inbox, other_manager):
    """Moving it would leave it exclusive to, and its mail with, the old manager's boards."""
    url = reverse("admin:inboxes_inbox_change", args=[inbox.pk])
    page = admin_client.get(url)
    assert 'name="manager"' not in page.content.decode()
    data = {
        "manager": other_manager.pk,
        "name": "Moved?",
        "from_address": inbox.from_address,
        "poll_interval_minutes": inbox.poll_interval_minutes,
        "is_active": "on",
        "imap_host": inbox.imap_host,
        "imap_port": inbox.imap_port,
        "imap_username": inbox.imap_username,
        "imap_use_ssl": "on",
        "smtp_host": inbox.smtp_host,
        "smtp_port": inbox.smtp_port,
        "smtp_username": inbox.smtp_username,
        "smtp_use_starttls": "on",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302
    inbox.refresh_from_db()
    assert inbox.name == "Moved?" and inbox.manager != other_manager
    # Choosing the manager of a new inbox is still possible.
    assert 'name="manager"' in admin_client.get(reverse("admin:inboxes_inbox_add")).content.decode()


def test_standby_items_are_read_only_in_the_admin(admin_client, inbox, other_manager):
    item = StandbyItemFactory(manager=inbox.manager, receiving_inbox=inbox, subject="Original")
    url = reverse("admin:standby_standbyitem_change", args=[item.pk])
    page = admin_client.get(url)
    assert page.status_code == 200 and 'name="subject"' not in page.content.decode()
    response = admin_client.post(url, {"manager": other_manager.pk, "subject": "Changed", "reason": item.reason})
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.subject == "Original" and item.manager == inbox.manager
    assert admin_client.get(reverse("admin:standby_standbyitem_add")).status_code == 403
    # The list and its actions stay.
    listing = admin_client.get(reverse("admin:standby_standbyitem_changelist"))
    assert listing.status_code == 200 and b"delete_selected" in listing.content
