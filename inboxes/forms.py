"""Inbox settings (INB-1, INB-2) and standby assignment forms. They validate; services save."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from boards.models import Board
from issuetracker.hosts import host_is_internal

from .models import Inbox, inbox_reporter_language, language_name
from .services import InboxFields

_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[[0-9A-Fa-f:.]+\]$")


class InboxForm(forms.ModelForm):
    # Never rendered back (INB-2): an empty field on an existing inbox keeps the stored password.
    imap_password = forms.CharField(
        label=_("IMAP password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    smtp_password = forms.CharField(
        label=_("SMTP password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    # Choices are set per manager: the empty one names the owner's language.
    language = forms.ChoiceField(
        label=_("Language of mail to reporters"),
        required=False,
        help_text=_("Confirmations and other mail to people who write to this inbox are in this language."),
    )
    exclusive_board = forms.ModelChoiceField(
        label=_("Exclusive board"),
        queryset=Board.objects.none(),
        required=False,
        empty_label=_("None: route by subject keywords"),
        help_text=_("Every message to this inbox becomes a ticket on this board."),
    )

    class Meta:
        model = Inbox
        fields = [
            "name",
            "from_address",
            "imap_host",
            "imap_port",
            "imap_use_ssl",
            "imap_username",
            "imap_password",
            "smtp_host",
            "smtp_port",
            "smtp_use_starttls",
            "smtp_username",
            "smtp_password",
            "poll_interval_minutes",
            "is_active",
            "exclusive_board",
            "language",
        ]
        help_texts = {
            "from_address": _("Answers to reporters are sent from this address."),
            "imap_use_ssl": _("Strongly recommended. Without it the password travels unencrypted."),
            "smtp_use_starttls": _("Port 465 always uses TLS; on other ports this asks for STARTTLS."),
        }

    def __init__(self, *args: Any, manager: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.manager = manager
        self.is_new = self.instance.pk is None
        boards = Board.objects.filter(manager=manager, is_archived=False).select_related("exclusive_inbox")
        self.fields["exclusive_board"].queryset = boards.order_by("name")
        self.fields["exclusive_board"].label_from_instance = self._board_label
        owners_language = inbox_reporter_language(inbox=None, manager=manager)
        self.fields["language"].choices = [
            ("", _("The owner's language (%(language)s)") % {"language": language_name(owners_language)}),
            *settings.LANGUAGES,
        ]
        if not self.is_new:
            self.fields["exclusive_board"].initial = Board.objects.filter(
                manager=manager, exclusive_inbox=self.instance
            ).first()
            for name in ("imap_password", "smtp_password"):
                self.fields[name].help_text = _("Leave empty to keep the stored password.")
        else:
            self.fields["imap_password"].required = True

    def _board_label(self, board: Board) -> str:
        other = board.exclusive_inbox
        if other is not None and other.pk != self.instance.pk:
            return _("%(board)s (exclusive to %(inbox)s)") % {"board": board.name, "inbox": other.name}
        return board.name

    def _clean_host(self, name: str) -> str:
        host = self.cleaned_data.get(name, "").strip()
        if host and not _HOST_RE.match(host):
            raise forms.ValidationError(_("Enter a host name such as imap.example.com, without a protocol or port."))
        if host and host_is_internal(host):
            raise forms.ValidationError(
                _(
                    "This address points inside the server's own network (a private, local or reserved "
                    "address), which inboxes may not use. Enter the public name of your mail server."
                )
            )
        return host

    def clean_imap_host(self) -> str:
        return self._clean_host("imap_host")

    def clean_smtp_host(self) -> str:
        return self._clean_host("smtp_host")

    def clean_from_address(self) -> str:
        return self.cleaned_data["from_address"].strip().lower()

    def clean_exclusive_board(self) -> Board | None:
        board = self.cleaned_data.get("exclusive_board")
        if board is not None and board.exclusive_inbox_id not in (None, self.instance.pk):
            raise forms.ValidationError(
                _("Board “%(board)s” already has the exclusive inbox “%(inbox)s”.")
                % {"board": board.name, "inbox": board.exclusive_inbox.name}
            )
        return board

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        needs_smtp_password = self.is_new or not self.instance.smtp_password_encrypted
        if cleaned.get("smtp_username") and not cleaned.get("smtp_password") and needs_smtp_password:
            self.add_error("smtp_password", _("Enter the password for the SMTP username."))
        elif cleaned.get("smtp_username"):
            self._require_password_for_another_server("smtp")
        self._require_password_for_another_server("imap")
        return cleaned

    def _require_password_for_another_server(self, protocol: str) -> None:
        """An empty password means "the stored one"; it must not go to a server it was not typed for."""
        if self.is_new or self.cleaned_data.get(f"{protocol}_password"):
            return
        moved = any(
            name in self.cleaned_data
            and str(self.cleaned_data[name]).lower() != str(self.initial.get(name, "")).lower()
            for name in (f"{protocol}_host", f"{protocol}_username")
        )
        if moved:
            self.add_error(
                f"{protocol}_password",
                _("The server or username changed: enter the password again, so the stored one is not sent elsewhere."),
            )

    def to_fields(self) -> InboxFields:
        data = self.cleaned_data
        return InboxFields(
            name=data["name"],
            imap_host=data["imap_host"],
            imap_port=data["imap_port"],
            imap_username=data["imap_username"],
            imap_use_ssl=data["imap_use_ssl"],
            smtp_host=data["smtp_host"],
            smtp_port=data["smtp_port"],
            smtp_username=data["smtp_username"],
            smtp_use_starttls=data["smtp_use_starttls"],
            from_address=data["from_address"],
            poll_interval_minutes=data["poll_interval_minutes"],
            is_active=data["is_active"],
            exclusive_board=data.get("exclusive_board"),
            language=data.get("language", ""),
            imap_password=data.get("imap_password") or None,
            smtp_password=data.get("smtp_password") or None,
        )
