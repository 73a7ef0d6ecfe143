"""PUB-1 … PUB-3: the public board form, the thank-you page and the secret ticket page."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core import mail
from django.template.loader import render_to_string
from django.test import Client

from accounts.services import manager_suspend
from accounts.tests.factories import ManagerFactory
from boards.tests.factories import BoardFactory
from outbox.models import OutgoingMail, OutgoingMailKind, OutgoingMailStatus
from tickets.models import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH, Ticket, TicketSource, TicketState
from tickets.public_views import SUBMITTED_SESSION_KEY
from tickets.tests.factories import StateChangeFactory, TicketFactory

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script><b>bold</b> & "quotes"'
SECRET_LINK = re.compile(r"http://testserver/ticket/([0-9a-f-]{36})")


@pytest.fixture
def board(manager):  # type: ignore[no-untyped-def]
    return BoardFactory(manager=manager, name="Office IT", unique_name="office-it", greeting="Hello!\nTell us.")


def _report(**overrides: str) -> dict[str, str]:
    return {
        "email": "Reporter@Example.org",
        "title": "Printer jammed",
        "description": "Floor 2, error 42.",
        "website": "",
        **overrides,
    }


def _form_url(board) -> str:  # type: ignore[no-untyped-def]
    return f"/board/{board.unique_name}"


def _ticket_url(ticket: Ticket) -> str:
    return f"/ticket/{ticket.uuid}"


def _assert_private(response) -> None:  # type: ignore[no-untyped-def]
    assert response["Referrer-Policy"] == "same-origin"
    assert "noindex" in response["X-Robots-Tag"]
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= cache_control


# --- The form --------------------------------------------------------------------------------


def test_form_shows_greeting_as_text_with_line_breaks(client, manager):
    board = BoardFactory(manager=manager, greeting="Hi <b>there</b>\nsecond line")
    response = client.get(_form_url(board))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Hi &lt;b&gt;there&lt;/b&gt;<br>second line" in html
    assert "<b>there</b>" not in html
    for name in ("email", "title", "description"):
        assert f'name="{name}"' in html
        assert f'<label\n                for="id_{name}"' in html or f'for="id_{name}"' in html


def test_honeypot_is_hidden_from_people(client, board):
    html = client.get(_form_url(board)).content.decode()
    wrapper = re.search(r'<div class="honeypot" aria-hidden="true">(.*?)</div>', html, re.S)
    assert wrapper, "honeypot wrapper with the CSS class and aria-hidden"
    field = re.search(r"<input[^>]*name=\"website\"[^>]*>", wrapper.group(1)).group(0)
    assert 'tabindex="-1"' in field
    assert 'autocomplete="off"' in field
    assert "required" not in field


def test_unknown_board_is_404(client, db):
    assert client.get("/board/no-such-board").status_code == 404
    assert client.post("/board/no-such-board", _report()).status_code == 404


def test_archived_board_is_410_and_takes_nothing(client, manager):
    board = BoardFactory(manager=manager, archived=True)
    page = client.get(_form_url(board))
    assert page.status_code == 410
    assert "This board no longer accepts tickets" in page.content.decode()
    assert 'name="title"' not in page.content.decode()

    posted = client.post(_form_url(board), _report())
    assert posted.status_code == 410
    assert not Ticket.objects.exists()
    assert not OutgoingMail.objects.exists()


def test_suspended_manager_board_is_403_with_the_message(client, manager):
    board = BoardFactory(manager=manager)
    manager_suspend(manager=manager, message="We moved to <https://help.example.com>.\nThanks!")
    page = client.get(_form_url(board))
    assert page.status_code == 403
    html = page.content.decode()
    assert "We moved to &lt;https://help.example.com&gt;.<br>Thanks!" in html
    assert 'name="title"' not in html

    posted = client.post(_form_url(board), _report())
    assert posted.status_code == 403
    assert not Ticket.objects.exists()


def test_suspension_wins_over_archiving(client, manager):
    board = BoardFactory(manager=manager, archived=True)
    manager_suspend(manager=manager, message="Closed for good.")
    page = client.get(_form_url(board))
    assert page.status_code == 403
    assert "Closed for good." in page.content.decode()


def test_other_methods_are_refused(client, board):
    assert client.put(_form_url(board)).status_code == 405
    assert client.delete(_form_url(board)).status_code == 405


# --- Success path ----------------------------------------------------------------------------


def test_report_creates_ticket_outbox_row_and_sends_confirmation(client, board, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(_form_url(board), _report(title="  Printer jammed  ", description="Line 1\r\nLine 2"))

    assert response.status_code == 302
    assert response["Location"] == f"/board/{board.unique_name}/submitted"
    # The confirmation and the manager's notification (THR-8), each woken only after the commit.
    assert len(callbacks) == 2, "the mail is enqueued only after the commit"

    ticket = Ticket.objects.get()
    assert (ticket.board, ticket.title, ticket.description) == (board, "Printer jammed", "Line 1\nLine 2")
    assert ticket.creator_email == "reporter@example.org"
    assert ticket.source == TicketSource.WEB
    assert ticket.state == TicketState.NEW

    row = OutgoingMail.objects.get(kind=OutgoingMailKind.TICKET_CREATED)
    assert (row.kind, row.to_email, row.ticket) == (OutgoingMailKind.TICKET_CREATED, "reporter@example.org", ticket)
    assert row.status == OutgoingMailStatus.SENT

    [sent] = [message for message in mail.outbox if message.to != [board.manager.email]]
    assert sent.to == ["reporter@example.org"]
    assert f"http://testserver/ticket/{ticket.uuid}" in sent.body
    assert "Office IT" in sent.body


def test_thank_you_page_shows_the_absolute_secret_link_and_a_copy_button(client, board):
    response = client.post(_form_url(board), _report(), follow=True)
    assert response.status_code == 200
    ticket = Ticket.objects.get()
    html = response.content.decode()
    assert f'value="http://testserver/ticket/{ticket.uuid}"' in html
    assert f'href="http://testserver/ticket/{ticket.uuid}"' in html
    assert "js-copy" in html and "/static/js/public.js" in html
    assert "<script>" not in html.replace("<script src=", ""), "no inline scripts (CSP)"
    _assert_private(response)


def test_thank_you_page_without_a_submission_shows_no_link(client, board):
    TicketFactory(board=board)
    response = client.get(f"/board/{board.unique_name}/submitted")
    assert response.status_code == 200
    assert not SECRET_LINK.search(response.content.decode())


def test_thank_you_page_of_another_board_does_not_show_the_ticket(client, board, manager):
    other_board = BoardFactory(manager=manager)
    client.post(_form_url(board), _report())
    html = client.get(f"/board/{other_board.unique_name}/submitted").content.decode()
    assert not SECRET_LINK.search(html)


def test_another_browser_never_sees_someone_elses_link(client, board):
    client.post(_form_url(board), _report())
    stranger = Client()
    html = stranger.get(f"/board/{board.unique_name}/submitted").content.decode()
    assert not SECRET_LINK.search(html)


def test_thank_you_page_of_unknown_board_is_404(client, db):
    assert client.get("/board/nope/submitted").status_code == 404


# --- Inline errors ---------------------------------------------------------------------------


def _field_errors(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    return {name: list(errors) for name, errors in response.context["form"].errors.items()}


def test_missing_fields_are_reported_inline(client, board):
    response = client.post(_form_url(board), {"email": "", "title": "  ", "description": ""})
    assert response.status_code == 200
    assert set(_field_errors(response)) == {"email", "title", "description"}
    html = response.content.decode()
    assert html.count("invalid-feedback") >= 3
    assert 'aria-invalid="true"' in html or "is-invalid" in html
    assert not Ticket.objects.exists()


def test_an_empty_post_is_reported_inline_too(client, board):
    response = client.post(_form_url(board))
    assert response.status_code == 200
    assert set(_field_errors(response)) == {"email", "title", "description"}


def test_invalid_email_is_reported_inline(client, board):
    response = client.post(_form_url(board), _report(email="not-an-address"))
    assert set(_field_errors(response)) == {"email"}
    assert not Ticket.objects.exists()


def test_too_long_title_and_description_are_refused(client, board):
    response = client.post(
        _form_url(board),
        _report(title="t" * (TITLE_MAX_LENGTH + 1), description="d" * (DESCRIPTION_MAX_LENGTH + 1)),
    )
    assert response.status_code == 200
    errors = _field_errors(response)
    assert set(errors) == {"title", "description"}
    assert "6000" in errors["description"][0]
    assert not Ticket.objects.exists()
    # What the person typed stays in the form.
    assert "t" * (TITLE_MAX_LENGTH + 1) in response.content.decode()


def test_limits_themselves_are_accepted(client, board):
    response = client.post(
        _form_url(board), _report(title="t" * TITLE_MAX_LENGTH, description="d" * DESCRIPTION_MAX_LENGTH)
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert (len(ticket.title), len(ticket.description)) == (TITLE_MAX_LENGTH, DESCRIPTION_MAX_LENGTH)


def test_browser_line_breaks_count_once(client, board):
    # A browser's maxlength counts "\r\n" as one character; so does the server.
    description = "d" * (DESCRIPTION_MAX_LENGTH - 2) + "\r\n" + "d"
    assert client.post(_form_url(board), _report(description=description)).status_code == 302
    assert len(Ticket.objects.get().description) == DESCRIPTION_MAX_LENGTH


# --- Honeypot and rate limit (PUB-3) ----------------------------------------------------------


def test_filled_honeypot_looks_accepted_but_creates_nothing(client, board, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_form_url(board), _report(website="http://spam.example"))
    assert response.status_code == 302
    assert response["Location"] == f"/board/{board.unique_name}/submitted"
    assert not Ticket.objects.exists()
    assert not OutgoingMail.objects.exists()
    assert mail.outbox == []

    thanks = client.get(response["Location"])
    assert thanks.status_code == 200
    assert not SECRET_LINK.search(thanks.content.decode())


def test_honeypot_hides_an_earlier_real_ticket_of_the_same_browser(client, board):
    client.post(_form_url(board), _report())
    client.post(_form_url(board), _report(website="x"))
    assert SUBMITTED_SESSION_KEY not in client.session
    assert not SECRET_LINK.search(client.get(f"/board/{board.unique_name}/submitted").content.decode())


def test_twenty_submissions_per_minute_then_429(client, board, settings):
    assert settings.RATE_LIMIT_PUBLIC_TICKET == 20
    for n in range(20):
        response = client.post(_form_url(board), _report(title=f"Report {n}", email=f"r{n}@example.org"))
        assert response.status_code == 302, n
        assert response["X-RateLimit-Limit"] == "20"
        assert response["X-RateLimit-Remaining"] == str(19 - n)

    refused = client.post(_form_url(board), _report(title="One too many", email="r99@example.org"))
    assert refused.status_code == 429
    assert refused["X-RateLimit-Limit"] == "20"
    assert refused["X-RateLimit-Remaining"] == "0"
    assert int(refused["X-RateLimit-Reset"]) > 0
    assert int(refused["Retry-After"]) > 0
    assert "Slow down" in refused.content.decode()
    assert Ticket.objects.count() == 20

    # Reading stays possible (general bucket), and another address has its own count.
    assert client.get(_form_url(board)).status_code == 200
    assert client.post(_form_url(board), _report(), REMOTE_ADDR="198.51.100.7").status_code == 302


def test_invalid_and_honeypot_posts_count_against_the_limit_too(client, board):
    for _n in range(10):
        client.post(_form_url(board), _report(title=""))
    for _n in range(10):
        client.post(_form_url(board), _report(website="bot"))
    assert client.post(_form_url(board), _report()).status_code == 429
    assert not Ticket.objects.exists()


# --- The secret page -------------------------------------------------------------------------


def test_secret_page_shows_ticket_with_private_headers(client, board):
    ticket = TicketFactory(board=board, title="Printer jammed", description="First line\nSecond line")
    response = client.get(_ticket_url(ticket))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Printer jammed" in html
    assert "First line<br>Second line" in html
    assert "Office IT" in html
    assert 'class="badge state-badge state-new"' in html
    assert ticket.created_at.strftime("%Y-%m-%d %H:%M") in html
    _assert_private(response)


def test_hostile_html_is_escaped_on_the_page_and_plain_in_the_email(client, board, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_form_url(board), _report(title=HOSTILE, description=HOSTILE + "\nmore"))
    ticket = Ticket.objects.get()
    html = client.get(_ticket_url(ticket)).content.decode()
    assert "<script>alert" not in html
    assert "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quotes&quot;" in html

    body = mail.outbox[0].body
    assert HOSTILE in body
    assert "&lt;" not in body and "&amp;" not in body
    assert HOSTILE in mail.outbox[0].subject


def test_timeline_shows_each_change_with_its_comment(client, board):
    ticket = TicketFactory(board=board)
    StateChangeFactory(ticket=ticket, body="Looking into it.\nTomorrow <maybe>.")
    StateChangeFactory(ticket=ticket, to_state=TicketState.CLOSED, body="Fixed the roller.")
    ticket.refresh_from_db()
    assert ticket.state == TicketState.CLOSED

    html = client.get(_ticket_url(ticket)).content.decode()
    assert "Looking into it.<br>Tomorrow &lt;maybe&gt;." in html
    assert "Fixed the roller." in html
    assert html.index("Looking into it.") < html.index("Fixed the roller."), "oldest first"
    for state in ("new", "in_progress", "closed"):
        assert f"state-badge state-{state}" in html
    # The manager's identity is not public.
    assert board.manager.email not in html
    assert board.manager.name not in html


def test_secret_page_query_count_does_not_grow_with_history(client, board, django_assert_max_num_queries):
    ticket = TicketFactory(board=board)
    StateChangeFactory(ticket=ticket)
    StateChangeFactory(ticket=ticket)
    with django_assert_max_num_queries(4):
        assert client.get(_ticket_url(ticket)).status_code == 200


def test_forwarded_ticket_redirects_to_the_platform(client, board):
    ticket = TicketFactory(board=board, forwarded=True)
    response = client.get(_ticket_url(ticket))
    assert response.status_code == 302
    assert response["Location"] == ticket.external_url
    assert response["Location"].startswith("https://example.atlassian.net/browse/")
    _assert_private(response)


def test_unknown_ticket_is_404(client, db):
    assert client.get(f"/ticket/{uuid.uuid4()}").status_code == 404
    assert client.get("/ticket/not-a-uuid").status_code == 404


def test_links_keep_working_after_suspension_and_archiving(client, manager):
    board = BoardFactory(manager=manager)
    ticket = TicketFactory(board=board)
    manager_suspend(manager=manager, message="Gone fishing.")
    board.is_archived = True
    board.archived_at = board.created_at
    board.save()
    assert client.get(_ticket_url(ticket)).status_code == 200


def test_the_secret_page_cannot_change_the_state(client, board):
    """The reporter can only write (THR-4); a POST with anything else changes nothing."""
    ticket = TicketFactory(board=board)
    assert client.post(_ticket_url(ticket), {"state": "closed"}).status_code == 400
    ticket.refresh_from_db()
    assert ticket.state == TicketState.NEW and not ticket.entries.exists()


# --- Partials and languages ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "word"),
    [("new", "New"), ("in_progress", "In progress"), ("closed", "Closed"), ("rejected", "Rejected")],
)
def test_state_badge_shows_colour_class_and_word(state, word):
    html = render_to_string("tickets/_state_badge.html", {"state": TicketState(state)})
    assert f'class="badge state-badge state-{state}"' in html
    assert f">{word}</span>" in html
    labelled = render_to_string("tickets/_state_badge.html", {"state": state, "label": "Custom"})
    assert ">Custom</span>" in labelled


def test_public_pages_in_polish(client, board):
    ticket = TicketFactory(board=board)
    StateChangeFactory(ticket=ticket)
    form = client.get(_form_url(board), HTTP_ACCEPT_LANGUAGE="pl")
    assert form["Content-Language"] == "pl"
    html = form.content.decode()
    assert "Wyślij zgłoszenie" in html
    assert "Twój adres e-mail" in html

    page = client.get(_ticket_url(ticket), HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert "Rozmowa" in page
    assert "W toku" in page

    gone = BoardFactory(manager=board.manager, archived=True)
    gone_page = client.get(_form_url(gone), HTTP_ACCEPT_LANGUAGE="pl")
    assert "Ta tablica nie przyjmuje już zgłoszeń" in gone_page.content.decode()


# --- In a phone-sized browser (NFR-8) --------------------------------------------------------


def _no_horizontal_scroll(page) -> bool:  # type: ignore[no-untyped-def]
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_report_on_a_phone_then_follow_the_secret_link(live_server, browser_page, screenshot, mailoutbox):
    manager = ManagerFactory(email="phone.manager@example.com")
    board = BoardFactory(manager=manager, name="Office IT", unique_name="office-it", greeting="Hello!\nTell us.")
    page = browser_page
    page.set_viewport_size({"width": 375, "height": 812})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)

    page.goto(f"{live_server.url}/board/{board.unique_name}")
    assert _no_horizontal_scroll(page)
    honeypot = page.locator("input[name=website]")
    assert honeypot.count() == 1, "the honeypot is in the form"
    box = honeypot.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 0, "the honeypot is rendered off screen"
    screenshot("form-375px")

    # Keyboard order skips the honeypot: email, title, description, files, then the button.
    page.get_by_label("Your email address").focus()
    focused = []
    for _step in range(4):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.name || document.activeElement.type"))
    assert focused == ["title", "description", "files", "submit"]

    page.get_by_role("button", name="Send report").click()
    assert page.locator(".invalid-feedback").count() == 3
    screenshot("inline-errors")

    page.get_by_label("Your email address").fill("reporter@example.org")
    page.get_by_label("Title").fill("Printer <b>jammed</b>")
    page.get_by_label("Description").fill("Floor 2.\nError 42.")
    page.get_by_role("button", name="Send report").click()
    page.wait_for_url(re.compile(r"/board/office-it/submitted$"))
    assert _no_horizontal_scroll(page)

    ticket = Ticket.objects.get()
    link = page.get_by_label("Private link to your ticket").input_value()
    assert link == f"http://testserver/ticket/{ticket.uuid}"  # SITE_URL of the test settings
    copy = page.get_by_role("button", name="Copy")
    assert copy.is_visible(), "public.js reveals the copy button"
    copy.click()
    page.get_by_text("Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == link
    screenshot("submitted-375px")

    page.goto(f"{live_server.url}/ticket/{ticket.uuid}")
    assert page.get_by_role("heading", name="Printer <b>jammed</b>").is_visible()
    badge = page.locator(".state-badge").first
    assert badge.inner_text() == "New"
    assert badge.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(11, 94, 215)"
    assert _no_horizontal_scroll(page)
    screenshot("secret-page-375px")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_language_switch_works_on_the_secret_page(live_server, browser_page, compiled_messages):
    # The reason for Referrer-Policy: same-origin rather than no-referrer: with no-referrer
    # Chromium sends "Origin: null" on this form's POST and Django's CSRF check refuses it.
    ticket = TicketFactory(board=BoardFactory(manager=ManagerFactory(email="lang.manager@example.com")))
    page = browser_page
    posts: list[dict[str, str]] = []
    page.on("request", lambda request: posts.append(request.headers) if request.method == "POST" else None)
    page.goto(f"{live_server.url}/ticket/{ticket.uuid}")
    with page.expect_navigation():
        page.get_by_label("Language").select_option("pl")
    assert page.url == f"{live_server.url}/ticket/{ticket.uuid}"
    assert page.get_by_role("heading", name="Rozmowa").is_visible()
    assert posts and posts[0].get("origin") == live_server.url


def test_one_reporter_address_gets_at_most_ten_reports_an_hour(client, board, settings):
    """Every report mails its reporter: the form must not become a way to mail a stranger."""
    assert settings.RATE_LIMIT_REPORTER_PER_HOUR == 10
    for n in range(10):
        ip = f"198.51.100.{n + 1}"  # from many addresses, so the per-IP limit is not what stops it
        assert client.post(_form_url(board), _report(title=f"R {n}"), REMOTE_ADDR=ip).status_code == 302
    refused = client.post(_form_url(board), _report(title="Eleventh"), REMOTE_ADDR="198.51.100.99")
    assert refused.status_code == 200
    assert "Many reports were sent for this address" in refused.content.decode()
    assert Ticket.objects.count() == 10
    assert client.post(_form_url(board), _report(email="someone.else@example.org")).status_code == 302


def test_confirmation_mail_is_in_the_language_of_the_form(
    client, board, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_form_url(board), _report(), HTTP_ACCEPT_LANGUAGE="pl")
    [sent] = [message for message in mailoutbox if message.to == ["reporter@example.org"]]
    assert "Otrzymaliśmy" in sent.subject or "Otrzymaliśmy" in sent.body, sent.subject
