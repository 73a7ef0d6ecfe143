"""ACC-5, ACC-6, ACC-7, ADM-1: profile, password change, self-suspension wizard, admin suspension."""

from __future__ import annotations

import datetime
import re
import zoneinfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Manager
from accounts.tests.factories import DEFAULT_PASSWORD, ManagerFactory

pytestmark = pytest.mark.django_db

PROFILE_URL = "/settings/profile/"
SECURITY_URL = "/settings/security/"
SUSPEND_URL = "/settings/suspend/"
LOGIN_URL = "/accounts/login/"
CHANGE_PASSWORD_URL = "/accounts/password/change/"


def _local_time_shown(html: str) -> str:
    match = re.search(r"Your local time: (\d{4}-\d{2}-\d{2} \d{2}:\d{2} [^\s<]+)", html)
    assert match, "the profile page shows no local time"
    return match.group(1)


# --- Profile --------------------------------------------------------------------------------


def test_profile_requires_login(client):
    response = client.get(PROFILE_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_profile_shows_current_values(manager_client, manager):
    response = manager_client.get(PROFILE_URL)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial == {"name": "Maria Manager", "timezone": "UTC", "language": "", "notification_mode": "each"}
    assert '<option value="Europe/Warsaw"' in response.content.decode()


def test_profile_update_name_and_timezone(manager_client, manager):
    response = manager_client.post(
        PROFILE_URL, {"name": "Maria Nowak", "timezone": "Europe/Warsaw", "notification_mode": "each"}, follow=True
    )
    assert response.redirect_chain == [(PROFILE_URL, 302)]
    assert "Your profile has been saved." in [str(m) for m in response.context["messages"]]
    manager.refresh_from_db()
    assert (manager.name, manager.timezone) == ("Maria Nowak", "Europe/Warsaw")


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "Europe/Atlantis"])
def test_invalid_timezone_is_an_inline_error(manager_client, manager, zone):
    response = manager_client.post(PROFILE_URL, {"name": "Maria", "timezone": zone, "notification_mode": "each"})
    assert response.status_code == 200
    assert response.context["form"].errors["timezone"]
    assert "is-invalid" in response.content.decode()
    manager.refresh_from_db()
    assert (manager.name, manager.timezone) == ("Maria Manager", "UTC")


def test_profile_name_is_required(manager_client, manager):
    response = manager_client.post(PROFILE_URL, {"name": "", "timezone": "UTC", "notification_mode": "each"})
    assert response.status_code == 200
    assert response.context["form"].errors["name"]


def test_profile_rejects_other_methods(manager_client):
    assert manager_client.put(PROFILE_URL).status_code == 405


