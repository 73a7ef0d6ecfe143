from __future__ import annotations

from typing import Any

from allauth.account import views as allauth_views
from allauth.account.forms import ChangePasswordForm
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from issuetracker.ratelimit import window_hit, window_unhit

from . import login_throttle
from .forms import ProfileForm, ResendVerificationForm, SuspendConfirmForm, SuspendMessageForm, SuspendPasswordForm
from .services import email_verification_resend, manager_suspend, manager_update_profile

_WIZARD_KEY = "suspend_wizard"
SUSPEND_PASSWORD_ATTEMPTS = 5
SUSPEND_PASSWORD_WINDOW_SECONDS = 15 * 60


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    manager = request.user
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            manager_update_profile(
                manager=manager,
                name=form.cleaned_data["name"],
                timezone_name=form.cleaned_data["timezone"],
                language=form.cleaned_data["language"],
                notification_mode=form.cleaned_data["notification_mode"],
            )
            messages.success(request, _("Your profile has been saved."))
            return redirect("accounts:profile")
    else:
        form = ProfileForm(
            initial={
                "name": manager.name,
                "timezone": manager.timezone,
                "language": manager.language,
                "notification_mode": manager.notification_mode,
            }
        )
    return render(request, "accounts/profile.html", {"form": form})


@login_required
def security(request: HttpRequest) -> HttpResponse:
    # The form posts to allauth's password change view, which validates and saves it.
    return render(request, "accounts/security.html", {"form": ChangePasswordForm(user=request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def suspend(request: HttpRequest) -> HttpResponse:
    """Self-suspension wizard (ACC-6): message, then password, then a final confirmation.

    The steps live in the session; each step re-checks the previous ones, so a POST that
    skips ahead lands back on the first missing step.
    """
    manager = request.user
    state: dict[str, object] = request.session.get(_WIZARD_KEY, {})
    step = request.POST.get("step") if request.method == "POST" else None

    if request.method == "GET":
        if request.GET.get("restart"):
            request.session.pop(_WIZARD_KEY, None)
            state = {}
        form = SuspendMessageForm(initial={"suspension_message": state.get("message", "")})
        return render(request, "accounts/suspend.html", {"step": "message", "form": form})

    if step == "message":
        form = SuspendMessageForm(request.POST)
        if not form.is_valid():
            return render(request, "accounts/suspend.html", {"step": "message", "form": form})
        request.session[_WIZARD_KEY] = {"message": form.cleaned_data["suspension_message"]}
        return render(
            request, "accounts/suspend.html", {"step": "password", "form": SuspendPasswordForm(manager=manager)}
        )

    if not state.get("message"):
        return redirect("accounts:suspend")

    if step == "password":
        # A stolen session must not become a password oracle: wrong passwords here are limited per
        # account, and the owner's right one is not counted.
        attempt = window_hit(f"suspend-password:{manager.pk}", SUSPEND_PASSWORD_WINDOW_SECONDS)
        form = SuspendPasswordForm(
            request.POST, manager=manager, too_many_attempts=attempt.count > SUSPEND_PASSWORD_ATTEMPTS
        )
        if not form.is_valid():
            return render(request, "accounts/suspend.html", {"step": "password", "form": form})
        window_unhit(attempt)
        request.session[_WIZARD_KEY] = {**state, "password_ok": True}
        return render(
            request,
            "accounts/suspend.html",
            {"step": "confirm", "form": SuspendConfirmForm(), "suspension_message": state["message"]},
        )

    if step == "confirm" and state.get("password_ok"):
        form = SuspendConfirmForm(request.POST)
        if not form.is_valid():
            return render(
                request,
                "accounts/suspend.html",
                {"step": "confirm", "form": form, "suspension_message": state["message"]},
            )
        manager_suspend(manager=manager, message=str(state["message"]))
        logout(request)
        return render(
            request, "account/suspended.html", {"suspension_message": state["message"], "just_suspended": True}
        )

    return redirect("accounts:suspend")


@require_http_methods(["GET", "POST"])
def resend_verification(request: HttpRequest) -> HttpResponse:
    """ACC-2: ask for a new verification link; the answer is the same whether or not we know the address."""
    if request.method == "POST":
        form = ResendVerificationForm(request.POST)
        if form.is_valid():
            email_verification_resend(request=request, email=form.cleaned_data["email"])
            messages.info(
                request,
                _("If an unverified account uses this address, a new verification link is on its way."),
            )
            return redirect("account_login")
    else:
        form = ResendVerificationForm()
    return render(request, "account/resend_verification.html", {"form": form})


class PasswordResetFromKeyView(allauth_views.PasswordResetFromKeyView):
    """allauth's "choose a new password" page, which also remembers the browser (OPS-5).

    Following the mailed link proves the mailbox, so this browser may log in even while
    guessers elsewhere use up the account's budget for unknown browsers.
    """

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        login_throttle.remember_device(request=self.request, response=response, login=self.reset_user.email)
        return response


password_reset_from_key = PasswordResetFromKeyView.as_view()
