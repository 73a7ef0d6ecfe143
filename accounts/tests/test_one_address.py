"""OPS-5: one address per account, attached only by verifying it; resets only to verified addresses.

The hole these tests close (issue 9): allauth's address management page was routed, so a
logged-in manager could attach any stranger's address to their own account without verifying
it. The stranger could then never sign up, and a password reset asked for that address mailed
the stranger a link that reset the attacher's account.
"""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import NoReverseMatch, reverse

from accounts.models import Manager
from accounts.tests.factories import DEFAULT_PASSWORD, ManagerFactory
from accounts.tests.helpers import confirmation_path, reset_path

pytestmark = pytest.mark.django_db

VICTIM = "victim@example.org"
RESET_URL = "/accounts/password/reset/"
SIGNUP_URL = "/accounts/signup/"


def _request_reset(client, address: str, capture) -> None:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        response = client.post(RESET_URL, {"email": address})
    assert response.status_code == 302


def _reset_links_to(address: str) -> list[str]:
    return [m.body for m in mail.outbox if address in m.to and "/accounts/password/reset/key/" in m.body]


# --- Routing: only the allauth views the product uses ------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/email/",
        "/accounts/reauthenticate/",
        "/accounts/password/set/",
        "/accounts/login/code/",
        "/accounts/login/code/confirm/",
        "/accounts/password/reset/confirm/",
        "/accounts/3rdparty/",
        "/accounts/",
    ],
)
@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "manager"])
def test_allauth_views_the_product_does_not_use_are_not_routed(client, manager, path, logged_in):
    if logged_in:
        client.force_login(manager)
    assert client.get(path).status_code == 404
    assert client.post(path, {"action_add": "", "email": VICTIM}).status_code == 404


def test_address_management_cannot_even_be_reversed():
    # allauth's own middleware redirects /accounts/ to this page when it can reverse it.
    with pytest.raises(NoReverseMatch):
        reverse("account_email")


@pytest.mark.parametrize(
    ("name", "kwargs", "path"),
    [
        ("account_login", {}, "/accounts/login/"),
        ("account_logout", {}, "/accounts/logout/"),
        ("account_signup", {}, "/accounts/signup/"),
        ("account_inactive", {}, "/accounts/inactive/"),
        ("account_email_verification_sent", {}, "/accounts/confirm-email/"),
        ("account_confirm_email", {"key": "abc:def"}, "/accounts/confirm-email/abc:def/"),
        ("resend_verification", {}, "/accounts/verification/resend/"),
        ("account_change_password", {}, "/accounts/password/change/"),
        ("account_reset_password", {}, "/accounts/password/reset/"),
        ("account_reset_password_done", {}, "/accounts/password/reset/done/"),
        ("account_reset_password_from_key", {"uidb36": "1z", "key": "k-e-y"}, "/accounts/password/reset/key/1z-k-e-y/"),
        ("account_reset_password_from_key_done", {}, "/accounts/password/reset/key/done/"),
    ],
)
def test_the_account_pages_the_product_uses_keep_their_addresses(name, kwargs, path):
    # Mails already sent carry these paths, and the templates link to them by name.
    assert reverse(name, kwargs=kwargs) == path


# --- The attack of issue 9, end to end ----------------------------------------------------------


def test_a_manager_cannot_attach_a_strangers_address(manager_client, manager):
    response = manager_client.post("/accounts/email/", {"action_add": "", "email": VICTIM})
    assert response.status_code == 404
    assert list(EmailAddress.objects.filter(user=manager).values_list("email", flat=True)) == [manager.email]
    assert mail.outbox == []


def test_the_stranger_can_still_sign_up_and_a_reset_reaches_only_their_own_account(
    manager_client, manager, client, django_capture_on_commit_callbacks
):
    manager_client.post("/accounts/email/", {"action_add": "", "email": VICTIM})
    manager_client.logout()

    with django_capture_on_commit_callbacks(execute=True):
        signup = client.post(SIGNUP_URL, {"name": "Vic", "email": VICTIM, "password1": "victims-own-pass-1"})
    assert signup.status_code == 302
    victim = Manager.objects.get(email=VICTIM)
    client.post(confirmation_path(VICTIM))
    assert EmailAddress.objects.get(email=VICTIM).user == victim

    mail.outbox.clear()
    _request_reset(client, VICTIM, django_capture_on_commit_callbacks)
    page = client.get(reset_path(VICTIM), follow=True)
    client.post(page.redirect_chain[-1][0], {"password1": "chosen-by-victim", "password2": "chosen-by-victim"})
    assert Manager.objects.get(pk=victim.pk).check_password("chosen-by-victim")
    assert Manager.objects.get(pk=manager.pk).check_password(DEFAULT_PASSWORD)


# --- Resets go only to verified addresses ---------------------------------------------------


def test_a_reset_for_an_address_attached_unverified_does_not_reset_the_attacher(
    client, manager, django_capture_on_commit_callbacks
):
    # What an installation may still hold from before the fix (the migration removes it too).
    EmailAddress.objects.create(user=manager, email=VICTIM, verified=False, primary=False)

    _request_reset(client, VICTIM, django_capture_on_commit_callbacks)

    assert _reset_links_to(VICTIM) == []
    assert Manager.objects.get(pk=manager.pk).check_password(DEFAULT_PASSWORD)


def test_an_unverified_account_gets_a_verification_link_instead_of_a_reset_link(
    client, django_capture_on_commit_callbacks
):
    ManagerFactory(email="new@example.com", verified=False)

    _request_reset(client, "new@example.com", django_capture_on_commit_callbacks)

    assert _reset_links_to("new@example.com") == []
    # The owner of the mailbox proves it by following this link; then a reset works.
    client.post(confirmation_path("new@example.com"))
    assert EmailAddress.objects.get(email="new@example.com").verified
    mail.outbox.clear()
    _request_reset(client, "new@example.com", django_capture_on_commit_callbacks)
    assert len(_reset_links_to("new@example.com")) == 1


def test_a_verified_address_still_gets_its_reset_link(client, manager, django_capture_on_commit_callbacks):
    _request_reset(client, manager.email.upper(), django_capture_on_commit_callbacks)
    assert len(_reset_links_to(manager.email)) == 1


def test_an_account_holds_at_most_one_address(settings):
    assert settings.ACCOUNT_MAX_EMAIL_ADDRESSES == 1
    assert settings.ACCOUNT_CHANGE_EMAIL is False
    assert settings.ACCOUNT_UNIQUE_EMAIL is True
