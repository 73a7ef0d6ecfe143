"""The account lifecycle in headless Chromium against the live server, with screenshots."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress

from accounts.models import Manager
from accounts.tests.helpers import confirmation_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "browser.manager@example.com"
PASSWORD = "chromium-pass-1"
BOOTSTRAP_PRIMARY = "rgb(13, 110, 253)"


def _assert_assets_loaded(page) -> None:  # type: ignore[no-untyped-def]
    # Bootstrap's CSS applied (the CSP allows only our own files, so nothing inline could fake it)...
    color = page.evaluate("getComputedStyle(document.querySelector('.btn-primary')).backgroundColor")
    assert color == BOOTSTRAP_PRIMARY
    # ...and app.js ran: it hides the no-JS submit button of the language form.
    assert page.locator(".js-hide-when-enhanced").first.evaluate("el => el.classList.contains('d-none')")


def test_sign_up_verify_log_in_switch_to_polish_log_out(
    live_server, browser_page, screenshot, compiled_messages, mailoutbox
):
    page = browser_page
    failed_assets: list[str] = []
    page.on("response", lambda r: failed_assets.append(r.url) if "/static/" in r.url and r.status >= 400 else None)

    # Sign up: the hidden timezone field is filled by static/js/timezone.js from the browser.
    page.goto(f"{live_server.url}/accounts/signup/")
    _assert_assets_loaded(page)
    assert page.locator("input[name=timezone]").input_value() == "Europe/Warsaw"
    page.get_by_label("Name").fill("Bruno Browser")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    screenshot("signup-filled")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/$"))
    assert page.get_by_role("heading", name="Verify your email address").is_visible()
    screenshot("verification-sent")

    manager = Manager.objects.get(email=EMAIL)
    assert (manager.name, manager.timezone) == ("Bruno Browser", "Europe/Warsaw")

    # Verify: the link from the mail that was actually sent; GET shows a page, the button confirms.
    page.goto(live_server.url + confirmation_path(EMAIL))
    assert not EmailAddress.objects.get(email=EMAIL).verified
    screenshot("confirm-page")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    assert EmailAddress.objects.get(email=EMAIL).verified
    screenshot("confirmed")

    # Log in.
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("button", name="Log out").is_visible()
    _assert_assets_loaded(page)
    screenshot("logged-in")

    # Switch to Polish with the navbar select (app.js submits it on change).
    page.locator("nav [data-testid=language-select]").select_option("pl")
    page.wait_for_selector("html[lang=pl]")
    assert page.get_by_role("button", name="Wyloguj się").is_visible()
    assert page.get_by_role("link", name="Tablice").first.is_visible()
    screenshot("polish")

    # Log out (a POST form in the navbar); the login page stays in Polish.
    page.get_by_role("button", name="Wyloguj się").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    assert page.get_by_role("heading", name="Zaloguj się").is_visible()
    assert page.locator("html").get_attribute("lang") == "pl"
    screenshot("logged-out")

    page.goto(f"{live_server.url}/settings/profile/")
    assert "/accounts/login/" in page.url
    assert failed_assets == []
    assert len(mailoutbox) == 1
