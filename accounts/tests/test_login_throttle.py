"""OPS-5: failed log-ins slow the guesser down without locking the owner out.

Before, allauth counted five failures per account from anywhere: anyone typing five wrong
passwords for an address locked its owner out for five minutes, from every IP.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core import signing
from django.test import Client

from accounts import login_throttle
from accounts.tests.factories import DEFAULT_PASSWORD
from accounts.tests.helpers import reset_path

pytestmark = pytest.mark.django_db

LOGIN_URL = "/accounts/login/"
OWNER_IP = "203.0.113.5"
THROTTLED = "Too many failed log-ins."
WRONG_CREDENTIALS = "The email address and/or password you specified are not correct."


@pytest.fixture(autouse=True)
def _only_the_failure_budgets(settings):  # type: ignore[no-untyped-def]
    # The per-IP request limits of the middleware (NFR-2, tested on its own) and of allauth's
    # log-in view would otherwise answer 429 long before these tests are done.
    settings.RATE_LIMIT_LOGIN = 10_000
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": ""}


def _login(client: Client, email: str, password: str, ip: str = OWNER_IP):  # type: ignore[no-untyped-def]
    return client.post(LOGIN_URL, {"login": email, "password": password}, REMOTE_ADDR=ip)


def _logged_in(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 302


def _guess(email: str, times: int, ip: str) -> None:
    for _ in range(times):
        html = _login(Client(), email, "guess-123", ip=ip).content.decode()
        assert WRONG_CREDENTIALS in html or THROTTLED in html


def _use_up_the_budget_of_unknown_browsers(email: str) -> None:
    for n in range(login_throttle.UNKNOWN_DEVICES_BUDGET.failures):
        html = _login(Client(), email, "guess-123", ip=f"198.51.100.{n + 1}").content.decode()
        assert WRONG_CREDENTIALS in html  # each one counted, none refused yet


def _owner_browser(manager) -> Client:  # type: ignore[no-untyped-def]
    """A browser the owner has logged in with before, now logged out."""
    browser = Client()
    assert _logged_in(_login(browser, manager.email, DEFAULT_PASSWORD))
    browser.post("/accounts/logout/")
    return browser


# --- The owner is not locked out ------------------------------------------------------------------


def test_guessers_elsewhere_do_not_lock_the_owner_out(manager):
    browser = _owner_browser(manager)
    for n in range(30):  # far more than every budget, from 30 addresses
        _guess(manager.email, 3, ip=f"198.51.100.{n + 1}")
    assert THROTTLED in _login(Client(), manager.email, DEFAULT_PASSWORD, ip="198.51.100.99").content.decode()

    assert _logged_in(_login(browser, manager.email, DEFAULT_PASSWORD))


def test_a_guesser_behind_the_owners_own_ip_does_not_lock_the_owner_out(manager):
    browser = _owner_browser(manager)
    _guess(manager.email, 25, ip=OWNER_IP)
    assert THROTTLED in _login(Client(), manager.email, DEFAULT_PASSWORD).content.decode()

    assert _logged_in(_login(browser, manager.email, DEFAULT_PASSWORD))


def test_the_owners_address_typed_differently_is_the_same_account(manager):
    browser = _owner_browser(manager)
    _guess(manager.email, 60, ip="198.51.100.1")
    assert _logged_in(_login(browser, f"  {manager.email.upper()} ", DEFAULT_PASSWORD))


def test_a_password_reset_makes_a_new_browser_known(manager, django_capture_on_commit_callbacks):
    _use_up_the_budget_of_unknown_browsers(manager.email)
    new_browser = Client()
    assert THROTTLED in _login(new_browser, manager.email, DEFAULT_PASSWORD).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        new_browser.post("/accounts/password/reset/", {"email": manager.email}, REMOTE_ADDR=OWNER_IP)
    form = new_browser.get(reset_path(manager.email), follow=True)
    new_browser.post(form.redirect_chain[-1][0], {"password1": "a-new-one-42", "password2": "a-new-one-42"})

    assert _logged_in(_login(new_browser, manager.email, "a-new-one-42"))


def test_right_passwords_never_use_up_a_budget(manager):
    for _ in range(30):  # each from a new browser, so none of them is known
        browser = Client()
        assert _logged_in(_login(browser, manager.email, DEFAULT_PASSWORD))
        browser.post("/accounts/logout/")


# --- The guesser is slowed down ----------------------------------------------------------------


def test_one_ip_gets_five_guesses_at_one_account(manager, other_manager):
    _guess(manager.email, 5, ip="198.51.100.1")
    # Refused before the password is looked at: a right guess now looks like any other.
    response = _login(Client(), manager.email, DEFAULT_PASSWORD, ip="198.51.100.1")
    assert response.status_code == 200
    assert THROTTLED in response.content.decode()
    assert "_auth_user_id" not in response.client.session
    # That IP may still log in to another account, and other IPs to this one.
    assert _logged_in(_login(Client(), other_manager.email, DEFAULT_PASSWORD, ip="198.51.100.1"))
    assert _logged_in(_login(Client(), manager.email, DEFAULT_PASSWORD, ip="198.51.100.2"))


def test_one_ip_gets_twenty_guesses_over_all_accounts(manager):
    for n in range(20):
        _guess(f"someone{n}@example.org", 1, ip="198.51.100.1")
    assert THROTTLED in _login(Client(), manager.email, DEFAULT_PASSWORD, ip="198.51.100.1").content.decode()
    assert _logged_in(_login(Client(), manager.email, DEFAULT_PASSWORD, ip="198.51.100.2"))


def test_an_ipv6_guesser_is_counted_per_64_block(manager):
    for n in range(5):
        _guess(manager.email, 1, ip=f"2001:db8:1:2::{n + 1:x}")
    refused = _login(Client(), manager.email, DEFAULT_PASSWORD, ip="2001:db8:1:2:ffff::1")
    assert THROTTLED in refused.content.decode()
    assert _logged_in(_login(Client(), manager.email, DEFAULT_PASSWORD, ip="2001:db8:1:3::1"))


def test_unknown_browsers_share_twenty_guesses_per_account(manager):
    browser = _owner_browser(manager)
    _use_up_the_budget_of_unknown_browsers(manager.email)
    refused = _login(Client(), manager.email, DEFAULT_PASSWORD, ip="192.0.2.77")
    assert THROTTLED in refused.content.decode()
    assert _logged_in(_login(browser, manager.email, DEFAULT_PASSWORD, ip="192.0.2.77"))


def test_the_same_holds_for_addresses_without_an_account():
    # Otherwise the throttle itself would tell which addresses have accounts.
    _use_up_the_budget_of_unknown_browsers("nobody@example.org")
    assert THROTTLED in _login(Client(), "nobody@example.org", "guess-123", ip="192.0.2.77").content.decode()


def test_a_known_browser_has_a_budget_of_its_own(manager):
    browser = _owner_browser(manager)
    for _ in range(5):
        assert WRONG_CREDENTIALS in _login(browser, manager.email, "typo").content.decode()
    assert THROTTLED in _login(browser, manager.email, DEFAULT_PASSWORD).content.decode()
    # Its typos used up nothing that unknown browsers count on.
    assert _logged_in(_login(Client(), manager.email, DEFAULT_PASSWORD, ip="198.51.100.9"))


# --- The known-device cookie -------------------------------------------------------------------


def test_the_cookie_is_set_on_log_in_and_kept_from_scripts(manager):
    response = _login(Client(), manager.email, DEFAULT_PASSWORD)
    cookie = response.cookies[login_throttle.KNOWN_DEVICE_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/accounts/"
    assert cookie["max-age"] == login_throttle.KNOWN_DEVICE_DAYS * 86400
    assert bool(cookie["secure"]) is settings.SESSION_COOKIE_SECURE
    assert manager.email not in cookie.value  # it names the account only by a keyed hash


def test_the_cookie_counts_only_for_the_accounts_it_logged_in_to(manager, other_manager):
    browser = _owner_browser(manager)
    _use_up_the_budget_of_unknown_browsers(other_manager.email)
    assert THROTTLED in _login(browser, other_manager.email, DEFAULT_PASSWORD).content.decode()


def test_a_forged_or_altered_cookie_is_an_unknown_browser(manager):
    genuine = _owner_browser(manager).cookies[login_throttle.KNOWN_DEVICE_COOKIE].value
    _use_up_the_budget_of_unknown_browsers(manager.email)
    tag = login_throttle.account_tag(manager.email)
    forged = {
        "signed with another salt": signing.dumps({"d": "x", "a": [tag]}, salt="another salt"),
        "altered": genuine[:-2] + ("xx" if not genuine.endswith("xx") else "yy"),
        "garbage": "not a cookie",
    }
    for name, value in forged.items():
        browser = Client()
        browser.cookies[login_throttle.KNOWN_DEVICE_COOKIE] = value
        assert THROTTLED in _login(browser, manager.email, DEFAULT_PASSWORD).content.decode(), name


def test_a_cookie_older_than_its_lifetime_is_an_unknown_browser(manager, monkeypatch):
    browser = _owner_browser(manager)
    _use_up_the_budget_of_unknown_browsers(manager.email)
    monkeypatch.setattr(login_throttle, "KNOWN_DEVICE_DAYS", 0)
    assert THROTTLED in _login(browser, manager.email, DEFAULT_PASSWORD).content.decode()


def test_one_browser_is_remembered_for_several_accounts(manager, other_manager):
    browser = _owner_browser(manager)
    assert _logged_in(_login(browser, other_manager.email, DEFAULT_PASSWORD))
    browser.post("/accounts/logout/")
    _use_up_the_budget_of_unknown_browsers(manager.email)
    _use_up_the_budget_of_unknown_browsers(other_manager.email)
    assert _logged_in(_login(browser, manager.email, DEFAULT_PASSWORD))
    browser.post("/accounts/logout/")
    assert _logged_in(_login(browser, other_manager.email, DEFAULT_PASSWORD))


# --- Messages and switches ---------------------------------------------------------------------


def test_the_refusal_says_what_to_do_in_polish_too(manager):
    _guess(manager.email, 5, ip="198.51.100.1")
    response = Client().post(
        LOGIN_URL,
        {"login": manager.email, "password": DEFAULT_PASSWORD},
        REMOTE_ADDR="198.51.100.1",
        HTTP_ACCEPT_LANGUAGE="pl",
    )
    assert "Zbyt wiele nieudanych logowań." in response.content.decode()


def test_switching_rate_limits_off_switches_this_off_too(manager, settings):
    settings.RATE_LIMIT_ENABLED = False
    _guess(manager.email, 30, ip="198.51.100.1")
    assert _logged_in(_login(Client(), manager.email, DEFAULT_PASSWORD, ip="198.51.100.1"))


def test_allauths_own_per_account_limit_is_off():
    assert settings.ACCOUNT_RATE_LIMITS["login_failed"] == ""


def test_behind_a_trusted_proxy_the_client_is_counted_not_the_proxy(manager, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    for _ in range(5):
        Client().post(
            LOGIN_URL,
            {"login": manager.email, "password": "guess-123"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR="198.51.100.1",
        )
    other_client = Client().post(
        LOGIN_URL,
        {"login": manager.email, "password": DEFAULT_PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.2",
    )
    assert _logged_in(other_client)