@pytest.mark.parametrize("zone", ["UTC", "Europe/Warsaw", "America/New_York", "Asia/Kathmandu"])
def test_times_are_shown_in_the_managers_timezone(manager_client, manager, zone):
    manager_client.post(PROFILE_URL, {"name": manager.name, "timezone": zone, "notification_mode": "each"})
    before = timezone.now()
    shown = _local_time_shown(manager_client.get(PROFILE_URL).content.decode())
    after = timezone.now()
    expected = {
        timezone.localtime(moment, zoneinfo.ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z") for moment in (before, after)
    }
    assert shown in expected


def test_the_zone_is_only_active_inside_the_managers_request(manager_client, manager, client):
    Manager.objects.filter(pk=manager.pk).update(timezone="Asia/Tokyo")
    assert _local_time_shown(manager_client.get(PROFILE_URL).content.decode()).endswith("JST")
    # Stored values stay UTC and nothing leaks into code running outside the request.
    assert timezone.get_current_timezone_name() == "UTC"
    manager.refresh_from_db()
    assert manager.date_joined.tzinfo in (datetime.UTC, zoneinfo.ZoneInfo("UTC"))


# --- Password change --------------------------------------------------------------------------


def test_security_page_posts_to_allauths_change_endpoint(manager_client):
    response = manager_client.get(SECURITY_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'action="{CHANGE_PASSWORD_URL}"' in html
    for field in ("oldpassword", "password1", "password2"):
        assert f'name="{field}"' in html


def test_password_change_needs_the_current_password(manager_client, manager, client):
    wrong = manager_client.post(
        CHANGE_PASSWORD_URL, {"oldpassword": "not-it", "password1": "new-pass-123", "password2": "new-pass-123"}
    )
    assert wrong.status_code == 200
    assert wrong.context["form"].errors["oldpassword"]
    manager.refresh_from_db()
    assert manager.check_password(DEFAULT_PASSWORD)


def test_password_change_refuses_a_short_new_password(manager_client, manager):
    response = manager_client.post(
        CHANGE_PASSWORD_URL, {"oldpassword": DEFAULT_PASSWORD, "password1": "short", "password2": "short"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["password1"]


def test_password_change_with_current_and_new(manager_client, manager, client):
    response = manager_client.post(
        CHANGE_PASSWORD_URL,
        {"oldpassword": DEFAULT_PASSWORD, "password1": "new-pass-123", "password2": "new-pass-123"},
    )
    assert response.status_code == 302
    manager.refresh_from_db()
    assert manager.check_password("new-pass-123")
    # Still logged in on this device (ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE is off).
    assert manager_client.get(PROFILE_URL).status_code == 200
    manager_client.post("/accounts/logout/")
    assert manager_client.post(LOGIN_URL, {"login": manager.email, "password": "new-pass-123"}).status_code == 302


# --- Self-suspension wizard -------------------------------------------------------------------


def _step(client, step: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(SUSPEND_URL, {"step": step, **data})


def test_suspend_wizard_full_path(manager_client, manager, client):
    first = manager_client.get(SUSPEND_URL)
    assert first.status_code == 200
    assert first.context["step"] == "message"

    second = _step(manager_client, "message", suspension_message="  We closed the project. Write to ops@example.com  ")
    assert second.status_code == 200
    assert second.context["step"] == "password"

    third = _step(manager_client, "password", password=DEFAULT_PASSWORD)
    assert third.context["step"] == "confirm"
    assert "We closed the project. Write to ops@example.com" in third.content.decode()
    manager.refresh_from_db()
    assert not manager.is_suspended  # nothing happens before the final confirmation

    done = _step(manager_client, "confirm", confirm="on")
    assert done.status_code == 200
    html = done.content.decode()
    assert "Your account is now suspended. You have been logged out." in html
    assert "We closed the project. Write to ops@example.com" in html

    manager.refresh_from_db()
    assert manager.is_suspended
    assert manager.suspension_message == "We closed the project. Write to ops@example.com"
    assert manager.suspended_at is not None
    assert "_auth_user_id" not in manager_client.session
    assert manager_client.get(PROFILE_URL).status_code == 302

    login = manager_client.post(LOGIN_URL, {"login": manager.email, "password": DEFAULT_PASSWORD})
    assert "_auth_user_id" not in manager_client.session
    assert "This account is suspended: We closed the project. Write to ops@example.com" in login.content.decode()


@pytest.mark.parametrize("message", ["", "   \n  "])
def test_suspend_wizard_requires_a_message(manager_client, manager, message):
    response = _step(manager_client, "message", suspension_message=message)
    assert response.status_code == 200
    assert response.context["step"] == "message"
    assert response.context["form"].errors["suspension_message"]


def test_suspend_wizard_rejects_a_wrong_password(manager_client, manager):
    _step(manager_client, "message", suspension_message="Bye")
    response = _step(manager_client, "password", password="not-my-password")
    assert response.context["step"] == "password"
    assert "The password is not correct." in response.content.decode()
    # A wrong password does not open the last step.
    skipped = _step(manager_client, "confirm", confirm="on")
    assert skipped.status_code == 302
    manager.refresh_from_db()
    assert not manager.is_suspended


def test_suspend_wizard_password_is_not_a_password_oracle(manager_client, manager, other_manager):
    """A stolen session cannot guess the password at the wizard's password step: after five wrong
    passwords even the right one is refused for a while, with the same answer, and the owner's
    earlier right answers were never counted. Another account is not affected."""
    from django.test import Client

    from accounts.views import SUSPEND_PASSWORD_ATTEMPTS

    other_client = Client()
    other_client.force_login(other_manager)
    _step(manager_client, "message", suspension_message="Bye")
    for _ in range(2):
        assert _step(manager_client, "password", password=DEFAULT_PASSWORD).context["step"] == "confirm"
    for _ in range(SUSPEND_PASSWORD_ATTEMPTS):
        wrong = _step(manager_client, "password", password="a-guess")
        assert wrong.context["step"] == "password" and "The password is not correct." in wrong.content.decode()
    refused = _step(manager_client, "password", password=DEFAULT_PASSWORD)
    assert refused.context["step"] == "password"
    assert "Too many wrong passwords" in refused.content.decode()
    _step(other_client, "message", suspension_message="Bye")
    assert _step(other_client, "password", password=DEFAULT_PASSWORD).context["step"] == "confirm"
    manager.refresh_from_db()
    assert not manager.is_suspended


def test_suspend_wizard_requires_the_confirmation_box(manager_client, manager):
    _step(manager_client, "message", suspension_message="Bye")
    _step(manager_client, "password", password=DEFAULT_PASSWORD)
    response = _step(manager_client, "confirm")
    assert response.status_code == 200
    assert response.context["step"] == "confirm"
    assert response.context["form"].errors["confirm"]
    manager.refresh_from_db()
    assert not manager.is_suspended


@pytest.mark.parametrize(
    "steps",
    [
        [("confirm", {"confirm": "on"})],
        [("password", {"password": DEFAULT_PASSWORD}), ("confirm", {"confirm": "on"})],
        [("message", {"suspension_message": "Bye"}), ("confirm", {"confirm": "on"})],
        [("bogus", {})],
    ],
    ids=["confirm-only", "password-then-confirm", "message-then-confirm", "unknown-step"],
)
def test_skipping_steps_lands_back_at_the_start(manager_client, manager, steps):
    response = None
    for step, data in steps:
        response = _step(manager_client, step, **data)
    assert response is not None
    assert response.status_code == 302
    assert response["Location"] == SUSPEND_URL
    manager.refresh_from_db()
    assert not manager.is_suspended
    assert manager_client.get(PROFILE_URL).status_code == 200


def test_restarting_the_wizard_forgets_the_earlier_steps(manager_client, manager):
    _step(manager_client, "message", suspension_message="Bye")
    _step(manager_client, "password", password=DEFAULT_PASSWORD)
    manager_client.get(SUSPEND_URL + "?restart=1")
    assert _step(manager_client, "confirm", confirm="on").status_code == 302
    manager.refresh_from_db()
    assert not manager.is_suspended


def test_suspend_wizard_requires_login(client):
    response = client.post(SUSPEND_URL, {"step": "message", "suspension_message": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_the_wizard_of_one_manager_does_not_suspend_another(manager_client, manager, other_manager):
    _step(manager_client, "message", suspension_message="Bye")
    _step(manager_client, "password", password=DEFAULT_PASSWORD)
    _step(manager_client, "confirm", confirm="on")
    other_manager.refresh_from_db()
    assert not other_manager.is_suspended


# --- Admin ------------------------------------------------------------------------------------


@pytest.fixture
def admin_client_(client, db):  # type: ignore[no-untyped-def]
    admin = ManagerFactory(email="admin@example.com", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


ADMIN_CHANGELIST = "/admin/accounts/manager/"


def test_admin_action_asks_for_a_message_then_suspends(admin_client_, manager, other_manager):
    selection = {"action": "suspend_managers", "_selected_action": [manager.pk]}
    ask = admin_client_.post(ADMIN_CHANGELIST, selection)
    assert ask.status_code == 200
    assert "suspension_message" in ask.content.decode()

    missing = admin_client_.post(ADMIN_CHANGELIST, {**selection, "apply": "Suspend", "suspension_message": "  "})
    assert missing.status_code == 200
    assert missing.context["form"].errors["suspension_message"]
    manager.refresh_from_db()
    assert not manager.is_suspended

    done = admin_client_.post(
        ADMIN_CHANGELIST,
        {**selection, "apply": "Suspend", "suspension_message": "Terms of service violation"},
        follow=True,
    )
    assert done.status_code == 200
    assert "1 manager suspended." in [str(m) for m in done.context["messages"]]
    manager.refresh_from_db()
    other_manager.refresh_from_db()
    assert manager.is_suspended
    assert manager.suspension_message == "Terms of service violation"
    assert manager.suspended_at is not None
    assert not other_manager.is_suspended


def test_admin_suspension_logs_out_a_live_session_on_the_next_request(admin_client_, manager):
    live = Client()
    live.force_login(manager)
    assert live.get(PROFILE_URL).status_code == 200

    admin_client_.post(
        ADMIN_CHANGELIST,
        {
            "action": "suspend_managers",
            "_selected_action": [manager.pk],
            "apply": "Suspend",
            "suspension_message": "Bye",
        },
    )

    response = live.get(PROFILE_URL, follow=True)
    assert response.redirect_chain[0] == (reverse("account_login"), 302)
    assert "This account is suspended: Bye" in response.content.decode()
    assert "_auth_user_id" not in live.session
    # And the session stays gone.
    assert live.get(PROFILE_URL).status_code == 302


def test_admin_managers_list_searches_and_filters(admin_client_, manager, other_manager):
    found = admin_client_.get(ADMIN_CHANGELIST, {"q": "Oscar"})
    assert found.status_code == 200
    assert list(found.context["cl"].result_list) == [other_manager]
    ManagerFactory(email="gone@example.com", is_suspended=True, suspension_message="x")
    suspended = admin_client_.get(ADMIN_CHANGELIST, {"is_suspended__exact": "1"})
    assert [m.email for m in suspended.context["cl"].result_list] == ["gone@example.com"]


def test_accounts_cannot_be_deleted_in_the_admin(admin_client_, manager):
    assert admin_client_.get(f"{ADMIN_CHANGELIST}{manager.pk}/delete/").status_code == 403
    assert admin_client_.post(f"{ADMIN_CHANGELIST}{manager.pk}/delete/", {"post": "yes"}).status_code == 403
    changelist = admin_client_.get(ADMIN_CHANGELIST)
    assert "delete_selected" not in changelist.content.decode()
    change = admin_client_.get(f"{ADMIN_CHANGELIST}{manager.pk}/change/")
    assert change.status_code == 200
    assert "deletelink" not in change.content.decode()
    assert Manager.objects.filter(pk=manager.pk).exists()


def test_admin_cannot_unsuspend_through_the_change_form(admin_client_):
    gone = ManagerFactory(email="gone@example.com", is_suspended=True, suspension_message="Bye")
    change = admin_client_.get(f"{ADMIN_CHANGELIST}{gone.pk}/change/")
    assert 'name="is_suspended"' not in change.content.decode()
