"""THR-8 digests: nothing mailed at once, one mail per manager once their period has passed,
exactly once however often (or however concurrently) the beat task runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Manager, NotificationMode
from accounts.services import manager_update_profile
from notifications import services
from notifications.models import Notification, NotificationKind, digest_due
from notifications.services import DIGEST_MAX_ENTRIES, notification_digest_send, notify_inbox_failing
from notifications.tasks import send_notification_digests
from tickets.models import TicketSource
from tickets.services import ticket_create
from tickets.tests.factories import TicketFactory
from tickets.tests.races import Gate, paused_after, race

from .helpers import assert_no_secret, manager_ticket_link, notification_rows, sent_to

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def _set_mode(manager: Manager, mode: NotificationMode) -> None:
    manager.notification_mode = mode
    manager.save(update_fields=["notification_mode"])


def _report(board, title: str = "Printer jammed"):  # type: ignore[no-untyped-def]
    return ticket_create(
        board=board, title=title, description="Floor 2.", creator_email="rita@example.org", source=TicketSource.WEB
    )


def _age_pending(manager: Manager, by: timedelta) -> None:
    """Move time instead of sleeping: the waiting notifications were written ``by`` ago."""
    Notification.objects.filter(manager=manager, mailed_at__isnull=True).update(created_at=timezone.now() - by)


def _last_digest_was(manager: Manager, ago: timedelta) -> None:
    Manager.objects.filter(pk=manager.pk).update(notifications_digest_sent_at=timezone.now() - ago)


@pytest.mark.django_db
@pytest.mark.parametrize(("mode", "period"), [(NotificationMode.HOURLY, HOUR), (NotificationMode.DAILY, DAY)])
def test_a_digest_waits_for_its_period_then_goes_out_once(
    board, manager, inbox, mode, period, django_capture_on_commit_callbacks
):
    _set_mode(manager, mode)
    with django_capture_on_commit_callbacks(execute=True):
        first = _report(board, "Printer jammed")
        second = _report(board, "Scanner smokes")
        notify_inbox_failing(inbox=inbox, error="IMAP: login refused by imap.example.com.")
    assert notification_rows(manager) == [], "nothing is mailed at once in a digest mode"
    assert Notification.objects.filter(mailed_at__isnull=True).count() == 3

    assert send_notification_digests() == 0  # the period has not passed
    _age_pending(manager, period - timedelta(minutes=1))
    assert send_notification_digests() == 0
    _age_pending(manager, period + timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert send_notification_digests() == 1

    [sent] = sent_to(manager)
    assert sent.subject == "Digest: 2 new tickets, 1 inbox stopped working"
    for ticket in (first, second):
        assert manager_ticket_link(ticket) in sent.body and ticket.title in sent.body
        assert_no_secret(sent, ticket)
    assert f"http://testserver/settings/inboxes/{inbox.pk}/" in sent.body
    assert sent.body.index("Scanner smokes") < sent.body.index("Printer jammed"), "newest first"
    assert not Notification.objects.filter(mailed_at__isnull=True).exists()
    manager.refresh_from_db()
    assert manager.notifications_digest_sent_at is not None

    # The next one waits a full period after this digest, however old its notifications are.
    _report(board, "Fax fax fax")
    _age_pending(manager, 2 * period)
    assert send_notification_digests() == 0
    _last_digest_was(manager, period + timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert send_notification_digests() == 1
    assert [message.subject for message in sent_to(manager)][-1] == "Digest: 1 new ticket"


@pytest.mark.django_db
def test_running_the_digest_task_twice_sends_one_mail(board, manager, django_capture_on_commit_callbacks):
    _set_mode(manager, NotificationMode.HOURLY)
    _report(board)
    _age_pending(manager, 2 * HOUR)
    with django_capture_on_commit_callbacks(execute=True):
        send_notification_digests()
        send_notification_digests()
        assert notification_digest_send(manager_id=manager.pk) == 0
    assert len(notification_rows(manager)) == 1 and len(sent_to(manager)) == 1


@pytest.mark.django_db
def test_a_digest_lists_the_newest_hundred_and_counts_the_rest(board, manager):
    _set_mode(manager, NotificationMode.DAILY)
    ticket = TicketFactory(board=board, title="Busy ticket")
    start = timezone.now() - 2 * DAY
    Notification.objects.bulk_create(
        Notification(
            manager=manager,
            kind=NotificationKind.REPORTER_MESSAGE,
            ticket=ticket,
            sender_email="rita@example.org",
            text=f"Message number {number:03}",
            created_at=start + timedelta(minutes=number),
        )
        for number in range(DIGEST_MAX_ENTRIES + 5)
    )
    assert notification_digest_send(manager_id=manager.pk) == DIGEST_MAX_ENTRIES + 5
    [row] = notification_rows(manager)
    assert row.subject == "Digest: 105 messages from reporters"
    assert row.body.count(manager_ticket_link(ticket)) == DIGEST_MAX_ENTRIES
    assert "Message number 104" in row.body and "Message number 005" in row.body
    assert "Message number 004" not in row.body
    assert "… and 5 older notifications, not listed here." in row.body
    assert not Notification.objects.filter(mailed_at__isnull=True).exists()


@pytest.mark.django_db
def test_turning_mail_off_drops_what_waited_for_a_digest(board, manager):
    _set_mode(manager, NotificationMode.HOURLY)
    _report(board)
    manager_update_profile(
        manager=manager, name=manager.name, timezone_name="UTC", language="", notification_mode=NotificationMode.OFF
    )
    assert not Notification.objects.exists()
    _report(board)
    assert not Notification.objects.exists()
    assert send_notification_digests() == 0 and notification_rows(manager) == []


@pytest.mark.django_db
def test_leftovers_of_a_digest_mode_go_out_at_once_after_switching_to_each(board, manager):
    _set_mode(manager, NotificationMode.DAILY)
    _report(board)
    _set_mode(manager, NotificationMode.EACH)
    assert send_notification_digests() == 1
    assert [row.subject for row in notification_rows(manager)] == ["Digest: 1 new ticket"]


def test_when_a_digest_is_due():
    now = timezone.now()
    assert digest_due(mode=NotificationMode.HOURLY, sent_at=None, oldest_pending=now - HOUR, now=now)
    assert not digest_due(mode=NotificationMode.HOURLY, sent_at=None, oldest_pending=now - HOUR / 2, now=now)
    assert not digest_due(mode=NotificationMode.HOURLY, sent_at=now - HOUR / 2, oldest_pending=now - DAY, now=now)
    assert digest_due(mode=NotificationMode.DAILY, sent_at=now - DAY, oldest_pending=now, now=now)
    assert not digest_due(mode=NotificationMode.DAILY, sent_at=now - 23 * HOUR, oldest_pending=now - DAY, now=now)
    assert not digest_due(mode=NotificationMode.OFF, sent_at=None, oldest_pending=now - 10 * DAY, now=now)
    assert digest_due(mode=NotificationMode.EACH, sent_at=now, oldest_pending=now, now=now)


@pytest.mark.django_db(transaction=True)
def test_two_digest_runs_at_once_send_one_mail(board, manager, monkeypatch):
    _set_mode(manager, NotificationMode.HOURLY)
    _report(board)
    _report(board, "Second")
    _age_pending(manager, 2 * HOUR)
    gate = Gate()
    # The first run stops once it holds the manager's row and has decided the digest is due.
    monkeypatch.setattr(services, "digest_due", paused_after(gate, digest_due))

    def run():  # type: ignore[no-untyped-def]
        return lambda: notification_digest_send(manager_id=manager.pk)

    first, second = race(run(), run(), gate=gate)

    assert first.error is None and second.error is None, (first.error, second.error)
    assert (first.result, second.result) == (2, 0), "the second run waited for the first, then found it done"
    assert len(notification_rows(manager)) == 1
    assert len(sent_to(manager)) == 1
    assert not Notification.objects.filter(mailed_at__isnull=True).exists()
