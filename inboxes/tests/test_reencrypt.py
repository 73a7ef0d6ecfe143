from __future__ import annotations

import base64
import os
from io import StringIO

import pytest
from django.core.management import call_command

from inboxes.models import Inbox

from .factories import InboxFactory

pytestmark = pytest.mark.django_db


def test_rotation_reencrypts_every_stored_secret(settings, manager):
    inbox = InboxFactory(manager=manager, passwords=("imap-pass", "smtp-pass"))
    old_key = settings.ENCRYPTION_KEY
    settings.ENCRYPTION_KEY = base64.b64encode(os.urandom(32)).decode()
    settings.ENCRYPTION_KEY_PREVIOUS = old_key
    out = StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert "Re-encrypted 2 secret(s)" in out.getvalue()

    # The old key is no longer needed.
    settings.ENCRYPTION_KEY_PREVIOUS = ""
    inbox = Inbox.objects.get(pk=inbox.pk)
    assert (inbox.get_imap_password(), inbox.get_smtp_password()) == ("imap-pass", "smtp-pass")
    out = StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert "Re-encrypted 0 secret(s)" in out.getvalue()
