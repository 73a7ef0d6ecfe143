"""Factories for boards and their keywords, shared by every app's tests."""

from __future__ import annotations

import factory
from django.utils import timezone

from accounts.tests.factories import ManagerFactory
from boards.models import Board, ExternalPlatform, Keyword


class BoardFactory(factory.django.DjangoModelFactory):
    """`BoardFactory(keywords=["printer"])` adds subject keywords; traits `archived`, `jira`."""

    class Meta:
        model = Board
        django_get_or_create = ("unique_name",)
        skip_postgeneration_save = True

    manager = factory.SubFactory(ManagerFactory)
    name = factory.Sequence(lambda n: f"Board {n}")
    unique_name = factory.Sequence(lambda n: f"board-{n}")
    greeting = ""

    class Params:
        archived = factory.Trait(is_archived=True, archived_at=factory.LazyFunction(timezone.now))
        jira = factory.Trait(
            external_platform=ExternalPlatform.JIRA,
            external_config={"site_url": "https://example.atlassian.net", "project_key": "PRJ"},
        )

    @factory.post_generation
    def keywords(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        for text in extracted or []:
            Keyword.objects.create(manager=self.manager, board=self, text=text)


class KeywordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Keyword

    board = factory.SubFactory(BoardFactory)
    manager = factory.SelfAttribute("board.manager")
    text = factory.Sequence(lambda n: f"keyword{n}")
