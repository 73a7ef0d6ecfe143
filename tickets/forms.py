from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from attachments.forms import MultipleFileField

from .models import COMMENT_MAX_LENGTH, REPLY_MAX_LENGTH, Ticket, TicketState
from .selectors import PAGE_SIZES, SORT_FIELDS, TicketFilter


class TicketFilterForm(forms.Form):
    """TKT-4: every filter lives in the query string, so a filtered view can be bookmarked."""

    title = forms.CharField(label=_("Title contains"), required=False, max_length=255)
    description = forms.CharField(label=_("Description contains"), required=False, max_length=255)
    state = forms.MultipleChoiceField(
        label=_("State"), choices=TicketState.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    created_from = forms.DateField(
        label=_("Created from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(label=_("Created to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("created", _("Created")),
            ("title", _("Title")),
            ("state", _("State")),
            ("updated", _("Last state change")),
        ],
    )
    direction = forms.ChoiceField(
        label=_("Order"), required=False, choices=[("desc", _("Descending")), ("asc", _("Ascending"))]
    )
    page_size = forms.TypedChoiceField(
        label=_("Per page"), required=False, coerce=int, choices=[(n, str(n)) for n in PAGE_SIZES], empty_value=None
    )

    def clean(self) -> dict[str, object]:
        cleaned = super().clean()
        start, end = cleaned.get("created_from"), cleaned.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", _("The end date is before the start date."))
        return cleaned

    def to_filter(self) -> TicketFilter:
        data = self.cleaned_data if self.is_valid() else {}
        sort = data.get("sort") or "created"
        return TicketFilter(
            title=(data.get("title") or "").strip(),
            description=(data.get("description") or "").strip(),
            states=tuple(data.get("state") or ()),
            created_from=data.get("created_from"),
            created_to=data.get("created_to"),
            sort=sort if sort in SORT_FIELDS else "created",
            descending=(data.get("direction") or "desc") != "asc",
        )


class StateChangeForm(forms.Form):
    to_state = forms.ChoiceField(label=_("New state"), choices=TicketState.choices)
    comment = forms.CharField(
        label=_("Comment for the reporter (optional)"),
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class EntryForm(forms.Form):
    """The ticket page's composer (THR-2, THR-3): a reply or an internal note, optionally a move.

    ``to_state`` offers only the moves the ticket allows now, so a stale page cannot even submit
    a move it no longer allows; the service checks again under the row lock.
    """

    KIND_REPLY = "reply"
    KIND_NOTE = "note"

    kind = forms.ChoiceField(
        label=_("Type"),
        choices=[(KIND_REPLY, _("Reply to the reporter")), (KIND_NOTE, _("Internal note"))],
        initial=KIND_REPLY,
        widget=forms.RadioSelect,
    )
    body = forms.CharField(
        label=_("Message"),
        required=False,
        max_length=REPLY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    to_state = forms.ChoiceField(label=_("State"), required=False)
    # Mailed with a reply (ATT-3); a note's stay on the page.
    files = MultipleFileField()

    def __init__(self, *args: Any, ticket: Ticket, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        moves = ticket.allowed_next_states
        keep = ("", _("Keep “%(state)s”") % {"state": TicketState(ticket.state).label})
        self.fields["to_state"].choices = [keep] + [
            (state.value, _("Move to “%(state)s”") % {"state": state.label}) for state in moves
        ]
        if not moves:
            self.fields["to_state"].widget = forms.HiddenInput()

    def clean(self) -> dict[str, object]:
        cleaned = super().clean()
        has_text = bool((cleaned.get("body") or "").strip())
        if not has_text and not cleaned.get("to_state"):
            raise forms.ValidationError(_("Write a message or choose a new state."), code="empty")
        if not has_text and cleaned.get("files") and cleaned.get("kind") == self.KIND_NOTE:
            # A move alone makes no note, and files need an entry to belong to.
            self.add_error("body", _("Write a note for these files."))
        return cleaned

    @property
    def is_note(self) -> bool:
        return self.cleaned_data.get("kind") == self.KIND_NOTE
