"""NFR-5: account pages in Polish through Accept-Language and the language switcher."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _messages(compiled_messages):  # type: ignore[no-untyped-def]
    return compiled_messages


@pytest.mark.parametrize(
    ("url", "polish"),
    [
        ("/accounts/login/", "Zaloguj się"),
        ("/accounts/signup/", "Załóż konto menedżera"),
        ("/accounts/password/reset/", "Zresetuj hasło"),
        ("/accounts/verification/resend/", "Wyślij ponownie e-mail weryfikacyjny"),
    ],
)
def test_accept_language_pl_serves_polish(client, url, polish):
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="pl,en;q=0.5").content.decode()
    assert '<html lang="pl">' in html
    assert polish in html


def test_the_language_switcher_remembers_polish(manager_client):
    response = manager_client.post("/i18n/setlang/", {"language": "pl", "next": "/settings/profile/"}, follow=True)
    html = response.content.decode()
    assert '<html lang="pl">' in html
    assert "Twój czas lokalny" in html
    assert "Wyloguj się" in html


def test_form_errors_are_translated(client):
    response = client.post(
        "/accounts/signup/",
        {"name": "", "email": "x@example.com", "password1": "short"},
        HTTP_ACCEPT_LANGUAGE="pl",
    )
    assert "To pole jest wymagane." in response.content.decode()


def test_suspension_message_is_shown_in_polish(client):
    from accounts.tests.factories import ManagerFactory

    ManagerFactory(email="gone@example.com", is_suspended=True, suspension_message="Do zobaczenia")
    response = client.post(
        "/accounts/login/",
        {"login": "gone@example.com", "password": "correct-horse-42"},
        HTTP_ACCEPT_LANGUAGE="pl",
    )
    assert "To konto jest zawieszone: Do zobaczenia" in response.content.decode()


@pytest.mark.parametrize(
    ("seconds", "word"), [(1, "sekundę"), (3, "sekundy"), (5, "sekund"), (22, "sekundy"), (12, "sekund")]
)
def test_polish_plural_forms(seconds, word):
    from django.utils import translation
    from django.utils.translation import ngettext

    with translation.override("pl"):
        text = ngettext(
            "You sent many requests in a short time. Please try again in %(seconds)s second.",
            "You sent many requests in a short time. Please try again in %(seconds)s seconds.",
            seconds,
        ) % {"seconds": seconds}
    assert text.endswith(f"za {seconds} {word}.")
