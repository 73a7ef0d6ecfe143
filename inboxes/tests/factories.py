from __future__ import annotations

import factory

from accounts.tests.factories import ManagerFactory
from boards.models import Board, Keyword
from inboxes.models import Inbox, StandbyItem, StandbyReason

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


class BoardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Board
        skip_postgeneration_save = True

    manager = factory.SubFactory(ManagerFactory)
    name = factory.Sequence(lambda n: f"Board {n}")
    unique_name = factory.Sequence(lambda n: f"board-{n}")

    @factory.post_generation
    def keywords(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        for text in extracted or []:
            Keyword.objects.create(manager=self.manager, board=self, text=text)


class StandbyItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StandbyItem

    manager = factory.SubFactory(ManagerFactory)
    receiving_inbox = factory.SubFactory(InboxFactory, manager=factory.SelfAttribute("..manager"))
    subject = factory.Sequence(lambda n: f"Printer problem {n}")
    body = "The printer on the second floor is jammed."
    sender_email = factory.Sequence(lambda n: f"reporter{n}@example.org")
    sender_name = "Rita Reporter"
    message_id = factory.Sequence(lambda n: f"<standby-{n}@example.org>")
    reason = StandbyReason.NO_KEYWORD_MATCH
