"""The account pages under /accounts/: allauth's views, but only those the product uses (OPS-5).

Including ``allauth.urls`` would also route address management (``/accounts/email/``), where a
logged-in manager could attach any stranger's address to their own account; re-authentication,
password set, log-in codes and whatever a later allauth version adds. Nothing here is optional:
every route is a page a manager reaches from a template, a mail or a redirect of these views.
The names are allauth's, because allauth's views and the templates reverse them.
"""

from __future__ import annotations

from allauth.account import views as allauth_views
from django.urls import path, re_path

from . import views

urlpatterns = [
    path("signup/", allauth_views.signup, name="account_signup"),
    path("login/", allauth_views.login, name="account_login"),
    path("logout/", allauth_views.logout, name="account_logout"),
    # Where allauth sends a log-in whose account an admin deactivated (is_active=False).
    path("inactive/", allauth_views.account_inactive, name="account_inactive"),
    path("confirm-email/", allauth_views.email_verification_sent, name="account_email_verification_sent"),
    re_path(r"^confirm-email/(?P<key>[-:\w]+)/$", allauth_views.confirm_email, name="account_confirm_email"),
    path("verification/resend/", views.resend_verification, name="resend_verification"),
    path("password/change/", allauth_views.password_change, name="account_change_password"),
    path("password/reset/", allauth_views.password_reset, name="account_reset_password"),
    path("password/reset/done/", allauth_views.password_reset_done, name="account_reset_password_done"),
    re_path(
        r"^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$",
        views.password_reset_from_key,
        name="account_reset_password_from_key",
    ),
    path(
        "password/reset/key/done/",
        allauth_views.password_reset_from_key_done,
        name="account_reset_password_from_key_done",
    ),
]
