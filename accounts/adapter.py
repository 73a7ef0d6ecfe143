from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailConfirmation, EmailConfirmationHMAC
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site
from django.core.mail import EmailMessage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from issuetracker.ratelimit import client_ip
from outbox.models import OutgoingMailKind
from outbox.services import outgoing_mail_create

from . import login_throttle
from .models import Manager, is_valid_timezone


def site_link(path: str) -> str:
    """An absolute link to `path` on this installation: SITE_URL, never the request's Host (OPS-4).

    The Host header is the client's to choose, and ALLOWED_HOSTS ignores its port; a secret
    link built from it could point at any server.
    """
    return settings.SITE_URL + path


def _on_site_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme:
        return url
    return site_link(parts._replace(scheme="", netloc="").geturl())


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "too_many_login_attempts": _(
            "Too many failed log-ins. Try again in a few minutes, log in from a browser you have "
            "used before, or reset your password."
        ),
    }

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        # ACC-8, OPS-2, OPS-4: the mail is an outbox row written with the account or key, sent by
        # a task after commit (a broker that is down delays it, never loses it), and the task's
        # only argument is the row id, so the link inside never reaches a log. The body is
        # blanked once sent.
        ctx = {"email": email, **context}
        if "current_site" not in ctx:
            ctx["current_site"] = get_current_site(self.request)
        message = self.render_mail(template_prefix, email, ctx)
        for recipient in message.to:
            outgoing_mail_create(
                kind=OutgoingMailKind.ACCOUNT,
                to_email=str(recipient),
                subject=str(message.subject),
                body=str(message.body),
                from_email=str(message.from_email),
                manager=None,
                inbox=None,
            )

    # OPS-4: the hooks allauth offers for the links it mails, built from SITE_URL.

    def get_email_confirmation_url(
        self, request: HttpRequest, emailconfirmation: EmailConfirmation | EmailConfirmationHMAC
    ) -> str:
        return site_link(reverse("account_confirm_email", kwargs={"key": emailconfirmation.key}))

    def get_reset_password_from_key_url(self, key: str) -> str:
        # allauth hands over "<uidb36>-<token>" as one opaque key, as its own URL pattern takes it.
        path = reverse("account_reset_password_from_key", kwargs={"uidb36": "UID", "key": "KEY"})
        return site_link(path.replace("UID-KEY", quote(key)))

    def send_account_already_exists_mail(self, email: str) -> None:
        context = {
            "signup_url": site_link(reverse("account_signup")),
            "password_reset_url": site_link(reverse("account_reset_password")),
        }
        self.send_mail("account/email/account_already_exists", email, context)

    def render_mail(
        self,
        template_prefix: str,
        email: str | list[str],
        context: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> EmailMessage:
        # Some links allauth builds without a hook (the sign-up link of the "no such account"
        # mail). Every account mail is rendered here, so any link in its context that came
        # from the request is moved onto SITE_URL before it reaches the text.
        context = {
            name: _on_site_url(value) if name.endswith("_url") and isinstance(value, str) else value
            for name, value in context.items()
        }
        return super().render_mail(template_prefix, email, context, headers)

    def save_user(self, request: HttpRequest, user: Manager, form: Any, commit: bool = True) -> Manager:
        user = super().save_user(request, user, form, commit=False)
        user.name = form.cleaned_data.get("name", "").strip()
        tz = form.cleaned_data.get("timezone") or "UTC"
        user.timezone = tz if is_valid_timezone(tz) else "UTC"
        if commit:
            user.save()
        return user

    # OPS-5: failed log-ins are limited by accounts.login_throttle (allauth's own limit, which
    # anyone could use to lock an owner out, is switched off in settings).

    def authenticate(self, request: HttpRequest, **credentials: Any) -> Manager | None:
        attempt = login_throttle.login_attempt_begin(request=request, login=credentials.get("email") or "")
        if attempt is None:
            raise self.validation_error("too_many_login_attempts")
        user = super().authenticate(request, **credentials)
        if user is not None:
            login_throttle.login_attempt_succeeded(attempt)
        return user

    def post_login(self, request: HttpRequest, user: Manager, **kwargs: Any) -> HttpResponse:
        response = super().post_login(request, user, **kwargs)
        login_throttle.remember_device(request=request, response=response, login=user.email)
        return response

    def get_client_ip(self, request: HttpRequest) -> str:
        # allauth's per-IP limits (sign-up, reset requests) see the client behind a trusted
        # proxy as the rest of the project does, not the proxy's address for everybody.
        return client_ip(request)

    def pre_login(self, request: HttpRequest, user: Manager, **kwargs: Any) -> HttpResponse | None:
        # Every path into a session (password, confirmation link, reset) passes here.
        if getattr(user, "is_suspended", False):
            return render(
                request, "account/suspended.html", {"suspension_message": user.suspension_message}, status=403
            )
        return super().pre_login(request, user, **kwargs)
