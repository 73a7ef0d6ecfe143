"""ACC-1, ACC-2, ACC-8: sign-up, mandatory email verification, resend, all through real URLs."""

from __future__ import annotations

import time

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from accounts.models import Manager
from accounts.tests.factories import DEFAULT_PASSWORD, ManagerFactory
from accounts.tests.helpers import confirmation_path

pytestmark = pytest.mark.django_db

SIGNUP_URL = "/accounts/signup/"
LOGIN_URL = "/accounts/login/"
RESEND_URL = "/accounts/verification/resend/"
NEW_EMAIL = "new.manager@example.com"
NEW_PASSWORD = "s3cret-enough"


def _signup(client, **overrides: str):  # type: ignore[no-untyped-def]
    data = {"name": "Nina New", "email": NEW_EMAIL, "password1": NEW_PASSWORD, "timezone": "Europe/Warsaw"}
    data.update(overrides)
    return client.post(SIGNUP_URL, {k: v for k, v in data.items() if v is not None})


def _signup_and_get_link(client, django_capture_on_commit_callbacks) -> str:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        response = _signup(client)
    assert response.status_code == 302
    return confirmation_path(NEW_EMAIL)


def _login(client, email: str = NEW_EMAIL, password: str = NEW_PASSWORD):  # type: ignore[no-untyped-def]
    return client.post(LOGIN_URL, {"login": email, "password": password})


def test_signup_page_has_name_email_password_and_hidden_timezone(client):
    response = client.get(SIGNUP_URL)
    assert response.status_code == 200
    html = response.content.decode()
    for field in ('name="name"', 'name="email"', 'name="password1"'):
        assert field in html
    assert 'type="hidden" name="timezone"' in html
    assert "js/timezone.js" in html
    assert 'name="password2"' not in html  # ACC-1: a single password field


