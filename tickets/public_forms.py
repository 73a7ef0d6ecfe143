"""The public ticket form (PUB-1, PUB-3): validates and normalises, never saves."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from attachments.forms import MultipleFileField
from issuetracker.mailboxes import DomainLiteralError, normalised_mailbox

from .models import DESCRIPTION_MAX_LENGTH, REPLY_MAX_LENGTH, TITLE_MAX_LENGTH


class MultilineTextField(forms.CharField):
    """A textarea value with line breaks normalised to "\\n" before the length check.

    Browsers count a line break as one character against `maxlength` but submit it as
    "\\r\\n"; without this a description the browser accepted could fail here.
    """

    widget = forms.Textarea

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        return text.replace("\r\n", "\n").replace("\r", "\n")


class PublicTicketForm(forms.Form):
    # Honeypot: humans never see or reach this field (CSS moves it off screen, its wrapper is
    # aria-hidden, tabindex=-1 keeps it out of keyboard order, autocomplete=off keeps password
    # managers and autofill out of it); naive bots fill every input. A filled honeypot is not
    # an error shown to the sender: the view answers exactly as for a real report (redirect to
    # the thank-you page) but creates nothing and sends nothing, so a bot learns nothing.
    # Its name looks like a field a bot would want to fill.
    HONEYPOT_FIELD = "website"

    email = forms.EmailField(
        label=_("Your email address"),
        max_length=254,
        help_text=_("We send you the private link to your ticket and tell you when its state changes."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    title = forms.CharField(
        label=_("Title"),
        max_length=TITLE_MAX_LENGTH,
        help_text=_("A short summary of the problem."),
    )
    description = MultilineTextField(
        label=_("Description"),
        max_length=DESCRIPTION_MAX_LENGTH,
        help_text=_("What happened, where, and what you expected instead. Up to 6000 characters."),
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    files = MultipleFileField()
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    field_order = ["email", "title", "description", "files", "website"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        # Django accepts `someone@[192.0.2.1]`; we send nothing automatically to a server named
        # by its IP address (THR-6), and the reporter would never see their link.
        try:
            normalised_mailbox(email)
        except DomainLiteralError:
            raise ValidationError(
                _("Use an address with a domain name, not an IP address."), code="domain_literal"
            ) from None
        except ValueError:
            raise ValidationError(self.fields["email"].error_messages["invalid"], code="invalid") from None
        return email

    @property
    def is_bot(self) -> bool:
        """True when the honeypot was filled; only meaningful after is_valid()."""
        return bool(self.cleaned_data.get(self.HONEYPOT_FIELD))


class PublicMessageForm(forms.Form):
    """The reporter writes on their ticket's secret page (THR-4)."""

    body = MultilineTextField(
        label=_("Your message"),
        max_length=REPLY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    files = MultipleFileField()
