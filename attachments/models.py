from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .files import MAX_NAME_LENGTH, display_name


class StoredFile(models.Model):
    """One file's bytes, once, however many attachments name it (ATT-4): content-addressed by
    SHA-256 in Django's default storage. Removed once nothing refers to it (services)."""

    sha256 = models.CharField(max_length=64, unique=True)
    size = models.BigIntegerField(_("size"))
    # What the first bytes prove (attachments.files.sniff_content_type), "" when nothing.
    content_type = models.CharField(max_length=100, blank=True, default="")
    storage_name = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Touched, under a row lock, by every upload that reuses the file: orphan removal leaves
    # recently used files alone, so an upload whose attachment is not committed yet keeps it.
    last_used_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("stored file")
        verbose_name_plural = _("stored files")
        indexes = [models.Index(fields=["last_used_at"], name="storedfile_last_used")]

    def __str__(self) -> str:
        return self.sha256


class NotKeptReason(models.TextChoices):
    """Why a file of a mail was listed but not kept (ATT-2); values of inboxes.parsing.PartRefusal."""

    UNREADABLE = "unreadable", _("it could not be decoded")
    FILE_TOO_LARGE = "file_too_large", _("larger than the limit per file")
    TOO_MANY_FILES = "too_many_files", _("more files than the limit")
    TOTAL_TOO_LARGE = "total_too_large", _("over the limit for all files of a message")


class Attachment(models.Model):
    """A file as it came with a report (``entry`` empty) or with a thread entry (ATT-1, ATT-2), or
    with a mail waiting in the standby queue (its item or one of its follow-ups).

    Exactly one owner is set (ticket, standby item or follow-up), so every download is scoped by
    one column; assigning a standby item moves its rows onto the ticket. A mail's file over a
    limit is a row too, without bytes (``stored_file`` empty, ``not_kept_reason`` set): it is
    listed where the kept files are and travels with them. The name is kept as given
    (``display_name`` is what pages and headers show).
    """

    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    entry = models.ForeignKey(
        "tickets.Entry", on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    standby_item = models.ForeignKey(
        "standby.StandbyItem", on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    standby_follow_up = models.ForeignKey(
        "standby.StandbyFollowUp", on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    stored_file = models.ForeignKey(
        StoredFile, on_delete=models.PROTECT, null=True, blank=True, related_name="attachments"
    )
    not_kept_reason = models.CharField(max_length=20, blank=True, default="", choices=NotKeptReason.choices)
    name = models.CharField(_("file name"), max_length=MAX_NAME_LENGTH)
    # As the sender declared it; the served type is decided at download time.
    content_type = models.CharField(_("type"), max_length=100, blank=True, default="")
    size = models.BigIntegerField(_("size"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(ticket__isnull=False, standby_item__isnull=True, standby_follow_up__isnull=True)
                    | models.Q(ticket__isnull=True, standby_item__isnull=False, standby_follow_up__isnull=True)
                    | models.Q(ticket__isnull=True, standby_item__isnull=True, standby_follow_up__isnull=False)
                ),
                name="attachment_one_owner",
            ),
            models.CheckConstraint(
                condition=models.Q(entry__isnull=True) | models.Q(ticket__isnull=False),
                name="attachment_entry_on_ticket",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(stored_file__isnull=False, not_kept_reason="")
                    | (models.Q(stored_file__isnull=True) & ~models.Q(not_kept_reason=""))
                ),
                name="attachment_kept_or_why_not",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def kept(self) -> bool:
        return self.stored_file_id is not None

    @property
    def display_name(self) -> str:
        return display_name(self.name)
