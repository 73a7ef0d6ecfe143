from __future__ import annotations

from typing import Any

import factory

from accounts.tests.factories import ManagerFactory
from inboxes.models import Inbox

DEFAULT_IMAP_PASSWORD = "imap-secret-1"
DEFAULT_SMTP_PASSWORD = "smtp-secret-1"


class InboxFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Inbox
        skip_postgeneration_save = True

    manager = factory.SubFactory(ManagerFactory)
    name = factory.Sequence(lambda n: f"Support {n}")
    imap_host = "imap.example.com"
    imap_port = 993
    imap_username = factory.Sequence(lambda n: f"support{n}")
    smtp_host = "smtp.example.com"
    smtp_port = 587
    smtp_username = factory.Sequence(lambda n: f"support{n}")
    from_address = factory.Sequence(lambda n: f"support{n}@example.com")

    @factory.post_generation
    def passwords(self, create: bool, extracted: tuple[str, str] | None, **kwargs: object) -> None:
        imap_password, smtp_password = extracted or (DEFAULT_IMAP_PASSWORD, DEFAULT_SMTP_PASSWORD)
        self.set_imap_password(imap_password)
        self.set_smtp_password(smtp_password)
        if create:
            self.save(update_fields=["imap_password_encrypted", "smtp_password_encrypted"])


def make_live_inbox(*, manager: Any, account: Any, smtp: Any, **fields: object) -> Inbox:
    """An inbox pointed at the test Dovecot account and SMTP server (fixtures imap_account, smtp_server)."""
    defaults: dict[str, object] = {
        "name": "Live support",
        "from_address": f"{account.username}@tracker.example",
        "imap_host": account.host,
        "imap_port": account.port,
        "imap_username": account.username,
        "imap_use_ssl": False,
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "smtp_username": smtp.username or "",
        "smtp_use_starttls": False,
        "passwords": (account.password, smtp.password or ""),
    }
    defaults.update(fields)
    return InboxFactory(manager=manager, **defaults)
