from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.core import ratelimit
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from notifications.services import notifications_discard_pending

from .models import Manager, NotificationMode


def manager_update_profile(
    *, manager: Manager, name: str, timezone_name: str, language: str, notification_mode: NotificationMode
) -> Manager:
    with transaction.atomic():
        manager.name = name
        manager.timezone = timezone_name
        manager.language = language
        manager.notification_mode = notification_mode
        manager.save(update_fields=["name", "timezone", "language", "notification_mode"])
        if notification_mode == NotificationMode.OFF:
            # "No mail" holds for what was waiting for a digest too.
            notifications_discard_pending(manager=manager)
    return manager


def manager_suspend(*, manager: Manager, message: str) -> Manager:
    """Suspend for good (ACC-6, ACC-7). There is deliberately no reverse service."""
    with transaction.atomic():
        locked = Manager.objects.select_for_update().get(pk=manager.pk)
        if locked.is_suspended:
            return locked
        locked.is_suspended = True
        locked.suspension_message = message.strip()
        locked.suspended_at = timezone.now()
        locked.save(update_fields=["is_suspended", "suspension_message", "suspended_at"])
    manager.refresh_from_db()
    return manager


def manager_set_ticket_page_size(*, manager: Manager, page_size: int) -> None:
    if manager.ticket_page_size != page_size:
        manager.ticket_page_size = page_size
        manager.save(update_fields=["ticket_page_size"])


def email_verification_resend(*, request: HttpRequest, email: str) -> bool:
    """Mail a fresh verification link when an unverified account uses `email` (ACC-2).

    Only an account's own address qualifies (OPS-5): a row some account holds for another
    address, from before addresses could only come from sign-up, is never verified this way.
    Returns whether such an account exists, sent or held back by the limit; callers answer
    the person the same either way, so the page never tells whether the address is known.
    """
    email_address = (
        EmailAddress.objects.filter(email__iexact=email, verified=False, user__email__iexact=email)
        .select_related("user")
        .first()
    )
    # allauth's per-address limit (1 per 3 minutes) keeps this from being used to flood
    # someone's mailbox.
    if email_address is None:
        return False
    if ratelimit.consume(request, action="confirm_email", key=email_address.email.lower()):
        email_address.send_confirmation(request)
    return True
