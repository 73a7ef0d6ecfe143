"""Finish a key rotation (INB-2): re-encrypt every stored secret under ENCRYPTION_KEY.

Rotate by setting the new key as ENCRYPTION_KEY and the old one as ENCRYPTION_KEY_PREVIOUS,
run this command, then drop ENCRYPTION_KEY_PREVIOUS.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from boards.models import Board
from inboxes.models import Inbox
from issuetracker import crypto

_FIELDS: list[tuple[type[Any], tuple[str, ...]]] = [
    (Inbox, ("imap_password_encrypted", "smtp_password_encrypted")),
    (Board, ("external_secrets",)),
]


class Command(BaseCommand):
    help = "Re-encrypt inbox passwords and platform tokens stored under ENCRYPTION_KEY_PREVIOUS."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        for model, fields in _FIELDS:
            for pk in model.objects.values_list("pk", flat=True).iterator():
                with transaction.atomic():
                    row = model.objects.select_for_update().get(pk=pk)
                    changed = [f for f in fields if crypto.needs_reencryption(getattr(row, f))]
                    for field in changed:
                        setattr(row, field, crypto.encrypt(crypto.decrypt(getattr(row, field))))
                    if changed:
                        row.save(update_fields=changed)
                        total += len(changed)
        self.stdout.write(f"Re-encrypted {total} secret(s) under the current ENCRYPTION_KEY.")
