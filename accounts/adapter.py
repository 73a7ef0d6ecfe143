from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.contrib.sites.shortcuts import get_current_site
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from outbox.models import OutgoingMailKind
from outbox.services import outgoing_mail_create

from .models import Manager, is_valid_timezone


class AccountAdapter(DefaultAccountAdapter):
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

    def save_user(self, request: HttpRequest, user: Manager, form: Any, commit: bool = True) -> Manager:
        user = super().save_user(request, user, form, commit=False)
        user.name = form.cleaned_data.get("name", "").strip()
        tz = form.cleaned_data.get("timezone") or "UTC"
        user.timezone = tz if is_valid_timezone(tz) else "UTC"
        if commit:
            user.save()
        return user

    def pre_login(self, request: HttpRequest, user: Manager, **kwargs: Any) -> HttpResponse | None:
        # Every path into a session (password, confirmation link, reset) passes here.
        if getattr(user, "is_suspended", False):
            return render(
                request, "account/suspended.html", {"suspension_message": user.suspension_message}, status=403
            )
        return super().pre_login(request, user, **kwargs)