def test_signup_sends_verification_mail_after_commit_and_verifies_only_on_post(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _signup(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    # ACC-8: nothing is sent inside the request; a task is queued for after the commit.
    assert mail.outbox == []
    assert callbacks
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [NEW_EMAIL]
    link = confirmation_path(NEW_EMAIL)

    manager = Manager.objects.get(email=NEW_EMAIL)
    assert manager.name == "Nina New"
    assert manager.timezone == "Europe/Warsaw"
    assert not EmailAddress.objects.get(email=NEW_EMAIL).verified
    # Signing up does not log in: verification is mandatory.
    assert "_auth_user_id" not in client.session

    page = client.get(link)
    assert page.status_code == 200
    assert f'action="{link}"' in page.content.decode()
    assert NEW_EMAIL in page.content.decode()
    # GET only shows the page (mail scanners follow links); it must not verify.
    assert not EmailAddress.objects.get(email=NEW_EMAIL).verified

    confirmed = client.post(link)
    assert confirmed.status_code == 302
    assert EmailAddress.objects.get(email=NEW_EMAIL).verified

    logged_in = _login(client)
    assert logged_in.status_code == 302
    assert logged_in["Location"] == reverse("dashboard")
    assert client.session["_auth_user_id"] == str(manager.pk)
    assert client.get(reverse("dashboard")).status_code == 200


def test_unverified_login_is_refused_with_a_clear_page(client, django_capture_on_commit_callbacks):
    _signup_and_get_link(client, django_capture_on_commit_callbacks)
    response = _login(client)
    assert "_auth_user_id" not in client.session
    page = client.get(response["Location"]) if response.status_code == 302 else response
    assert page.status_code == 200
    assert "Verify your email address" in page.content.decode()
    assert reverse("resend_verification") in page.content.decode()
    assert client.get(reverse("dashboard")).status_code == 302


def test_verification_link_expires_after_24_hours(client, django_capture_on_commit_callbacks, monkeypatch):
    link = _signup_and_get_link(client, django_capture_on_commit_callbacks)
    real_time = time.time
    # The HMAC key carries its signing time; move the clock past ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS.
    monkeypatch.setattr("django.core.signing.time.time", lambda: real_time() + 24 * 3600 + 60)

    page = client.get(link)
    assert page.status_code == 200
    assert 'data-testid="confirmation-invalid"' in page.content.decode()
    assert client.post(link).status_code == 404
    assert not EmailAddress.objects.get(email=NEW_EMAIL).verified
    assert _login(client) and "_auth_user_id" not in client.session


def test_verification_link_still_valid_just_before_24_hours(client, django_capture_on_commit_callbacks, monkeypatch):
    link = _signup_and_get_link(client, django_capture_on_commit_callbacks)
    real_time = time.time
    monkeypatch.setattr("django.core.signing.time.time", lambda: real_time() + 23 * 3600)
    assert client.post(link).status_code == 302
    assert EmailAddress.objects.get(email=NEW_EMAIL).verified


def test_second_use_of_the_verification_link_does_nothing(client, django_capture_on_commit_callbacks):
    link = _signup_and_get_link(client, django_capture_on_commit_callbacks)
    assert client.post(link).status_code == 302
    manager = Manager.objects.get(email=NEW_EMAIL)
    manager.set_password("changed-meanwhile")
    manager.save()

    again = client.get(link)
    assert again.status_code == 200
    assert 'data-testid="confirmation-invalid"' in again.content.decode()
    assert client.post(link).status_code == 404
    # Nobody got logged in by the link, nor was anything else changed.
    assert "_auth_user_id" not in client.session
    assert EmailAddress.objects.filter(email=NEW_EMAIL, verified=True).count() == 1
    assert Manager.objects.get(email=NEW_EMAIL).check_password("changed-meanwhile")


def test_verification_link_of_a_suspended_manager_does_not_log_in(client, django_capture_on_commit_callbacks):
    link = _signup_and_get_link(client, django_capture_on_commit_callbacks)
    Manager.objects.filter(email=NEW_EMAIL).update(is_suspended=True, suspension_message="Gone fishing")
    client.post(link)
    assert "_auth_user_id" not in client.session


def test_resend_sends_a_fresh_link_only_for_a_known_unverified_address(client, django_capture_on_commit_callbacks):
    ManagerFactory(email="waiting@example.com", verified=False)
    ManagerFactory(email="verified@example.com")

    answers = []
    for address in ("waiting@example.com", "verified@example.com", "nobody@example.com"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(RESEND_URL, {"email": address}, follow=True)
        assert response.status_code == 200
        answers.append(
            (response.redirect_chain, [str(m) for m in response.context["messages"]], response.templates[0].name)
        )

    # The same answer whatever we know about the address (ACC-2: no enumeration).
    assert answers[0] == answers[1] == answers[2]
    assert [m.to for m in mail.outbox] == [["waiting@example.com"]]

    link = confirmation_path("waiting@example.com")
    assert client.post(link).status_code == 302
    assert EmailAddress.objects.get(email="waiting@example.com").verified
    assert _login(client, "waiting@example.com", DEFAULT_PASSWORD).status_code == 302
    assert "_auth_user_id" in client.session


def test_resend_matches_the_address_case_insensitively(client, django_capture_on_commit_callbacks):
    ManagerFactory(email="waiting@example.com", verified=False)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(RESEND_URL, {"email": "Waiting@Example.COM"})
    assert [m.to for m in mail.outbox] == [["waiting@example.com"]]


def test_resend_refuses_get_mutation_and_validates_the_address(client):
    page = client.get(RESEND_URL)
    assert page.status_code == 200
    invalid = client.post(RESEND_URL, {"email": "not-an-address"})
    assert invalid.status_code == 200
    assert invalid.context["form"].errors["email"]
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("submitted", "stored"),
    [
        ("America/New_York", "America/New_York"),
        (None, "UTC"),
        ("", "UTC"),
        ("Mars/Olympus_Mons", "UTC"),
        ("<script>", "UTC"),
    ],
)
def test_timezone_comes_from_the_hidden_field_or_defaults_to_utc(client, submitted, stored):
    response = _signup(client, timezone=submitted)
    assert response.status_code == 302
    assert Manager.objects.get(email=NEW_EMAIL).timezone == stored


def test_password_shorter_than_8_characters_is_refused_inline(client):
    response = _signup(client, password1="short7!")
    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    assert "at least 8 characters" in response.content.decode()
    assert not Manager.objects.filter(email=NEW_EMAIL).exists()


def test_an_8_character_password_without_other_rules_is_accepted(client):
    assert _signup(client, password1="abcdefgh").status_code == 302
    assert Manager.objects.filter(email=NEW_EMAIL).exists()


@pytest.mark.parametrize("name", [None, "", "   "])
def test_name_is_required(client, name):
    response = _signup(client, name=name)
    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    assert not Manager.objects.filter(email=NEW_EMAIL).exists()


def test_signup_with_a_taken_address_does_not_reveal_it(client, django_capture_on_commit_callbacks):
    ManagerFactory(email=NEW_EMAIL)
    with django_capture_on_commit_callbacks(execute=True):
        response = _signup(client)
    # ACCOUNT_PREVENT_ENUMERATION: same redirect as a fresh sign-up, the owner is told by mail.
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert Manager.objects.filter(email=NEW_EMAIL).count() == 1
    assert [m.to for m in mail.outbox] == [[NEW_EMAIL]]


def test_resend_is_limited_per_address_with_the_same_answer(client, django_capture_on_commit_callbacks):
    ManagerFactory(email="waiting@example.com", verified=False)
    answers = []
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(RESEND_URL, {"email": "waiting@example.com"}, follow=True)
        answers.append([str(m) for m in response.context["messages"]])
    assert answers[0] == answers[1] == answers[2]
    assert len(mail.outbox) == 1  # one mail per address per 3 minutes, however often asked
