"""Forwarding boards to Jira Cloud and Trello (SPEC section 9, SBQ-2) against the local fake platforms.

The real clients talk HTTP to ``testsupport.fake_platforms``; nothing of ours is mocked. Celery
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

from boards.models import Board, ExternalPlatform
from boards.platforms import board_external_credentials, board_set_external_platform
from boards.tests.factories import BoardFactory
from inboxes.tests.factories import InboxFactory
from inboxes.tests.mails import make_mail, take_in
from issuetracker import crypto
from standby.models import StandbyItem, StandbyReason
from tickets.forwarding import FORWARD_CLAIM, FORWARD_MAX_ATTEMPTS, forward_reference, forward_retry_delay
from tickets.models import ForwardStatus, Ticket, TicketSource, TicketState
from tickets.services import ticket_create
from tickets.tasks import forward_ticket

pytestmark = pytest.mark.django_db

REPORTER = "reporter@customer.example"
TRELLO_LIST = "5f00000000000000000000a1"


@pytest.fixture(autouse=True)
def _platform_settings(settings, caplog):  # type: ignore[no-untyped-def]
    # The fakes speak plain HTTP on 127.0.0.1; a hang should not cost the real 10 s per attempt.
    settings.EXTERNAL_PLATFORM_ALLOW_HTTP = True
    settings.EXTERNAL_PLATFORM_ALLOW_PRIVATE_HOSTS = True
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
    reference = forward_reference(ticket)
    assert (
        adf_text(fields["description"])
        == f"It smokes. Second floor. Reported by: {REPORTER} Tracker reference: {reference}"
    )
    assert str(ticket.uuid) not in json.dumps(fields), "the secret link's uuid stays ours"

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
    assert card["desc"] == f"Error 500\n\nReported by: {REPORTER}\nTracker reference: {forward_reference(ticket)}"
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
    fake_jira.fail_next(500, times=FORWARD_MAX_ATTEMPTS)
    ticket = report(jira_board, django_capture_on_commit_callbacks)
    # Every attempt after the first looks for an issue an earlier one may have created, and
    # creates nothing while that search fails.
    assert len(fake_jira.requests) == FORWARD_MAX_ATTEMPTS
    assert len(issue_posts(fake_jira)) == 1
    assert ticket.forward_status == ForwardStatus.FAILED
    item = StandbyItem.objects.get()
    assert item.reason == StandbyReason.EXTERNAL_CREATION_FAILED
    assert "temporary problem (HTTP 500)" in item.external_error


def test_timeouts_until_the_retries_run_out_end_in_the_queue(
    trello_board, fake_trello, django_capture_on_commit_callbacks
):
    fake_trello.hang_next(seconds=2, times=FORWARD_MAX_ATTEMPTS)
    report(trello_board, django_capture_on_commit_callbacks)
    assert "did not answer within 0.5 seconds" in StandbyItem.objects.get().external_error


def test_retry_delay_honours_retry_after_and_backs_off_otherwise():
    assert forward_retry_delay(attempts=1, retry_after=7) == 7
    assert forward_retry_delay(attempts=4, retry_after=0.2) == 1
    assert forward_retry_delay(attempts=1, retry_after=10**6) == 900
    delays = [forward_retry_delay(attempts=n, retry_after=None) for n in range(1, 8)]
    assert delays == [30, 60, 120, 240, 480, 900, 900]


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
    # Only the first is transient; the retry (its search first, then the create) meets a permanent refusal.
    fake_jira.fail_next(401, times=2)
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
    pages.append(manager_client.get("/admin/standby/standbyitem/"))

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


def test_stalled_pending_stub_is_picked_up_by_beat_within_a_minute(
    jira_board, fake_jira, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from tickets.forwarding import STALLED_AFTER
    from tickets.tasks import forward_stalled_tickets

    # Two stubs whose tasks never ran (as if the broker was down at commit): one due a while
    # ago, one just now (its wake-up may still be on the way).
    with django_capture_on_commit_callbacks(execute=False):
        old = ticket_create(
            board=jira_board, title="Old", description="x", creator_email=REPORTER, source=TicketSource.WEB
        )
        fresh = ticket_create(
            board=jira_board, title="Fresh", description="x", creator_email=REPORTER, source=TicketSource.WEB
        )
    Ticket.objects.filter(pk=old.pk).update(
        forward_next_attempt_at=timezone.now() - STALLED_AFTER - timedelta(seconds=1)
    )
    assert STALLED_AFTER <= timedelta(minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert forward_stalled_tickets() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.forward_status == ForwardStatus.FORWARDED and old.external_url
    assert fresh.forward_status == ForwardStatus.PENDING


# --- discarding a failed report (SBQ-2, BRD-3) --------------------------------------------------


def test_discarding_a_failed_report_deletes_its_stub(client, manager_client, failed, jira_board):
    stub = failed.ticket
    assert Board.objects.get(pk=jira_board.pk).count_forwarded == 1
    response = manager_client.post(reverse("standby:discard", args=[failed.pk]))
    assert response.status_code == 302
    assert not StandbyItem.objects.exists() and not Ticket.objects.exists()
    board = Board.objects.get(pk=jira_board.pk)
    assert board.count_forwarded == 0 and board.can_be_deleted
    # The manager dropped the report: its secret link no longer promises anything.
    assert client.get(reverse("public_ticket", args=[stub.uuid])).status_code == 404


def test_discard_waits_for_a_retry_in_flight(manager_client, failed, jira_board):
    from datetime import timedelta

    from django.utils import timezone

    # A manager's retry in another tab holds the stub's lease while it waits on Jira.
    Ticket.objects.filter(pk=failed.ticket_id).update(forward_claimed_until=timezone.now() + timedelta(minutes=1))
    response = manager_client.post(reverse("standby:discard", args=[failed.pk]), follow=True)
    assert "being sent to the platform right now" in response.content.decode()
    assert StandbyItem.objects.filter(pk=failed.pk).exists() and Ticket.objects.exists()
    assert Board.objects.get(pk=jira_board.pk).count_forwarded == 1


def test_discarding_another_kind_of_item_touches_no_ticket(manager_client, manager, internal_board):
    ticket = ticket_create(
        board=internal_board, title="Unrelated", description="", creator_email=REPORTER, source=TicketSource.WEB
    )
    item = StandbyItem.objects.create(manager=manager, subject="x", sender_email=REPORTER, reason="no_keyword_match")
    manager_client.post(reverse("standby:discard", args=[item.pk]))
    assert not StandbyItem.objects.exists()
    assert Ticket.objects.filter(pk=ticket.pk).exists()


# --- exactly once (EXT-2) -----------------------------------------------------------------------


def pending_stub(board: Board, capture: Any, *, title: str = "Queued") -> Ticket:
    """A stub whose forwarding task has not run yet."""
    with capture(execute=False):
        return ticket_create(board=board, title=title, description="x", creator_email=REPORTER, source=TicketSource.WEB)


def test_a_second_delivery_while_the_first_is_calling_jira_does_not_call_it(
    jira_board, fake_jira, django_capture_on_commit_callbacks, monkeypatch
):
    import requests

    ticket = pending_stub(jira_board, django_capture_on_commit_callbacks)
    real_request = requests.request
    seen: list[Any] = []

    def redelivered_meanwhile(method: str, url: str, **kwargs: Any) -> Any:
        # While the first delivery waits on Jira, the broker hands the task out again.
        if method == "POST" and not seen:
            seen.append(Ticket.objects.values("forward_claimed_until", "forward_attempts").get(pk=ticket.pk))
            forward_ticket.delay(ticket.pk)
        return real_request(method, url, **kwargs)

    monkeypatch.setattr("boards.external.base.requests.request", redelivered_meanwhile)
    forward_ticket.delay(ticket.pk)

    assert len(issue_posts(fake_jira)) == 1 and len(fake_jira.created_issues) == 1
    assert seen[0]["forward_claimed_until"] is not None and seen[0]["forward_attempts"] == 1
    ticket.refresh_from_db()
    assert ticket.forward_status == ForwardStatus.FORWARDED and ticket.forward_claimed_until is None
    assert ticket.forward_attempts == 1
    # A late redelivery after success finds nothing to do either.
    forward_ticket.delay(ticket.pk)
    assert len(issue_posts(fake_jira)) == 1


def test_a_lease_left_by_a_crashed_worker_expires(jira_board, fake_jira, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    ticket = pending_stub(jira_board, django_capture_on_commit_callbacks)
    Ticket.objects.filter(pk=ticket.pk).update(forward_claimed_until=timezone.now() + timedelta(minutes=1))
    forward_ticket.delay(ticket.pk)
    assert not fake_jira.requests, "the lease is still running"
    Ticket.objects.filter(pk=ticket.pk).update(forward_claimed_until=timezone.now() - timedelta(seconds=1))
    forward_ticket.delay(ticket.pk)
    ticket.refresh_from_db()
    assert ticket.forward_status == ForwardStatus.FORWARDED and len(fake_jira.created_issues) == 1


@pytest.mark.parametrize("platform", ["jira", "trello"])
def test_an_issue_created_before_its_answer_was_lost_is_linked_not_created_again(
    platform, request, django_capture_on_commit_callbacks
):
    board = request.getfixturevalue(f"{platform}_board")
    fake = request.getfixturevalue(f"fake_{platform}")
    fake.answer_late_next(seconds=2)  # the platform creates it, the answer times out
    ticket = report(board, django_capture_on_commit_callbacks)

    created = fake.created_issues if platform == "jira" else fake.created_cards
    assert len(created) == 1 and len(issue_posts(fake)) == 1
    assert ticket.forward_status == ForwardStatus.FORWARDED
    assert ticket.external_id == created[0]["id"]
    assert not StandbyItem.objects.exists()


def test_a_standby_retry_finds_the_issue_a_lost_answer_created(manager_client, failed, fake_jira):
    # Jira creates the issue but the answer is lost: the stub stays failed.
    fake_jira.answer_late_next(seconds=2, method="POST")
    manager_client.post(reverse("standby:retry", args=[failed.pk]))
    assert len(fake_jira.created_issues) == 1 and StandbyItem.objects.exists()
    manager_client.post(reverse("standby:retry", args=[failed.pk]))
    assert len(fake_jira.created_issues) == 1 and not StandbyItem.objects.exists()
    ticket = Ticket.objects.get()
    assert ticket.external_url.endswith("/browse/" + fake_jira.created_issues[0]["key"])


def test_the_drain_skips_waiting_and_claimed_stubs(
    jira_board, trello_board, failed, fake_jira, fake_trello, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from standby.services import standby_item_assign
    from tickets.forwarding import ticket_forward_stalled_ids

    long_ago = timezone.now() - timedelta(hours=3)
    # A report that failed long ago and was just moved to another forwarding board: old, but
    # its new round is due only now and its task is on the way.
    Ticket.objects.filter(pk=failed.ticket_id).update(created_at=long_ago, forward_next_attempt_at=long_ago)
    with django_capture_on_commit_callbacks(execute=False):
        moved = standby_item_assign(standby_item=failed, board=trello_board)
    # Another stub is being attempted right now by a worker (its claim runs).
    busy = pending_stub(jira_board, django_capture_on_commit_callbacks, title="Busy")
    Ticket.objects.filter(pk=busy.pk).update(
        forward_next_attempt_at=long_ago, forward_claimed_until=timezone.now() + FORWARD_CLAIM
    )
    # One waits for its backoff after a temporary failure.
    waiting = pending_stub(jira_board, django_capture_on_commit_callbacks, title="Waiting")
    Ticket.objects.filter(pk=waiting.pk).update(
        forward_attempts=2, forward_next_attempt_at=timezone.now() + timedelta(minutes=2)
    )
    # And one whose task was lost after an attempt long ago: the only one to pick up.
    lost = pending_stub(jira_board, django_capture_on_commit_callbacks, title="Lost")
    Ticket.objects.filter(pk=lost.pk).update(forward_next_attempt_at=long_ago, forward_attempts=1)

    assert ticket_forward_stalled_ids() == [lost.pk]
    assert moved.pk and not fake_trello.requests


def test_the_retry_numbers_fit_the_broker():
    import os
    import subprocess
    import sys

    from tickets.forwarding import FORWARD_MAX_COUNTDOWN_SECONDS

    delays = [
        forward_retry_delay(attempts=n, retry_after=r)
        for n in range(1, FORWARD_MAX_ATTEMPTS + 1)
        for r in (None, 10**6)
    ]
    assert max(delays) == FORWARD_MAX_COUNTDOWN_SECONDS <= 15 * 60
    assert FORWARD_CLAIM.total_seconds() < FORWARD_MAX_COUNTDOWN_SECONDS

    # With Redis, a task waiting for its countdown must not outlive the visibility timeout.
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'])"
    )
    env = {
        **os.environ,
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "DJANGO_SETTINGS_MODULE": "issuetracker.settings_test",
    }
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    visibility_timeout = int(result.stdout.strip().splitlines()[-1])
    # Outgoing mail retries wait up to 30 minutes (outbox.sending.retry_delay).
    assert visibility_timeout > max(FORWARD_MAX_COUNTDOWN_SECONDS, 30 * 60) + FORWARD_CLAIM.total_seconds()


@pytest.mark.django_db(transaction=True)
def test_a_standby_retry_calls_the_platform_outside_any_transaction(
    manager, manager_client, fake_jira, monkeypatch
):  # fmt: skip
    import requests
    from django.db import connection

    board = BoardFactory(manager=manager, name="Support", unique_name="support")
    board_set_external_platform(
        board=board,
        platform=ExternalPlatform.JIRA,
        config={"site_url": fake_jira.url, "email": fake_jira.email, "project_key": "ABC"},
        secrets={"api_token": fake_jira.api_token},
    )
    fake_jira.fail_next(401)
    ticket_create(board=board, title="Later", description="x", creator_email=REPORTER, source=TicketSource.WEB)
    item = StandbyItem.objects.get()

    real_request = requests.request
    during: list[dict[str, Any]] = []

    def watch(method: str, url: str, **kwargs: Any) -> Any:
        stub = Ticket.objects.get(pk=item.ticket_id)
        during.append({"atomic": connection.in_atomic_block, "claimed": stub.forward_claimed_until is not None})
        # A double click meanwhile is refused instead of calling Jira a second time.
        during.append({"second_click": manager_client.post(reverse("standby:retry", args=[item.pk]), follow=True)})
        return real_request(method, url, **kwargs)

    monkeypatch.setattr("boards.external.base.requests.request", watch)
    manager_client.post(reverse("standby:retry", args=[item.pk]))

    assert during[0] == {"atomic": False, "claimed": True}
    assert "being sent to the platform right now" in during[1]["second_click"].content.decode()
    assert len(issue_posts(fake_jira)) == 2  # the failed first attempt and this one; no third
    stub = Ticket.objects.get()
    assert stub.forward_status == ForwardStatus.FORWARDED and stub.forward_claimed_until is None
    assert not StandbyItem.objects.exists()


# --- where a board's token may go (EXT-1) -------------------------------------------------------


def test_changing_the_jira_site_asks_for_the_token_again(manager_client, jira_board, fake_jira):
    from testsupport.fake_platforms import FakeJira

    with FakeJira() as elsewhere:
        data = jira_form(fake_jira, jira_site_url=elsewhere.url, jira_api_token="")
        for action in ("test", "save"):
            response = manager_client.post(external_url(jira_board), {**data, "action": action})
            assert response.context["form"].errors["jira_api_token"] == [
                "The site address changed: enter the API token again."
            ]
        assert not elsewhere.requests, "the stored token never travels to the new site"
        assert Board.objects.get(pk=jira_board.pk).external_config["site_url"] == fake_jira.url

        typed = {**data, "jira_api_token": elsewhere.api_token, "action": "save"}
        assert manager_client.post(external_url(jira_board), typed).status_code == 302
        assert Board.objects.get(pk=jira_board.pk).external_config["site_url"] == elsewhere.url


def test_changing_the_trello_board_asks_for_the_token_again(manager_client, trello_board, fake_trello):
    data = {
        "platform": "trello",
        "trello_api_key": fake_trello.api_key,
        "trello_token": "",
        "trello_board_id": "5f0000000000000000000002",
        "trello_list_id": TRELLO_LIST,
    }
    for action in ("load_lists", "save"):
        response = manager_client.post(external_url(trello_board), {**data, "action": action})
        assert response.context["form"].errors["trello_token"] == ["The board changed: enter the token again."]
    assert not fake_trello.requests


def test_the_service_never_carries_a_token_to_another_site(jira_board, fake_jira):
    board = board_set_external_platform(
        board=jira_board,
        platform=ExternalPlatform.JIRA,
        config={"site_url": "https://elsewhere.example", "email": fake_jira.email, "project_key": "ABC"},
        secrets={"api_token": ""},
    )
    credentials = board_external_credentials(board)
    assert credentials is not None and credentials.api_token == ""


def _is_ip_literal(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@pytest.fixture
def dns(monkeypatch):  # type: ignore[no-untyped-def]
    """Names resolve to the addresses a test gives, without asking a real resolver."""
    import socket

    answers: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:
            family = socket.AF_INET6 if ":" in answers[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        if host != "localhost" and not _is_ip_literal(host):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.parametrize(
    "site_url",
    [
        "http://127.0.0.1:8080",
        "http://localhost",
        "http://169.254.169.254",
        "https://10.1.2.3",
        "https://192.168.0.10",
        "https://100.64.0.1",
        "https://[::1]",
        "https://[::ffff:127.0.0.1]",
        "https://jira.internal.example",  # a public-looking name that resolves inside
    ],
)
def test_jira_sites_in_private_networks_are_refused(settings, dns, site_url):
    from boards.external_forms import ExternalPlatformForm

    settings.EXTERNAL_PLATFORM_ALLOW_PRIVATE_HOSTS = False
    dns["jira.internal.example"] = "10.0.0.7"
    form = ExternalPlatformForm(
        {"platform": "jira", "jira_site_url": site_url, "jira_email": "a@b.example", "jira_api_token": "t"}
        | {"jira_project_key": "ABC"}
    )
    assert not form.is_valid()
    assert form.errors["jira_site_url"] == [
        "This address points to a private or reserved network address; enter your public Jira site."
    ]


def test_public_jira_sites_are_accepted_custom_domains_too(settings, dns):
    from boards.external_forms import ExternalPlatformForm

    settings.EXTERNAL_PLATFORM_ALLOW_PRIVATE_HOSTS = False
    dns["jira.acme-corp.example"] = "104.192.136.1"
    dns["team.atlassian.net"] = "2406:da18:809:e04::1"
    for site_url in ("https://jira.acme-corp.example", "team.atlassian.net/browse/ABC-1"):
        form = ExternalPlatformForm(
            {"platform": "jira", "jira_site_url": site_url, "jira_email": "a@b.example", "jira_api_token": "t"}
            | {"jira_project_key": "ABC"}
        )
        assert form.is_valid(), form.errors
    form = ExternalPlatformForm({"platform": "jira", "jira_site_url": "https://no-such-site.example"})
    assert form.errors["jira_site_url"] == ["This address cannot be found; check it."]


def test_a_saved_site_that_now_points_inside_is_not_called(
    settings, manager_client, jira_board, fake_jira, django_capture_on_commit_callbacks
):
    settings.EXTERNAL_PLATFORM_ALLOW_PRIVATE_HOSTS = False
    report(jira_board, django_capture_on_commit_callbacks)
    assert "private or reserved network address" in StandbyItem.objects.get().external_error
    response = manager_client.post(external_url(jira_board), {**jira_form(fake_jira), "action": "test"})
    assert "jira_site_url" in response.context["form"].errors
    assert not fake_jira.requests


# --- the manager's page of a stub ---------------------------------------------------------------


def test_the_manager_page_of_a_stub_shows_its_forwarding_not_state_buttons(
    manager_client, jira_board, fake_jira, django_capture_on_commit_callbacks
):
    ticket = report(jira_board, django_capture_on_commit_callbacks)
    fake_jira.fail_next(401)
    failed_stub = report(jira_board, django_capture_on_commit_callbacks, title="Refused")

    page = manager_client.get(reverse("tickets:detail", args=[jira_board.pk, ticket.pk])).content.decode()
    assert "Move to" not in page and "tickets/state" not in page
    assert f'href="{ticket.external_url}"' in page and "Open in Jira Cloud" in page
    assert "Jira Cloud · Forwarded" in page

    page = manager_client.get(reverse("tickets:detail", args=[jira_board.pk, failed_stub.pk])).content.decode()
    assert "Move to" not in page
    assert "the report waits in the standby queue" in page and reverse("standby:list") in page


def test_a_stub_whose_last_attempt_died_is_failed_visibly_by_the_drain(
    jira_board, fake_jira, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from tickets.tasks import forward_stalled_tickets

    stub = pending_stub(jira_board, django_capture_on_commit_callbacks, title="Died")
    Ticket.objects.filter(pk=stub.pk).update(
        forward_attempts=FORWARD_MAX_ATTEMPTS, forward_next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert forward_stalled_tickets() == 1
    stub.refresh_from_db()
    assert stub.forward_status == ForwardStatus.FAILED and not fake_jira.requests
    assert "interrupted too many times" in StandbyItem.objects.get(ticket=stub).external_error
