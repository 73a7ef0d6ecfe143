from __future__ import annotations

import factory

from accounts.tests.factories import ManagerFactory
from inboxes.tests.factories import InboxFactory
from standby.models import StandbyItem, StandbyReason


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
