"""Forwarding boards to Jira Cloud and Trello (SPEC section 9, SBQ-2) against the local fake platforms.

The real clients talk HTTP to ``boards.tests.fake_platforms``; nothing of ours is mocked. Celery
runs eagerly, so a task retry runs again at once (the countdown is not waited for).
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from boards.forwarding import (
    FORWARD_MAX_RETRIES,
    board_external_credentials,
    board_set_external_platform,
    forward_retry_delay,
)
from boards.models import Board, ExternalPlatform
from boards.tasks import forward_ticket
from inboxes.models import StandbyItem, StandbyReason
from inboxes.tests.factories import InboxFactory
from inboxes.tests.mails import make_mail, take_in
from issuetracker import crypto
from tickets.models import ForwardStatus, Ticket, TicketSource, TicketState
from tickets.services import ticket_create
from tickets.tests.factories import BoardFactory

pytestmark = pytest.mark.django_db

REPORTER = "reporter@customer.example"
TRELLO_LIST = "5f00000000000000000000a1"


@pytest.fixture(autouse=True)
def _platform_settings(settings, caplog):  # type: ignore[no-untyped-def]
    # The fakes speak plain HTTP on 127.0.0.1; a hang should not cost the real 10 s per attempt.
    settings.EXTERNAL_PLATFORM_ALLOW_HTTP = True
    settings.EXTERNAL_PLATFORM_TIMEOUT = 0.5
    caplog.set_level(logging.DEBUG)


@pytest.fixture
def jira_board(manager, fake_jira) -> Board:  # type: ignore[no-untyped-def]
    board = BoardFactory(manager=manager, name="Support", unique_name="support")
    return board_set_external_platform(
        board=board,
        platform=ExternalPlatform.JIRA,
        config={"site_url": fake_jira.url, "email": fake_jira.email, "project_key": "ABC", "issue_type": "Task"},
        secrets={"api_token": fake_jira.api_token},
    )


@pytest.fixture
def trello_board(manager, fake_trello, settings) -> Board:  # type: ignore[no-untyped-def]
    settings.TRELLO_API_URL = fake_trello.url
    board = BoardFactory(manager=manager, name="Cards", unique_name="cards")
    return board_set_external_platform(
        board=board,
        platform=ExternalPlatform.TRELLO,
        config={"api_key": fake_trello.api_key, "board_id": "5f0000000000000000000001", "list_id": TRELLO_LIST},
        secrets={"token": fake_trello.token},
    )


@pytest.fixture
def internal_board(manager) -> Board:  # type: ignore[no-untyped-def]
    return BoardFactory(manager=manager, name="Helpdesk", unique_name="helpdesk")


def report(board: Board, capture: Any, *, title: str = "Printer on fire", description: str = "It smokes.") -> Ticket:
    """A report as the public form and intake file it; forwarding runs when the transaction commits."""
    with capture(execute=True):
        ticket = ticket_create(
            board=board, title=title, description=description, creator_email=REPORTER, source=TicketSource.WEB
        )
    ticket.refresh_from_db()
    return ticket


def issue_posts(fake: Any) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST"]


def adf_text(document: dict[str, Any]) -> str:
    return " ".join(
        node.get("text", "") for block in document["content"] for node in block.get("content", []) if "text" in node
    )


# --- creation (EXT-2) ---------------------------------------------------------------------------


def test_public_form_report_on_a_jira_board_becomes_a_jira_issue(
    client, jira_board, fake_jira, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("public_board", args=[jira_board.unique_name]),
            {"email": REPORTER, "title": "Printer on fire", "description": "It smokes.\n\nSecond floor."},
        )
    assert response.status_code == 302

    ticket = Ticket.objects.get()
    assert ticket.forward_status == ForwardStatus.FORWARDED
    assert (ticket.external_platform, ticket.external_id) == (ExternalPlatform.JIRA, "10001")
    assert ticket.external_url == f"{fake_jira.url}/browse/ABC-1"
    assert (ticket.title, ticket.creator_email, ticket.description) == ("Printer on fire", REPORTER, "")

    [request] = issue_posts(fake_jira)
    expected_auth = base64.b64encode(f"{fake_jira.email}:{fake_jira.api_token}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected_auth}"
    fields = fake_jira.created_issues[0]["fields"]
    assert fields["summary"] == "Printer on fire"
    assert fields["project"] == {"key": "ABC"} and fields["issuetype"] == {"name": "Task"}
    assert fields["description"]["type"] == "doc"
    assert adf_text(fields["description"]) == f"It smokes. Second floor. Reported by: {REPORTER}"

    board = Board.objects.get(pk=jira_board.pk)
    assert (board.count_forwarded, board.count_new) == (1, 0)
    # The reporter is still answered, with the secret link (EXT-3, EML-1).
    [confirmation] = mail.outbox
    assert confirmation.to == [REPORTER]
    assert f"/ticket/{ticket.uuid}" in confirmation.body
    assert "The team handles it in Jira Cloud" in confirmation.body
    assert "each time its state changes" not in confirmation.body
    # The stub redirects (EXT-2, PUB-2) and is never on the kanban.
    page = client.get(reverse("public_ticket", args=[ticket.uuid]))
    assert (page.status_code, page["Location"]) == (302, ticket.external_url)


def test_trello_board_creates_a_card_in_the_chosen_list(
    client, trello_board, fake_trello, django_capture_on_commit_callbacks
):
    ticket = report(trello_board, django_capture_on_commit_callbacks, title="Login broken", description="Error 500")

    [card] = fake_trello.created_cards
    assert card["idList"] == TRELLO_LIST and card["name"] == "Login broken"
    assert card["desc"] == f"Error 500\n\nReported by: {REPORTER}"
    assert ticket.forward_status == ForwardStatus.FORWARDED
    assert (ticket.external_platform, ticket.external_id) == (ExternalPlatform.TRELLO, card["id"])
    assert ticket.external_url == card["shortUrl"]
    # The token travels in the Authorization header, never in the URL.
    [post] = issue_posts(fake_trello)
    assert fake_trello.token in post.headers["authorization"] and not post.query
    page = client.get(reverse("public_ticket", args=[ticket.uuid]))
    assert page["Location"] == card["shortUrl"]


def test_the_stub_exists_before_the_platform_is_called(jira_board, fake_jira, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ticket = ticket_create(
            board=jira_board, title="Queued", description="x", creator_email=REPORTER, source=TicketSource.WEB
        )
    assert ticket.forward_status == ForwardStatus.PENDING and ticket.external_platform == ExternalPlatform.JIRA
    assert ticket.description == "x" and not fake_jira.requests, "nothing is sent before commit"
    assert len(callbacks) == 2  # the confirmation mail and the forwarding task


def test_kanban_and_list_show_no_stub_but_the_board_list_counts_it(
    manager_client, jira_board, django_capture_on_commit_callbacks
):
    ticket = report(jira_board, django_capture_on_commit_callbacks, title="Only on Jira")
    kanban = manager_client.get(reverse("boards:detail", args=[jira_board.pk]))
    assert b"Only on Jira" not in kanban.content
    assert b"forwarded to Jira Cloud" in kanban.content
    boards = manager_client.get(reverse("boards:list"))
    assert list(boards.context["boards"])[0].count_forwarded == 1
    dashboard = manager_client.get(reverse("dashboard"))
    assert f'href="{ticket.external_url}"'.encode() in dashboard.content
    external = manager_client.get(reverse("boards:external", args=[jira_board.pk]))
    assert f'href="{ticket.external_url}"'.encode() in external.content


# --- failures (EXT-3) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason_part"),
    [
        (400, "Jira refused the issue"),
        (401, "refused the email"),
        (403, "not allowed"),
        (404, "project ABC not found"),
    ],
)
def test_permanent_failure_goes_to_the_standby_queue_at_once(
    client, status, reason_part, jira_board, fake_jira, django_capture_on_commit_callbacks
):
    fake_jira.fail_next(status)
    ticket = report(jira_board, django_capture_on_commit_callbacks, description="Keep me for the queue")

    assert len(issue_posts(fake_jira)) == 1, "a permanent failure is not retried"
    assert ticket.forward_status == ForwardStatus.FAILED
    assert ticket.description == "Keep me for the queue" and not ticket.external_url
    item = StandbyItem.objects.get()
    assert item.reason == StandbyReason.EXTERNAL_CREATION_FAILED
    assert (item.original_board, item.ticket, item.manager) == (jira_board, ticket, jira_board.manager)
    assert (item.subject, item.body, item.sender_email) == ("Printer on fire", "Keep me for the queue", REPORTER)
    assert reason_part in item.external_error
    assert item.retry_count == 0
    # The reporter was answered all the same, and the secret link does not redirect (yet).
    assert len(mail.outbox) == 1
    page = client.get(reverse("public_ticket", args=[ticket.uuid]))
    assert page.status_code == 200
    assert b"received and is being processed" in page.content


def test_jira_400_field_errors_reach_the_manager(jira_board, fake_jira, django_capture_on_commit_callbacks):
    # A project whose issue types no longer include "Task": Jira answers 400 with field errors.
    fake_jira.projects["ABC"]["issue_types"] = ["Bug"]
    report(jira_board, django_capture_on_commit_callbacks)
    assert StandbyItem.objects.get().external_error == "Jira refused the issue: issuetype: Specify a valid issue type."


def test_429_with_retry_after_is_retried_then_succeeds(jira_board, fake_jira, django_capture_on_commit_callbacks):
    fake_jira.fail_next(429, retry_after=7)
    ticket = report(jira_board, django_capture_on_commit_callbacks)
    assert len(issue_posts(fake_jira)) == 2
    assert ticket.forward_status == ForwardStatus.FORWARDED
    assert not StandbyItem.objects.exists()


def test_a_timeout_is_retried_then_succeeds(trello_board, fake_trello, django_capture_on_commit_callbacks):
    fake_trello.hang_next(seconds=2)
    ticket = report(trello_board, django_capture_on_commit_callbacks)
    assert len(issue_posts(fake_trello)) == 2
    assert ticket.forward_status == ForwardStatus.FORWARDED


def test_500_until_the_retries_run_out_ends_in_the_queue(jira_board, fake_jira, django_capture_on_commit_callbacks):
    fake_jira.fail_next(500, times=FORWARD_MAX_RETRIES + 1)
    ticket = report(jira_board, django_capture_on_commit_callbacks)
    assert len(issue_posts(fake_jira)) == FORWARD_MAX_RETRIES + 1
    assert ticket.forward_status == ForwardStatus.FAILED
    item = StandbyItem.objects.get()
    assert item.reason == StandbyReason.EXTERNAL_CREATION_FAILED
    assert "temporary problem (HTTP 500)" in item.external_error


def test_timeouts_until_the_retries_run_out_end_in_the_queue(
    trello_board, fake_trello, django_capture_on_commit_callbacks
):
    fake_trello.hang_next(seconds=2, times=FORWARD_MAX_RETRIES + 1)
    report(trello_board, django_capture_on_commit_callbacks)
    assert "did not answer within 0.5 seconds" in StandbyItem.objects.get().external_error


def test_retry_delay_honours_retry_after_and_backs_off_otherwise():
    assert forward_retry_delay(retries=0, retry_after=7) == 7
    assert forward_retry_delay(retries=3, retry_after=0.2) == 1
    assert forward_retry_delay(retries=0, retry_after=10**6) == 3600
    assert [forward_retry_delay(retries=n, retry_after=None) for n in range(7)] == [30, 60, 120, 240, 480, 960, 1800]


def test_an_email_report_failing_keeps_its_inbox_and_message(
    manager, fake_jira, jira_board, django_capture_on_commit_callbacks
):
    inbox = InboxFactory(manager=manager, from_address="support@tracker.example")
    jira_board.exclusive_inbox = inbox
    jira_board.save(update_fields=["exclusive_inbox"])
    fake_jira.fail_next(401)
    # Only the forwarding task runs: the confirmation would go through the inbox's (fake) SMTP host.
    with django_capture_on_commit_callbacks(execute=False):
        row = take_in(inbox, make_mail(subject="VPN down", message_id="<vpn@example.org>"))
    forward_ticket.delay(row.ticket_id)
    item = StandbyItem.objects.get()
    assert (item.receiving_inbox, item.processed_email, item.message_id) == (inbox, row, "<vpn@example.org>")
    assert item.ticket == row.ticket and item.ticket.source == TicketSource.EMAIL


def test_a_board_switched_off_fails_its_pending_stub_into_the_queue(jira_board, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ticket_create(board=jira_board, title="Late", description="", creator_email=REPORTER, source=TicketSource.WEB)
    board_set_external_platform(board=jira_board, platform="", config={}, secrets={})
    for callback in callbacks:
        callback()
    assert "no longer forwards" in StandbyItem.objects.get().external_error


# --- the standby queue (SBQ-2) ------------------------------------------------------------------


@pytest.fixture
def failed(jira_board, fake_jira, django_capture_on_commit_callbacks) -> StandbyItem:  # type: ignore[no-untyped-def]
    fake_jira.fail_next(503)
    fake_jira.fail_next(401)  # only the first is transient; the retry meets a permanent refusal
    report(jira_board, django_capture_on_commit_callbacks, description="Details for the queue")
    return StandbyItem.objects.get()


def test_retry_from_the_queue_counts_and_shows_the_reason_then_succeeds(manager_client, failed, fake_jira):
    url = reverse("standby:retry", args=[failed.pk])
    fake_jira.fail_next(500)
    response = manager_client.post(url, follow=True)
    failed.refresh_from_db()
    assert failed.retry_count == 1
    assert "It failed again: Jira had a temporary problem (HTTP 500)" in response.content.decode()
    assert failed.ticket.forward_status == ForwardStatus.FAILED

    response = manager_client.post(url, follow=True)
    assert not StandbyItem.objects.exists()
    ticket = Ticket.objects.get()
    assert ticket.forward_status == ForwardStatus.FORWARDED and ticket.external_url.endswith("/browse/ABC-1")
    assert ticket.description == ""
    assert "Forwarded to Jira Cloud" in response.content.decode()
    # The issue carries the description the stub had kept for the queue.
    assert "Details for the queue" in adf_text(fake_jira.created_issues[0]["fields"]["description"])


def test_retry_is_post_only_and_mine_only(client, manager, other_manager, failed, fake_jira):
    url = reverse("standby:retry", args=[failed.pk])
    client.force_login(manager)
    assert client.get(url).status_code == 405
    before = len(fake_jira.requests)
    client.force_login(other_manager)
    assert client.post(url).status_code == 404
    assert len(fake_jira.requests) == before
    failed.refresh_from_db()
    assert failed.retry_count == 0


def test_retry_is_offered_only_for_failed_external_creation(manager_client, manager, failed):
    page = manager_client.get(reverse("standby:detail", args=[failed.pk]))
    assert reverse("standby:retry", args=[failed.pk]).encode() in page.content
    assert b"refused the email" in page.content  # the last error, in words
    other = StandbyItem.objects.create(manager=manager, subject="x", sender_email=REPORTER, reason="no_keyword_match")
    page = manager_client.get(reverse("standby:detail", args=[other.pk]))
    assert reverse("standby:retry", args=[other.pk]).encode() not in page.content
    response = manager_client.post(reverse("standby:retry", args=[other.pk]), follow=True)
    assert "Only reports whose creation on the external platform failed" in response.content.decode()
    other.refresh_from_db()
    assert other.retry_count == 0


def test_assign_to_an_internal_board_keeps_the_secret_link(manager_client, failed, internal_board, jira_board):
    stub = failed.ticket
    response = manager_client.post(reverse("standby:assign", args=[failed.pk]), {"board": internal_board.pk})
    assert response.status_code == 302
    assert not StandbyItem.objects.exists()

    ticket = Ticket.objects.get()
    assert (ticket.pk, ticket.uuid) == (stub.pk, stub.uuid)
    assert ticket.board == internal_board and ticket.state == TicketState.NEW
    assert (ticket.external_platform, ticket.forward_status, ticket.external_url) == ("", "", "")
    assert ticket.description == "Details for the queue"
    counts = {b.unique_name: (b.count_new, b.count_forwarded) for b in Board.objects.all()}
    assert counts == {"support": (0, 0), "helpdesk": (1, 0)}
    # No second confirmation: the reporter's first mail already has this very link.
    assert len(mail.outbox) == 1 and f"/ticket/{ticket.uuid}" in mail.outbox[0].body

    kanban = manager_client.get(reverse("boards:detail", args=[internal_board.pk]))
    assert b"Printer on fire" in kanban.content
    page = manager_client.get(reverse("public_ticket", args=[ticket.uuid]))
    assert page.status_code == 200 and b"Details for the queue" in page.content


def test_assign_a_failed_stub_to_another_forwarding_board_forwards_it(
    manager_client, manager, failed, trello_board, fake_trello, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(reverse("standby:assign", args=[failed.pk]), {"board": trello_board.pk})
    ticket = Ticket.objects.get()
    assert ticket.board == trello_board and ticket.forward_status == ForwardStatus.FORWARDED
    assert ticket.external_platform == ExternalPlatform.TRELLO and len(fake_trello.created_cards) == 1
    assert Board.objects.get(pk=trello_board.pk).count_forwarded == 1


# --- the configuration page (EXT-1) -------------------------------------------------------------


def external_url(board: Board) -> str:
    return reverse("boards:external", args=[board.pk])


def jira_form(fake_jira: Any, **overrides: str) -> dict[str, str]:
    data = {
        "platform": "jira",
        "jira_site_url": fake_jira.url,
        "jira_email": fake_jira.email,
        "jira_api_token": fake_jira.api_token,
        "jira_project_key": "abc",
        "jira_issue_type": "",
    }
    data.update(overrides)
    return data


def test_test_connection_shows_the_result_and_saves_nothing(manager_client, internal_board, fake_jira):
    response = manager_client.post(external_url(internal_board), {**jira_form(fake_jira), "action": "test"})
    assert response.status_code == 200
    assert response.context["result"].ok is True
    assert "Connected to Jira as Dana Manager" in response.context["result"].message
    assert 'new tickets will be created as "Task" in project ABC' in response.context["result"].message
    assert "Connected to Jira as Dana Manager" in response.content.decode()
    internal_board.refresh_from_db()
    assert internal_board.external_platform == "" and internal_board.external_secrets == ""


def test_test_connection_failure_is_in_plain_words(manager_client, internal_board, fake_jira):
    response = manager_client.post(
        external_url(internal_board), {**jira_form(fake_jira, jira_project_key="NOPE"), "action": "test"}
    )
    result = response.context["result"]
    assert result.ok is False
    assert result.message == "Jira: project NOPE not found or not visible to this account."
    response = manager_client.post(
        external_url(internal_board), {**jira_form(fake_jira, jira_api_token="wrong-token"), "action": "test"}
    )
    assert "refused the email manager@example.com" in response.context["result"].message


def test_save_tests_first_and_refuses_a_broken_config(manager_client, internal_board, fake_jira):
    response = manager_client.post(
        external_url(internal_board), {**jira_form(fake_jira, jira_project_key="NOPE"), "action": "save"}
    )
    assert response.status_code == 200
    assert "Not saved: Jira: project NOPE not found" in response.content.decode()
    internal_board.refresh_from_db()
    assert internal_board.external_platform == ""


def test_save_stores_settings_and_the_token_encrypted(manager_client, internal_board, fake_jira):
    response = manager_client.post(external_url(internal_board), {**jira_form(fake_jira), "action": "save"})
    assert response.status_code == 302 and response["Location"] == external_url(internal_board)
    board = Board.objects.get(pk=internal_board.pk)
    assert board.external_platform == ExternalPlatform.JIRA
    assert board.external_config == {
        "site_url": fake_jira.url,
        "email": fake_jira.email,
        "project_key": "ABC",
        "issue_type": "Task",
    }
    assert fake_jira.api_token not in board.external_secrets
    assert json.loads(crypto.decrypt(board.external_secrets)) == {"api_token": fake_jira.api_token}
    assert board_external_credentials(board) == fake_jira.config()


def test_an_empty_token_keeps_the_stored_one(manager_client, jira_board, fake_jira):
    before = board_external_credentials(jira_board)
    page = manager_client.get(external_url(jira_board))
    assert "A token is stored. Leave this empty to keep it." in page.content.decode()
    response = manager_client.post(
        external_url(jira_board), {**jira_form(fake_jira, jira_api_token="", jira_issue_type="Bug"), "action": "save"}
    )
    assert response.status_code == 302
    board = Board.objects.get(pk=jira_board.pk)
    after = board_external_credentials(board)
    assert after is not None and before is not None
    assert after.api_token == before.api_token == fake_jira.api_token
    assert after.issue_type == "Bug"


def test_a_token_is_required_when_none_is_stored(manager_client, internal_board, fake_jira):
    response = manager_client.post(
        external_url(internal_board), {**jira_form(fake_jira, jira_api_token=""), "action": "save"}
    )
    assert response.context["form"].errors["jira_api_token"] == ["This field is required."]
    assert not fake_jira.requests


def test_choosing_none_clears_settings_and_secrets(manager_client, jira_board):
    response = manager_client.post(external_url(jira_board), {"platform": "", "action": "save"})
    assert response.status_code == 302
    board = Board.objects.get(pk=jira_board.pk)
    assert (board.external_platform, board.external_config, board.external_secrets) == ("", {}, "")


def test_jira_site_must_be_https(manager_client, internal_board, fake_jira, settings):
    settings.EXTERNAL_PLATFORM_ALLOW_HTTP = False
    response = manager_client.post(external_url(internal_board), {**jira_form(fake_jira), "action": "test"})
    assert response.context["form"].errors["jira_site_url"] == ["Use the https:// address of your Jira site."]
    assert not fake_jira.requests


def test_a_pasted_jira_page_address_is_reduced_to_the_site(manager_client, internal_board, fake_jira):
    data = jira_form(fake_jira, jira_site_url=f"{fake_jira.url}/jira/software/projects/ABC/boards/1")
    manager_client.post(external_url(internal_board), {**data, "action": "save"})
    assert Board.objects.get(pk=internal_board.pk).external_config["site_url"] == fake_jira.url


def test_trello_lists_are_loaded_live_then_saved(manager_client, internal_board, fake_trello, settings):
    settings.TRELLO_API_URL = fake_trello.url
    data = {
        "platform": "trello",
        "trello_api_key": fake_trello.api_key,
        "trello_token": fake_trello.token,
        "trello_board_id": "https://trello.com/b/5f0000000000000000000001/support",
    }
    response = manager_client.post(external_url(internal_board), {**data, "action": "load_lists"})
    html = response.content.decode()
    assert response.context["result"].ok is True
    assert f'<option value="{TRELLO_LIST}">Inbox</option>' in html and ">Doing</option>" in html
    assert ">Old</option>" not in html, "closed lists are not offered"
    assert fake_trello.token not in html

    response = manager_client.post(
        external_url(internal_board), {**data, "trello_list_id": TRELLO_LIST, "action": "save"}
    )
    assert response.status_code == 302
    board = Board.objects.get(pk=internal_board.pk)
    assert board.external_config == {
        "api_key": fake_trello.api_key,
        "board_id": "5f0000000000000000000001",
        "list_id": TRELLO_LIST,
        "list_name": "Inbox",
    }
    page = manager_client.get(external_url(board)).content.decode()
    assert f'<option value="{TRELLO_LIST}" selected>Inbox</option>' in page


def test_trello_save_without_a_list_asks_for_one(manager_client, internal_board, fake_trello, settings):
    settings.TRELLO_API_URL = fake_trello.url
    data = {
        "platform": "trello",
        "trello_api_key": fake_trello.api_key,
        "trello_token": fake_trello.token,
        "trello_board_id": "5f0000000000000000000001",
        "action": "save",
    }
    response = manager_client.post(external_url(internal_board), data)
    assert response.context["form"].errors["trello_list_id"] == ["Load the board's lists and choose one."]
    assert Board.objects.get(pk=internal_board.pk).external_platform == ""


def test_a_transient_failure_on_save_saves_with_a_warning(manager_client, internal_board, fake_jira):
    fake_jira.fail_next(503)
    response = manager_client.post(
        external_url(internal_board), {**jira_form(fake_jira), "action": "save"}, follow=True
    )
    assert "Saved, but the connection could not be checked now" in response.content.decode()
    assert Board.objects.get(pk=internal_board.pk).external_platform == ExternalPlatform.JIRA


def test_get_never_calls_out_nor_changes_anything(manager_client, jira_board, fake_jira):
    before = Board.objects.values().get(pk=jira_board.pk)
    response = manager_client.get(external_url(jira_board))
    assert response.status_code == 200
    assert response.context["form"].initial["jira_project_key"] == "ABC"
    assert not fake_jira.requests
    assert Board.objects.values().get(pk=jira_board.pk) == before


def test_another_manager_gets_404(other_client, jira_board, fake_jira):
    assert other_client.get(external_url(jira_board)).status_code == 404
    assert other_client.post(external_url(jira_board), {"platform": "", "action": "save"}).status_code == 404
    assert Board.objects.get(pk=jira_board.pk).external_platform == ExternalPlatform.JIRA
    assert not fake_jira.requests


# --- secrets never shown, never logged ----------------------------------------------------------


def test_tokens_never_reach_a_page_or_a_log(
    manager, manager_client, jira_board, trello_board, fake_jira, fake_trello, caplog,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    secrets = [fake_jira.api_token, fake_trello.token]
    fake_jira.fail_next(401)
    report(jira_board, django_capture_on_commit_callbacks)
    report(trello_board, django_capture_on_commit_callbacks)
    item = StandbyItem.objects.get()

    pages = [
        manager_client.get(external_url(jira_board)),
        manager_client.get(external_url(trello_board)),
        manager_client.post(external_url(jira_board), {**jira_form(fake_jira, jira_api_token=""), "action": "test"}),
        manager_client.post(
            external_url(jira_board), {**jira_form(fake_jira, jira_project_key="NOPE"), "action": "save"}
        ),
        manager_client.post(
            external_url(trello_board),
            {
                "platform": "trello",
                "trello_api_key": fake_trello.api_key,
                "trello_token": fake_trello.token + "-typo",
                "trello_board_id": "5f0000000000000000000001",
                "trello_list_id": TRELLO_LIST,
                "action": "test",
            },
        ),
        manager_client.get(reverse("standby:list")),
        manager_client.get(reverse("standby:detail", args=[item.pk])),
    ]
    fake_jira.fail_next(500)
    pages.append(manager_client.post(reverse("standby:retry", args=[item.pk]), follow=True))
    pages.append(manager_client.post(reverse("standby:retry", args=[item.pk]), follow=True))
    pages.append(manager_client.get(reverse("dashboard")))

    manager.is_staff = manager.is_superuser = True
    manager.save(update_fields=["is_staff", "is_superuser"])
    for board in (jira_board, trello_board):
        pages.append(manager_client.get(f"/admin/boards/board/{board.pk}/change/"))
    for ticket in Ticket.objects.all():
        pages.append(manager_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/"))
    pages.append(manager_client.get("/admin/inboxes/standbyitem/"))

    for page in pages:
        assert page.status_code == 200, page
        html = page.content.decode()
        for secret in secrets:
            assert secret not in html

    assert caplog.records, "the forwarding path logs"
    for record in caplog.records:
        logged = record.getMessage() + repr(record.__dict__)
        for secret in secrets:
            assert secret not in logged


def test_stalled_pending_stub_is_requeued_by_beat(jira_board, fake_jira, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from boards.forwarding import ticket_forward_requeue_stalled

    # Two stubs whose tasks never ran (as if the broker was down at commit): one old, one fresh.
    with django_capture_on_commit_callbacks(execute=False):
        old = ticket_create(
            board=jira_board, title="Old", description="x", creator_email=REPORTER, source=TicketSource.WEB
        )
        fresh = ticket_create(
            board=jira_board, title="Fresh", description="x", creator_email=REPORTER, source=TicketSource.WEB
        )
    Ticket.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=3))
    with django_capture_on_commit_callbacks(execute=True):
        assert ticket_forward_requeue_stalled() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.forward_status == ForwardStatus.FORWARDED and old.external_url
    assert fresh.forward_status == ForwardStatus.PENDING  # a live task may still be retrying it
