from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone as django_timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


@cache
def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones()) if "/" in name or name == "UTC"]


def is_valid_timezone(name: str) -> bool:
    return name in zoneinfo.available_timezones()


class NotificationMode(models.TextChoices):
    """How a manager hears of new tickets, reporters' messages and failing inboxes (THR-8)."""

    EACH = "each", _("A mail for each event")
    HOURLY = "hourly", _("One digest mail an hour")
    DAILY = "daily", _("One digest mail a day")
    OFF = "off", _("No mail")


class ManagerQuerySet(models.QuerySet["Manager"]):
    def active(self) -> ManagerQuerySet:
        return self.filter(is_active=True, is_suspended=False)


class ManagerManager(BaseUserManager["Manager"]):
    def get_queryset(self) -> ManagerQuerySet:
        return ManagerQuerySet(self.model, using=self._db)

    def _create(self, email: str, password: str | None, **extra: Any) -> Manager:
        if not email:
            raise ValueError("A manager needs an email address.")
        manager = self.model(email=self.normalize_email(email).lower(), **extra)
        manager.set_password(password)
        manager.save(using=self._db)
        return manager

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> Manager:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> Manager:
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create(email, password, **extra)


class Manager(AbstractBaseUser, PermissionsMixin):
    """A person who owns boards, inboxes and a standby queue. Admins are managers with is_staff."""

    email = models.EmailField(_("email address"), unique=True)
    name = models.CharField(pgettext_lazy("person", "name"), max_length=150)
    timezone = models.CharField(_("timezone"), max_length=64, default="UTC")
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("staff status"), default=False)
    is_suspended = models.BooleanField(_("suspended"), default=False)
    suspension_message = models.TextField(_("suspension message"), blank=True)
    suspended_at = models.DateTimeField(_("suspended at"), null=True, blank=True)
    date_joined = models.DateTimeField(_("date joined"), default=django_timezone.now)
    ticket_page_size = models.PositiveSmallIntegerField(_("tickets per page"), default=25)
    # The language of mail to this manager, and of mail to reporters through their inboxes unless
    # an inbox sets its own (THR-9); empty: the site's default language.
    language = models.CharField(_("language"), max_length=10, blank=True, default="")
    notification_mode = models.CharField(
        _("notifications"), max_length=10, choices=NotificationMode.choices, default=NotificationMode.EACH
    )
    # When the last digest went out; the next one waits a full period after it.
    notifications_digest_sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ManagerManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        verbose_name = _("manager")
        verbose_name_plural = _("managers")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_suspended=False) | ~models.Q(suspension_message=""),
                name="manager_suspension_has_message",
            ),
            models.CheckConstraint(
                condition=models.Q(notification_mode__in=NotificationMode.values),
                name="manager_notification_mode_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(ticket_page_size__in=[10, 25, 50]),
                name="manager_ticket_page_size_allowed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email

    def get_full_name(self) -> str:
        return self.name

    def get_short_name(self) -> str:
        return self.name or self.email
