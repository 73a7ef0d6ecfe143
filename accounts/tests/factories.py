from __future__ import annotations

import factory
from allauth.account.models import EmailAddress

from accounts.models import Manager

DEFAULT_PASSWORD = "correct-horse-42"


class ManagerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Manager
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"manager{n}@example.com")
    name = factory.Faker("name")
    timezone = "UTC"
    password = factory.django.Password(DEFAULT_PASSWORD)

    @factory.post_generation
    def verified(self, create: bool, extracted: bool | None, **kwargs: object) -> None:
        # Like a real sign-up, every manager has an EmailAddress row; verified=False leaves it
        # waiting for its confirmation link.
        if create:
            EmailAddress.objects.get_or_create(
                user=self, email=self.email, defaults={"verified": extracted is not False, "primary": True}
            )
