"""THR-8, THR-9 in the profile: how the manager hears of events, and the language of mail."""

from __future__ import annotations

import re

import pytest

from accounts.models import NotificationMode

pytestmark = pytest.mark.django_db

PROFILE_URL = "/settings/profile/"


def _profile(**fields: str) -> dict[str, str]:
    return {"name": "Maria Manager", "timezone": "UTC", "language": "", "notification_mode": "each", **fields}


def test_the_profile_offers_every_mode_and_language(manager_client):
    html = manager_client.get(PROFILE_URL).content.decode()
    for mode in NotificationMode.values:
        assert f'value="{mode}"' in html
    assert '<option value="" selected>Site default</option>' in html
    assert '<option value="pl">Polish</option>' in html
    assert "mail your inboxes send to reporters" in html


def test_the_manager_chooses_a_digest_and_their_language(manager_client, manager):
    response = manager_client.post(PROFILE_URL, _profile(language="pl", notification_mode="daily"))
    assert response.status_code == 302
    manager.refresh_from_db()
    assert (manager.language, manager.notification_mode) == ("pl", NotificationMode.DAILY)
    html = manager_client.get(PROFILE_URL).content.decode()
    assert '<option value="pl" selected>' in html
    assert re.search(r'<input type="radio"[^>]*value="daily"[^>]*checked', html)


@pytest.mark.parametrize(("field", "value"), [("language", "xx"), ("notification_mode", "weekly")])
def test_unknown_choices_are_refused_inline(manager_client, manager, field, value):
    response = manager_client.post(PROFILE_URL, _profile(**{field: value}))
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    manager.refresh_from_db()
    assert (manager.language, manager.notification_mode) == ("", NotificationMode.EACH)
