from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class StandbyReason(models.TextChoices):
    NO_KEYWORD_MATCH = "no_keyword_match", _("No keyword matched the subject")
    EXTERNAL_CREATION_FAILED = "external_creation_failed", _("Creation on the external platform failed")
    NO_BOARD_MATCH = "no_board_match", _("No board can take this message")


class StandbyItemQuerySet(models.QuerySet["StandbyItem"]):
    def for_manager(self, manager: settings.AUTH_USER_MODEL) -> StandbyItemQuerySet:
        return self.filter(manager=manager)


class StandbyItem(models.Model):
    """A report that could not be placed on a board automatically (SBQ-1)."""

    manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="standby_items")
    receiving_inbox = models.ForeignKey(
        "inboxes.Inbox",
        verbose_name=_("receiving inbox"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="standby_items",
    )
    processed_email = models.ForeignKey(
        "inboxes.ProcessedEmail", on_delete=models.SET_NULL, null=True, blank=True, related_name="standby_items"
    )
    subject = models.CharField(_("subject"), max_length=998, blank=True)
    body = models.TextField(_("body"), blank=True)
    sender_email = models.EmailField(_("sender"), max_length=320)
    sender_name = models.CharField(_("sender name"), max_length=255, blank=True)
    message_id = models.CharField(max_length=998, blank=True, default="")
    references = models.TextField(blank=True, default="")
    # Why a reply to this sender must never be automatic (ING-7); empty for a person's mail.
    auto_generated_reason = models.CharField(max_length=40, blank=True, default="")
    reason = models.CharField(_("reason"), max_length=30, choices=StandbyReason.choices)
    original_board = models.ForeignKey(
        "boards.Board",
        verbose_name=_("original board"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    retry_count = models.PositiveIntegerField(_("retries"), default=0)
    # EXT-3: the stub created for the report on a forwarding board, so a retry or an assignment
    # keeps the uuid the reporter's secret link already points at.
    ticket = models.ForeignKey(
        "tickets.Ticket",
        verbose_name=_("ticket stub"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="standby_items",
    )
    # Why the last attempt on the external platform failed, in words for the manager.
    external_error = models.TextField(_("last error"), blank=True, default="")
    created_at = models.DateTimeField(_("received at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = StandbyItemQuerySet.as_manager()

    class Meta:
        verbose_name = _("standby item")
        verbose_name_plural = _("standby items")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reason__in=StandbyReason.values), name="standbyitem_reason_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["manager", "-created_at", "-id"], name="standbyitem_manager_created"),
            # Follow-ups find the item their mail answers (THR-4).
            models.Index(fields=["message_id"], condition=~models.Q(message_id=""), name="standbyitem_message_id"),
        ]

    def __str__(self) -> str:
        return self.subject or str(_("(no subject)"))

    @property
    def title(self) -> str:
        return self.subject.strip()[:255] or str(_("(no subject)"))


class StandbyFollowUp(models.Model):
    """A later mail of the same conversation, while the item waits in the queue (THR-4).

    It travels with the item: assigning the item makes each follow-up a reporter message on the
    ticket, in the order they came; discarding the item discards them (the raw mail stays on the
    inbox page).
    """

    item = models.ForeignKey(StandbyItem, on_delete=models.CASCADE, related_name="follow_ups")
    processed_email = models.ForeignKey(
        "inboxes.ProcessedEmail", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sender_email = models.EmailField(_("sender"), max_length=320)
    body = models.TextField(_("body"), blank=True)
    message_id = models.CharField(max_length=998, blank=True, default="")
    created_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["item", "created_at"], name="standbyfollowup_item_created"),
            models.Index(fields=["message_id"], condition=~models.Q(message_id=""), name="standbyfollowup_message_id"),
        ]

    def __str__(self) -> str:
        return f"{self.sender_email}: {self.body[:40]}"
