from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .models import Manager, is_valid_timezone
from .tasks import send_account_email


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        # ACC-8: render now (the request is needed for absolute links), send from a Celery task
        # once the transaction that created the key or the account has committed.
        ctx = {"email": email, **context}
        if "current_site" not in ctx:
            from django.contrib.sites.shortcuts import get_current_site

            ctx["current_site"] = get_current_site(self.request)
        message = self.render_mail(template_prefix, email, ctx)
        payload = {
            "subject": str(message.subject),
            "body": str(message.body),
            "from_email": str(message.from_email),
            "to": [str(addr) for addr in message.to],
        }
        transaction.on_commit(lambda: send_account_email.delay(**payload))

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
