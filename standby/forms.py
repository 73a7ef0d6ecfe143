from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from boards.models import Board


class StandbyAssignForm(forms.Form):
    board = forms.ModelChoiceField(label=_("Board"), queryset=Board.objects.none(), empty_label=None)

    def __init__(self, *args: Any, manager: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["board"].queryset = Board.objects.filter(manager=manager, is_archived=False).order_by("name")
