from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

UNIQUE_NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
UNIQUE_NAME_MAX_LENGTH = 63

unique_name_validator = RegexValidator(
    UNIQUE_NAME_PATTERN,
    _("Use lowercase letters, digits and hyphens; start and end with a letter or digit."),
)


class ExternalPlatform(models.TextChoices):
    NONE = "", _("None (tickets stay here)")
    JIRA = "jira", _("Jira Cloud")
    TRELLO = "trello", _("Trello")


class Board(models.Model):
    manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="boards")
    name = models.CharField(_("name"), max_length=120)
    unique_name = models.CharField(
        _("public address"),
        max_length=UNIQUE_NAME_MAX_LENGTH,
        unique=True,
        validators=[unique_name_validator],
        help_text=_("The public form lives at /board/<this name>."),
    )
    greeting = models.TextField(_("greeting message"), blank=True, max_length=2000)
    exclusive_inbox = models.OneToOneField(
        "inboxes.Inbox",
        verbose_name=_("exclusive inbox"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="exclusive_board",
    )
    is_archived = models.BooleanField(_("archived"), default=False)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    # EXT-1: non-secret settings in external_config, secrets encrypted in external_secrets.
    external_platform = models.CharField(
        _("external platform"), max_length=10, choices=ExternalPlatform.choices, blank=True, default=""
    )
    external_config = models.JSONField(_("external platform settings"), default=dict, blank=True)
    external_secrets = models.TextField(_("external platform secrets (encrypted)"), blank=True, default="")

    # Ticket counts per state, kept by tickets.services in the transaction of each change, so
    # the board list and dashboard cost the same at 10 or 100,000 tickets.
    count_new = models.PositiveIntegerField(default=0, editable=False)
    count_in_progress = models.PositiveIntegerField(default=0, editable=False)
    count_closed = models.PositiveIntegerField(default=0, editable=False)
    count_rejected = models.PositiveIntegerField(default=0, editable=False)
    count_forwarded = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("board")
        verbose_name_plural = _("boards")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(unique_name__regex=UNIQUE_NAME_PATTERN), name="board_unique_name_format"
            ),
            models.CheckConstraint(
                condition=models.Q(is_archived=False) | models.Q(archived_at__isnull=False),
                name="board_archived_has_date",
            ),
        ]
        indexes = [models.Index(fields=["manager", "is_archived", "name"], name="board_manager_archived")]

    def __str__(self) -> str:
        return self.name

    @property
    def forwards_externally(self) -> bool:
        return bool(self.external_platform)

    @property
    def can_be_deleted(self) -> bool:
        """BRD-3: only with no tickets, or only rejected ones."""
        return self.count_new + self.count_in_progress + self.count_closed + self.count_forwarded == 0

    def count_for(self, state: str) -> int:
        return int(getattr(self, f"count_{state}"))


class Keyword(models.Model):
    """A subject keyword routing email to a board (BRD-2, ING-3)."""

    # Denormalised owner so the database itself enforces "one board per keyword per manager".
    manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="keywords")
    text = models.CharField(_("keyword"), max_length=100)

    class Meta:
        verbose_name = _("keyword")
        verbose_name_plural = _("keywords")
        ordering = ["text"]
        constraints = [
            models.UniqueConstraint(Lower("text"), "manager", name="keyword_unique_per_manager_ci"),
            models.CheckConstraint(condition=~models.Q(text=""), name="keyword_not_empty"),
        ]

    def __str__(self) -> str:
        return self.text
