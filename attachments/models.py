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


class Attachment(models.Model):
    """A file as it came with a report (``entry`` empty) or with a thread entry (ATT-1, ATT-2).

    The ticket is always set, so every download is scoped by one column; the name is kept as
    given (``display_name`` is what pages and headers show).
    """

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="attachments")
    entry = models.ForeignKey(
        "tickets.Entry", on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    stored_file = models.ForeignKey(StoredFile, on_delete=models.PROTECT, related_name="attachments")
    name = models.CharField(_("file name"), max_length=MAX_NAME_LENGTH)
    # As the sender declared it; the served type is decided at download time.
    content_type = models.CharField(_("type"), max_length=100, blank=True, default="")
    size = models.BigIntegerField(_("size"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return display_name(self.name)
