"""ACC-3, ACC-4: log in, log out, sessions, and password reset through real URLs."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from accounts.models import Manager
from accounts.tests.factories import DEFAULT_PASSWORD, ManagerFactory
from accounts.tests.helpers import reset_path
from issuetracker.sessions import TOUCH_INTERVAL_SECONDS

pytestmark = pytest.mark.django_db

LOGIN_URL = "/accounts/login/"
LOGOUT_URL = "/accounts/logout/"
RESET_URL = "/accounts/password/reset/"
NEW_PASSWORD = "brand-new-pass-1"
WRONG_CREDENTIALS = "The email address and/or password you specified are not correct."


def _login(client, email: str, password: str = DEFAULT_PASSWORD):  # type: ignore[no-untyped-def]
    return client.post(LOGIN_URL, {"login": email, "password": password})


def _logged_in_as(client) -> str | None:  # type: ignore[no-untyped-def]
    return client.session.get("_auth_user_id")


def test_login_with_email_and_password(client, manager):
    response = _login(client, manager.email)
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert _logged_in_as(client) == str(manager.pk)


def test_login_email_is_case_insensitive(client, manager):
    assert _login(client, manager.email.upper()).status_code == 302
    assert _logged_in_as(client) == str(manager.pk)


@pytest.mark.parametrize(
    ("email", "password"),
    [("manager@example.com", "wrong-password"), ("nobody@example.com", DEFAULT_PASSWORD)],
    ids=["wrong-password", "unknown-address"],
)
def test_wrong_credentials_get_one_clear_message(client, manager, email, password):
    response = _login(client, email, password)
    assert response.status_code == 200
    assert WRONG_CREDENTIALS in response.content.decode()
    assert _logged_in_as(client) is None


def test_suspended_manager_is_refused_with_the_suspension_message(client):
    ManagerFactory(
        email="gone@example.com", is_suspended=True, suspension_message="Moved on to another project & team."
    )
    response = _login(client, "gone@example.com")
    assert response.status_code == 200
    html = response.content.decode()
    assert "This account is suspended: Moved on to another project &amp; team." in html
    assert _logged_in_as(client) is None


def test_suspended_manager_with_a_wrong_password_learns_nothing_about_the_suspension(client):
    ManagerFactory(email="gone@example.com", is_suspended=True, suspension_message="Secret reason")
    response = _login(client, "gone@example.com", "wrong-password")
    assert WRONG_CREDENTIALS in response.content.decode()
    assert "Secret reason" not in response.content.decode()


def test_logout_is_post_only(manager_client, manager):
    page = manager_client.get(LOGOUT_URL)
    # GET only asks for confirmation; a link (or an <img>) cannot log anybody out.
    assert page.status_code == 200
    assert _logged_in_as(manager_client) == str(manager.pk)

    response = manager_client.post(LOGOUT_URL)
    assert response.status_code == 302
    assert response["Location"] == reverse("account_login")
    assert _logged_in_as(manager_client) is None


def test_navigation_logout_is_a_form_posting_with_csrf(manager_client):
    html = manager_client.get(reverse("dashboard")).content.decode()
    assert f'<form method="post" action="{LOGOUT_URL}">' in html


def test_session_cookie_is_renewed_at_most_every_five_minutes(manager_client, settings, monkeypatch):
    age = settings.SESSION_HOURS * 3600 + TOUCH_INTERVAL_SECONDS
    assert settings.SESSION_COOKIE_AGE == age
    start = timezone.now()
    profile = reverse("accounts:profile")

    first = manager_client.get(profile)
    assert first.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == age
    # Within the interval nothing is written: no cookie, no session save.
    monkeypatch.setattr(timezone, "now", lambda: start + datetime.timedelta(seconds=TOUCH_INTERVAL_SECONDS - 30))
    assert settings.SESSION_COOKIE_NAME not in manager_client.get(profile).cookies
    # After it, the session and its cookie are renewed for the full age again.
    monkeypatch.setattr(timezone, "now", lambda: start + datetime.timedelta(seconds=TOUCH_INTERVAL_SECONDS + 1))
    renewed = manager_client.get(profile)
    assert renewed.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == age


def test_session_lasts_session_hours_from_the_last_request(client, manager, monkeypatch):
    assert _login(client, manager.email).status_code == 302
    start = timezone.now()
    hours = settings.SESSION_HOURS

    def at(offset: datetime.timedelta) -> None:
        monkeypatch.setattr(timezone, "now", lambda: start + offset)

    profile = reverse("accounts:profile")
    # Active all day long: each request pushes the end of the session further.
    for elapsed in (hours - 1, 2 * hours - 2, 3 * hours - 3):
        at(datetime.timedelta(hours=elapsed))
        assert client.get(profile).status_code == 200, f"logged out after {elapsed} h of activity"

    # Idle for longer than SESSION_HOURS (and the renewal interval): the session is over. The
    # cached copy of the session would have expired with the real clock; this one is mocked.
    at(datetime.timedelta(hours=3 * hours - 3 + hours, minutes=6))
    cache.clear()
    response = client.get(profile)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def _request_reset(client, address: str, capture):  # type: ignore[no-untyped-def]
    with capture(execute=True):
        return client.post(RESET_URL, {"email": address})


def test_password_reset_full_flow_and_single_use(client, manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(RESET_URL, {"email": manager.email})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")
    # ACC-8: the mail goes out from a task after the commit, not inside the request.
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    link = reset_path(manager.email)

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    assert 'data-testid="reset-invalid"' not in form_page.content.decode()
    set_password_url = form_page.redirect_chain[-1][0]
    changed = client.post(set_password_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert changed.status_code == 302
    assert changed["Location"] == reverse("account_reset_password_from_key_done")
    # ACCOUNT_LOGIN_ON_PASSWORD_RESET is off: resetting does not log in by itself.
    assert _logged_in_as(client) is None

    assert WRONG_CREDENTIALS in _login(client, manager.email, DEFAULT_PASSWORD).content.decode()
    assert _login(client, manager.email, NEW_PASSWORD).status_code == 302
    assert _logged_in_as(client) == str(manager.pk)
    client.post(LOGOUT_URL)

    # The old link is dead: its token was bound to the old password hash.
    second = client.get(link, follow=True)
    assert 'data-testid="reset-invalid"' in second.content.decode()
    client.post(link, {"password1": "x" * 12, "password2": "x" * 12})
    assert Manager.objects.get(pk=manager.pk).check_password(NEW_PASSWORD)


def test_password_reset_for_an_unknown_address_answers_the_same(client, manager, django_capture_on_commit_callbacks):
    known = _request_reset(client, manager.email, django_capture_on_commit_callbacks)
    unknown = _request_reset(client, "nobody@example.com", django_capture_on_commit_callbacks)
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    done_page = client.get(known["Location"]).content.decode()
    assert "If an account uses this address" in done_page

    # Only the real account gets a usable link.
    assert reset_path(manager.email)
    to_unknown = [m for m in mail.outbox if "nobody@example.com" in m.to]
    assert all("/accounts/password/reset/key/" not in m.body for m in to_unknown)


def test_password_reset_link_expires_after_one_hour(client, manager, django_capture_on_commit_callbacks, monkeypatch):
    _request_reset(client, manager.email, django_capture_on_commit_callbacks)
    link = reset_path(manager.email)
    real_now = PasswordResetTokenGenerator._now
    monkeypatch.setattr(
        PasswordResetTokenGenerator,
        "_now",
        lambda self: real_now(self) + datetime.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60),
    )
    page = client.get(link, follow=True)
    assert 'data-testid="reset-invalid"' in page.content.decode()
    assert Manager.objects.get(pk=manager.pk).check_password(DEFAULT_PASSWORD)


def test_password_reset_link_still_works_within_the_hour(
    client, manager, django_capture_on_commit_callbacks, monkeypatch
):
    _request_reset(client, manager.email, django_capture_on_commit_callbacks)
    link = reset_path(manager.email)
    real_now = PasswordResetTokenGenerator._now
    monkeypatch.setattr(
        PasswordResetTokenGenerator, "_now", lambda self: real_now(self) + datetime.timedelta(minutes=55)
    )
    page = client.get(link, follow=True)
    assert 'data-testid="reset-invalid"' not in page.content.decode()


def test_password_reset_does_not_let_a_suspended_manager_in(client, django_capture_on_commit_callbacks):
    gone = ManagerFactory(email="gone@example.com", is_suspended=True, suspension_message="Left the company")
    _request_reset(client, gone.email, django_capture_on_commit_callbacks)
    page = client.get(reset_path(gone.email), follow=True)
    client.post(page.redirect_chain[-1][0], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert _logged_in_as(client) is None

    response = _login(client, gone.email, NEW_PASSWORD)
    assert _logged_in_as(client) is None
    assert "This account is suspended: Left the company" in response.content.decode()


def test_a_real_login_gets_a_cookie_lasting_session_hours(client, manager):
    # No "remember me" choice: every session lasts SESSION_HOURS from the last request (ACC-3),
    # instead of ending whenever the browser closes.
    assert 'name="remember"' not in client.get(LOGIN_URL).content.decode()
    response = _login(client, manager.email)
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["max-age"] == settings.SESSION_HOURS * 3600 + TOUCH_INTERVAL_SECONDS
    assert client.session.get_expire_at_browser_close() is False
