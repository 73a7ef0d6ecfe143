from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from inboxes.models import Inbox

from .models import UNIQUE_NAME_MAX_LENGTH, Board, Keyword, unique_name_validator

_KEYWORD_SPLIT = re.compile(r"[,\n]")
_TRANSLITERATE = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss"})


def suggest_unique_name(name: str) -> str:
    """BRD-1: a free address derived from the board name."""
    # NFKD (inside slugify) has no decomposition for ł; without this "Żółta" would become "zota".
    base = slugify(name.translate(_TRANSLITERATE))[: UNIQUE_NAME_MAX_LENGTH - 4].strip("-") or "board"
    candidate, n = base, 2
    while Board.objects.filter(unique_name=candidate).exists():
        candidate, n = f"{base}-{n}", n + 1
    return candidate


class BoardForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    unique_name = forms.CharField(
        label=_("Public address"),
        max_length=UNIQUE_NAME_MAX_LENGTH,
        required=False,
        help_text=_(
            "Lowercase letters, digits and hyphens. The public form will be at /board/<address>. "
            "Leave empty to derive it from the name."
        ),
    )
    greeting = forms.CharField(
        label=_("Greeting message"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown above the public form."),
    )
    keywords = forms.CharField(
        label=_("Keywords"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "Comma or line separated. Email whose subject contains one of them (any case) lands on this board."
        ),
    )
    exclusive_inbox = forms.ModelChoiceField(
        label=_("Exclusive inbox"),
        queryset=Inbox.objects.none(),
        required=False,
        help_text=_("All email to this inbox goes to this board."),
    )

    def __init__(self, *args: Any, manager: Any, board: Board | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.manager = manager
        self.board = board
        taken = Board.objects.filter(manager=manager, exclusive_inbox__isnull=False)
        if board is not None:
            taken = taken.exclude(pk=board.pk)
        self.fields["exclusive_inbox"].queryset = Inbox.objects.filter(manager=manager).exclude(
            pk__in=taken.values("exclusive_inbox")
        )

    def clean_unique_name(self) -> str:
        value = self.cleaned_data["unique_name"].strip().lower()
        if not value:
            return ""
        unique_name_validator(value)
        clash = Board.objects.filter(unique_name=value)
        if self.board is not None:
            clash = clash.exclude(pk=self.board.pk)
        if clash.exists():
            raise ValidationError(_("The address “%(name)s” is taken. Try another one."), params={"name": value})
        return value

    def clean_keywords(self) -> list[str]:
        seen: dict[str, str] = {}
        for raw in _KEYWORD_SPLIT.split(self.cleaned_data["keywords"]):
            text = " ".join(raw.split())
            if not text:
                continue
            if len(text) > 100:
                raise ValidationError(_("A keyword can be at most 100 characters long."))
            seen.setdefault(text.lower(), text)
        if not seen:
            return []
        conflicts = Keyword.objects.filter(manager=self.manager).select_related("board")
        if self.board is not None:
            conflicts = conflicts.exclude(board=self.board)
        errors = [
            ValidationError(
                _("Keyword '%(keyword)s' is already used by board '%(board)s'"),
                params={"keyword": kw.text, "board": kw.board.name},
            )
            for kw in conflicts
            if kw.text.lower() in seen
        ]
        if errors:
            raise ValidationError(errors)
        return list(seen.values())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("unique_name") and cleaned.get("name") and "unique_name" not in self.errors:
            cleaned["unique_name"] = suggest_unique_name(cleaned["name"])
        return cleaned


class ConfirmForm(forms.Form):
    confirm = forms.BooleanField(label=_("Yes, I am sure"), required=True)
