from __future__ import annotations

from typing import Any

from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import ResetPasswordForm as AllauthResetPasswordForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.account.models import EmailAddress
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .models import NotificationMode, is_valid_timezone, timezone_choices
from .services import email_verification_resend


class SignupForm(AllauthSignupForm):
    name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=150)
    # Filled by static/js/timezone.js from the browser; absent or unknown means UTC (ACC-1).
    timezone = forms.CharField(required=False, widget=forms.HiddenInput)

    field_order = ["name", "email", "password1", "timezone"]

    def clean_timezone(self) -> str:
        value = (self.cleaned_data.get("timezone") or "").strip()
        return value if is_valid_timezone(value) else "UTC"


class LoginForm(AllauthLoginForm):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        user = getattr(self, "user", None)
        # Told only after the password matched, so the message reveals nothing to a guesser.
        if user is not None and user.is_suspended:
            raise ValidationError(
                _("This account is suspended: %(message)s"),
                code="suspended",
                params={"message": user.suspension_message},
            )
        return cleaned


class ResetPasswordForm(AllauthResetPasswordForm):
    """A reset link goes only to an address its account has verified (OPS-5).

    allauth falls back to unverified addresses when no account has verified the one asked
    for; an address anybody could once attach to their account unverified would then mail its
    owner a link that resets the attacher's account. An account that has not verified its
    address yet gets a new verification link instead (nobody can reset an account they cannot
    log in to anyway); the page answers the same either way (ACC-4).
    """

    def clean_email(self) -> str:
        email = super().clean_email()
        self.users = [
            user
            for user in self.users
            if EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()
        ]
        return email

    def save(self, request: Any, **kwargs: Any) -> str:
        email = self.cleaned_data["email"]
        if not self.users and email_verification_resend(request=request, email=email):
            return email
        # A verified account gets its link; an unknown address allauth's "no such account" mail.
        return super().save(request, **kwargs)


def language_choices() -> list[tuple[str, str]]:
    return [("", _("Site default")), *settings.LANGUAGES]


class ProfileForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=150)
    timezone = forms.ChoiceField(label=_("Timezone"), choices=timezone_choices)
    language = forms.ChoiceField(
        label=_("Language of mail"),
        choices=language_choices,
        required=False,
        help_text=_(
            "The language of the mail we send you, and of the mail your inboxes send to reporters "
            "unless an inbox sets its own."
        ),
    )
    notification_mode = forms.ChoiceField(
        label=_("Mail me about new tickets, reporters' messages and failing inboxes"),
        choices=NotificationMode.choices,
        widget=forms.RadioSelect,
        help_text=_("A digest lists everything since the previous one. A failing inbox also shows on your pages."),
    )


class SuspendMessageForm(forms.Form):
    suspension_message = forms.CharField(
        label=_("Suspension message"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
        help_text=_("Shown on your public board forms and sent as an auto-reply to email reporters."),
    )

    def clean_suspension_message(self) -> str:
        message = self.cleaned_data["suspension_message"].strip()
        if not message:
            raise ValidationError(_("Write the message people will see."))
        return message


class SuspendPasswordForm(forms.Form):
    password = forms.CharField(label=_("Your password"), widget=forms.PasswordInput)

    def __init__(self, *args: Any, manager: Any, too_many_attempts: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.manager = manager
        self.too_many_attempts = too_many_attempts

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        # Checked before the password, so a refused attempt never tells whether the guess was right.
        if self.too_many_attempts:
            raise ValidationError(_("Too many wrong passwords. Try again in a few minutes."))
        if not self.manager.check_password(password):
            raise ValidationError(_("The password is not correct."))
        return password


class SuspendConfirmForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand that suspension is permanent and cannot be undone."), required=True
    )


class ResendVerificationForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
