"""Settings → Inboxes through the test client: scoping (NFR-4), POST-only changes, secrets never shown."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from boards.tests.factories import BoardFactory
from inboxes.models import Inbox, ProcessedEmail, ProcessedEmailStatus
from outbox.models import OutgoingMail, OutgoingMailKind, OutgoingMailStatus
from tickets.models import Ticket

from .factories import DEFAULT_IMAP_PASSWORD, DEFAULT_SMTP_PASSWORD, InboxFactory
from .mails import make_mail

pytestmark = pytest.mark.django_db


def form_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Helpdesk",
        "from_address": "Help@Example.com",
        "imap_host": "imap.example.com",
        "imap_port": 993,
        "imap_use_ssl": "on",
        "imap_username": "help",
        "imap_password": "imap-pass",
        "smtp_host": "smtp.example.com",
        "smtp_port": 587,
        "smtp_use_starttls": "on",
        "smtp_username": "help",
        "smtp_password": "smtp-pass",
        "poll_interval_minutes": 5,
        "is_active": "on",
        "exclusive_board": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def edit_data(inbox: Inbox, **overrides: object) -> dict[str, object]:
    """The edit form as sent for ``inbox``: same servers, password fields left empty."""
    values: dict[str, object] = {
        "imap_host": inbox.imap_host,
        "imap_username": inbox.imap_username,
        "imap_password": "",
        "smtp_host": inbox.smtp_host,
        "smtp_username": inbox.smtp_username,
        "smtp_password": "",
    }
    values.update(overrides)
    return form_data(**values)


def failed_email(inbox: Inbox, **fields: object) -> ProcessedEmail:
    raw = fields.pop("raw", make_mail(subject="Broken one"))
    values = {
        "imap_uidvalidity": 1,
        "imap_uid": 1,
        "raw": raw,
        "raw_size": len(raw),
        "status": ProcessedEmailStatus.FAILED,
        "subject": "Broken one",
        "reason": "An unexpected error stopped processing (RuntimeError).",
    }
    values.update(fields)
    return ProcessedEmail.objects.create(inbox=inbox, **values)


def test_list_shows_only_my_inboxes(manager_client, inbox, other_manager, django_assert_max_num_queries):
    InboxFactory(manager=other_manager, name="Not mine")
    InboxFactory(manager=inbox.manager, name="Second")
    with django_assert_max_num_queries(8):
        response = manager_client.get(reverse("inboxes:list"))
    assert response.status_code == 200
    assert b"Support" in response.content and b"Second" in response.content
    assert b"Not mine" not in response.content


def test_pages_need_login(client, inbox):
    for url in (reverse("inboxes:list"), reverse("inboxes:new"), reverse("inboxes:detail", args=[inbox.pk])):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_create_encrypts_passwords_and_sets_the_exclusive_board(manager_client, manager):
    board = BoardFactory(manager=manager)
    response = manager_client.post(reverse("inboxes:new"), form_data(exclusive_board=board.pk))

    inbox = Inbox.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("inboxes:detail", args=[inbox.pk])
    assert inbox.manager == manager and inbox.from_address == "help@example.com"
    assert "imap-pass" not in inbox.imap_password_encrypted and inbox.get_imap_password() == "imap-pass"
    assert inbox.get_smtp_password() == "smtp-pass"
    board.refresh_from_db()
    assert board.exclusive_inbox == inbox


def test_create_needs_the_imap_password_and_valid_values(manager_client):
    response = manager_client.post(
        reverse("inboxes:new"), form_data(imap_password="", poll_interval_minutes=7, imap_host="imap://x")
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) >= {"imap_password", "poll_interval_minutes", "imap_host"}
    assert not Inbox.objects.exists()


def test_exclusive_board_choices_are_my_open_boards_only(manager_client, manager, other_manager, inbox):
    mine = BoardFactory(manager=manager, name="Mine")
    BoardFactory(manager=manager, name="Old", is_archived=True, archived_at="2025-01-01T00:00Z")
    theirs = BoardFactory(manager=other_manager, name="Theirs")
    taken = BoardFactory(manager=manager, name="Taken", exclusive_inbox=inbox)

    page = manager_client.get(reverse("inboxes:new"))
    choices = [str(label) for _value, label in page.context["form"].fields["exclusive_board"].choices]
    assert "Mine" in choices and "Taken (exclusive to Support)" in choices
    assert "Old" not in choices and "Theirs" not in choices

    refused = manager_client.post(reverse("inboxes:new"), form_data(exclusive_board=theirs.pk))
    assert "exclusive_board" in refused.context["form"].errors
    already = manager_client.post(reverse("inboxes:new"), form_data(exclusive_board=taken.pk))
    assert "already has the exclusive inbox" in str(already.context["form"].errors["exclusive_board"])
    assert Inbox.objects.count() == 1 and mine


def test_the_language_of_mail_to_reporters_is_chosen_on_the_form_and_shown(manager_client, manager, inbox):
    manager.language = "pl"
    manager.save()
    page = manager_client.get(reverse("inboxes:edit", args=[inbox.pk]))
    choices = [(value, str(label)) for value, label in page.context["form"].fields["language"].choices]
    assert choices == [("", "The owner's language (Polish)"), ("en", "English"), ("pl", "Polish")]
    assert "Language of mail to reporters" in page.content.decode()
    detail = manager_client.get(reverse("inboxes:detail", args=[inbox.pk]))
    shown = '<dd class="col-sm-8" data-testid="reporter-language">{}</dd>'
    assert shown.format("The owner's language (Polish)") in html.unescape(detail.content.decode())

    response = manager_client.post(reverse("inboxes:edit", args=[inbox.pk]), edit_data(inbox, language="en"))
    assert response.status_code == 302
    inbox.refresh_from_db()
    assert inbox.language == "en"
    detail = manager_client.get(reverse("inboxes:detail", args=[inbox.pk]))
    assert '<dd class="col-sm-8" data-testid="reporter-language">English</dd>' in detail.content.decode()

    refused = manager_client.post(reverse("inboxes:edit", args=[inbox.pk]), edit_data(inbox, language="de"))
    assert "language" in refused.context["form"].errors
    manager_client.post(reverse("inboxes:edit", args=[inbox.pk]), edit_data(inbox, language=""))
    inbox.refresh_from_db()
    assert inbox.language == ""


def test_a_new_inbox_can_write_to_reporters_in_polish(manager_client):
    manager_client.post(reverse("inboxes:new"), form_data(language="pl"))
    assert Inbox.objects.get().language == "pl"


def test_edit_never_shows_passwords_and_empty_keeps_them(manager_client, inbox):
    page = manager_client.get(reverse("inboxes:edit", args=[inbox.pk]))
    assert page.status_code == 200
    assert DEFAULT_IMAP_PASSWORD.encode() not in page.content
    assert DEFAULT_SMTP_PASSWORD.encode() not in page.content
    assert inbox.imap_password_encrypted.encode() not in page.content

    response = manager_client.post(reverse("inboxes:edit", args=[inbox.pk]), edit_data(inbox, name="Renamed"))
    assert response.status_code == 302
    inbox.refresh_from_db()
    assert inbox.name == "Renamed"
    assert inbox.get_imap_password() == DEFAULT_IMAP_PASSWORD
    assert inbox.get_smtp_password() == DEFAULT_SMTP_PASSWORD

    manager_client.post(reverse("inboxes:edit", args=[inbox.pk]), edit_data(inbox, imap_password="new-one"))
    inbox.refresh_from_db()
    assert inbox.get_imap_password() == "new-one"


def test_edit_pointing_at_another_mailbox_forgets_the_uid_position(manager_client, inbox):
    Inbox.objects.filter(pk=inbox.pk).update(imap_uidvalidity=77, imap_last_uid=500)
    response = manager_client.post(
        reverse("inboxes:edit", args=[inbox.pk]), edit_data(inbox, imap_host="imap.example.net", imap_password="pw")
    )
    assert response.status_code == 302
    inbox.refresh_from_db()
    assert (inbox.imap_uidvalidity, inbox.imap_last_uid) == (None, 0)


def test_edit_can_clear_the_exclusive_board(manager_client, inbox):
    board = BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    page = manager_client.get(reverse("inboxes:edit", args=[inbox.pk]))
    assert page.context["form"]["exclusive_board"].value() == board.pk
    manager_client.post(reverse("inboxes:edit", args=[inbox.pk]), edit_data(inbox, exclusive_board=""))
    board.refresh_from_db()
    assert board.exclusive_inbox is None


def test_detail_shows_counters_last_error_and_failed_messages(manager_client, inbox, django_assert_max_num_queries):
    Inbox.objects.filter(pk=inbox.pk).update(last_error="IMAP: login refused by imap.example.com.")
    failed = failed_email(inbox)
    ProcessedEmail.objects.create(inbox=inbox, imap_uidvalidity=1, imap_uid=2, raw=b"x", status="duplicate")
    with django_assert_max_num_queries(12):
        response = manager_client.get(reverse("inboxes:detail", args=[inbox.pk]))
    assert response.status_code == 200
    assert response.context["counters"]["failed"] == 1 and response.context["counters"]["duplicates"] == 1
    content = response.content.decode()
    assert "IMAP: login refused by imap.example.com." in content
    assert "RuntimeError" in content
    assert reverse("inboxes:reprocess", args=[inbox.pk, failed.pk]) in content


@pytest.mark.parametrize(
    "url_name,extra",
    [
        ("inboxes:delete", []),
        ("inboxes:test_connection", []),
        ("inboxes:reprocess", ["email"]),
        ("inboxes:retry_mail", ["mail"]),
    ],
)
def test_changes_are_post_only_and_scoped(client, manager, other_manager, inbox, url_name, extra):
    email = failed_email(inbox)
    mail = OutgoingMail.objects.create(
        kind=OutgoingMailKind.TICKET_CREATED,
        inbox=inbox,
        manager=manager,
        from_email=inbox.from_address,
        to_email="x@example.org",
        subject="s",
        body="b",
        message_id="<m1@example.org>",
        status=OutgoingMailStatus.FAILED,
    )
    ids = {"email": email.pk, "mail": mail.pk}
    url = reverse(url_name, args=[inbox.pk, *[ids[name] for name in extra]])

    client.force_login(manager)
    assert client.get(url).status_code == 405
    client.force_login(other_manager)
    assert client.post(url).status_code == 404
    assert Inbox.objects.filter(pk=inbox.pk).exists()


def test_other_managers_get_404_on_every_inbox_page(other_client, inbox):
    email = failed_email(inbox)
    for url in (
        reverse("inboxes:detail", args=[inbox.pk]),
        reverse("inboxes:edit", args=[inbox.pk]),
        reverse("inboxes:raw", args=[inbox.pk, email.pk]),
    ):
        assert other_client.get(url).status_code == 404
    assert other_client.post(reverse("inboxes:edit", args=[inbox.pk]), form_data()).status_code == 404


def test_delete_keeps_tickets(manager_client, inbox):
    board = BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    page = manager_client.get(reverse("inboxes:detail", args=[inbox.pk]) + "?confirm=delete")
    assert reverse("inboxes:delete", args=[inbox.pk]).encode() in page.content
    response = manager_client.post(reverse("inboxes:delete", args=[inbox.pk]))
    assert response.status_code == 302
    assert not Inbox.objects.exists()
    board.refresh_from_db()
    assert board.exclusive_inbox is None


def test_reprocess_takes_a_failed_message_in(manager_client, inbox):
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    email = failed_email(inbox)
    response = manager_client.post(reverse("inboxes:reprocess", args=[inbox.pk, email.pk]), follow=True)
    email.refresh_from_db()
    assert email.status == ProcessedEmailStatus.TICKET
    assert Ticket.objects.get().title == "Broken one"
    assert "The message was processed" in response.content.decode()


def test_reprocess_that_fails_again_says_why(manager_client, inbox):
    email = failed_email(inbox, raw=b"\n\n")
    response = manager_client.post(reverse("inboxes:reprocess", args=[inbox.pk, email.pk]), follow=True)
    assert "The message failed again" in response.content.decode()


def test_raw_download(manager_client, inbox):
    email = failed_email(inbox)
    response = manager_client.get(reverse("inboxes:raw", args=[inbox.pk, email.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "message/rfc822"
    assert response["Content-Disposition"].startswith("attachment")
    assert b"Subject: Broken one" in response.content


def test_failed_outgoing_mail_is_shown_and_can_be_sent_again(manager_client, manager, inbox):
    mail = OutgoingMail.objects.create(
        kind=OutgoingMailKind.TICKET_CREATED,
        inbox=inbox,
        manager=manager,
        from_email=inbox.from_address,
        to_email="reporter@example.org",
        subject="Your report",
        body="b",
        message_id="<m2@example.org>",
        status=OutgoingMailStatus.FAILED,
        last_error="SMTP: login refused by smtp.example.com",
    )
    page = manager_client.get(reverse("inboxes:detail", args=[inbox.pk]))
    assert b"SMTP: login refused by smtp.example.com" in page.content
    manager_client.post(reverse("inboxes:retry_mail", args=[inbox.pk, mail.pk]))
    mail.refresh_from_db()
    assert mail.status == OutgoingMailStatus.PENDING


def test_reprocess_during_a_database_error_leaves_it_to_the_next_poll(manager_client, inbox, monkeypatch):
    from django.db import OperationalError

    from inboxes import intake

    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    email = failed_email(inbox)

    def down(**kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(intake, "ticket_create", down)
    response = manager_client.post(reverse("inboxes:reprocess", args=[inbox.pk, email.pk]), follow=True)
    assert response.status_code == 200
    assert "the next poll tries again" in response.content.decode()
    email.refresh_from_db()
    assert email.status == ProcessedEmailStatus.RECEIVED and email.attempts == 1


@pytest.mark.parametrize(
    "changed,password_field",
    [
        ({"imap_host": "imap.attacker.example"}, "imap_password"),
        ({"imap_username": "someone-else"}, "imap_password"),
        ({"smtp_host": "smtp.attacker.example"}, "smtp_password"),
        ({"smtp_username": "someone-else"}, "smtp_password"),
    ],
)
def test_another_server_needs_the_password_typed_again(manager_client, inbox, monkeypatch, changed, password_field):
    """An empty password means "the stored one": it must not be sent to a server it was not typed for."""
    from inboxes import views

    def no_check(**kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the stored password would have gone to the new server")

    monkeypatch.setattr(views, "inbox_check_connection", no_check)
    url = reverse("inboxes:edit", args=[inbox.pk])
    for action in ("test", "save"):
        response = manager_client.post(url, edit_data(inbox, action=action, **changed))
        assert response.status_code == 200
        assert "enter the password again" in response.context["form"].errors[password_field][0]
    stored = Inbox.objects.get(pk=inbox.pk)
    assert all(getattr(stored, name) == getattr(inbox, name) for name in changed)

    # Typed again, it is saved for the new server.
    response = manager_client.post(url, edit_data(inbox, **{password_field: "typed-again", **changed}))
    assert response.status_code == 302
    stored = Inbox.objects.get(pk=inbox.pk)
    assert all(getattr(stored, name) == value for name, value in changed.items())


def test_same_server_in_other_letter_case_keeps_the_stored_password(manager_client, inbox):
    response = manager_client.post(
        reverse("inboxes:edit", args=[inbox.pk]), edit_data(inbox, imap_host=inbox.imap_host.upper())
    )
    assert response.status_code == 302
    inbox.refresh_from_db()
    assert inbox.get_imap_password() == DEFAULT_IMAP_PASSWORD


@pytest.mark.parametrize("fragment", [False, True])
def test_test_connection_with_an_undecryptable_password_says_so(manager_client, inbox, fragment):
    # As after ENCRYPTION_KEY was changed without keeping the old key.
    Inbox.objects.filter(pk=inbox.pk).update(imap_password_encrypted="v9:garbage", smtp_password_encrypted="v9:x")
    headers = {"X-Requested-With": "fetch"} if fragment else {}
    response = manager_client.post(
        reverse("inboxes:test_connection", args=[inbox.pk]), headers=headers, follow=not fragment
    )
    assert response.status_code == 200
    content = html.unescape(response.content.decode())
    assert "IMAP: the stored password cannot be decrypted (was ENCRYPTION_KEY changed?). Enter it again." in content
    assert "SMTP: the stored password cannot be decrypted (was ENCRYPTION_KEY changed?). Enter it again." in content


def test_test_connection_on_the_edit_page_with_an_undecryptable_stored_password(manager_client, inbox):
    Inbox.objects.filter(pk=inbox.pk).update(imap_password_encrypted="v9:garbage", smtp_password_encrypted="v9:x")
    response = manager_client.post(
        reverse("inboxes:edit", args=[inbox.pk]), edit_data(inbox, action="test"), headers={"X-Requested-With": "fetch"}
    )
    assert response.status_code == 200
    assert "IMAP: the stored password cannot be decrypted" in html.unescape(response.content.decode())
