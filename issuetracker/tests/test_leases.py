"""The one claim helper (issuetracker.leases) that polls, mail sending and forwarding share."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from inboxes.models import Inbox
from inboxes.tests.factories import InboxFactory
from issuetracker.leases import Heartbeat, LeaseFields, LeaseLostError, lease_claim

FIELDS = LeaseFields(until="poll_lease_until", token="poll_lease_token")


def _claim(inbox: Inbox, duration: timedelta = timedelta(seconds=60)):  # type: ignore[no-untyped-def]
    return lease_claim(Inbox.objects.all(), pk=inbox.pk, fields=FIELDS, duration=duration)


@pytest.mark.django_db
def test_one_claim_at_a_time_until_it_runs_out_or_is_released(manager):
    inbox = InboxFactory(manager=manager)
    first = _claim(inbox)
    assert first is not None and _claim(inbox) is None
    # Run out: someone else may take it, and the first holder can neither renew nor release it.
    Inbox.objects.filter(pk=inbox.pk).update(poll_lease_until=timezone.now() - timedelta(seconds=1))
    second = _claim(inbox)
    assert second is not None and second.token != first.token
    assert first.renew(timedelta(seconds=60)) is False and first.release() is False
    assert second.release(last_error="") is True
    assert Inbox.objects.values_list("poll_lease_until", "poll_lease_token").get(pk=inbox.pk) == (None, "")
    assert _claim(inbox) is not None


@pytest.mark.django_db
def test_the_claim_counts_the_attempt(manager):
    from outbox.models import OutgoingMail
    from outbox.sending import LEASE_FIELDS
    from outbox.tests.factories import OutgoingMailFactory

    mail = OutgoingMailFactory()
    for attempt in (1, 2):
        claim = lease_claim(OutgoingMail.objects.all(), pk=mail.pk, fields=LEASE_FIELDS, duration=timedelta(minutes=1))
        assert claim is not None and claim.release()
        assert OutgoingMail.objects.get(pk=mail.pk).attempts == attempt


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_keeps_a_short_lease_alive_through_a_long_step(manager):
    inbox = InboxFactory(manager=manager)
    claim = _claim(inbox, duration=timedelta(seconds=1))
    assert claim is not None
    heartbeat = Heartbeat(
        claim,
        duration=timedelta(seconds=1),
        every=timedelta(seconds=0.2),
        renew_after=timedelta(hours=1),  # the working thread never renews: it is "blocked"
        max_hold=timedelta(minutes=1),
    )
    with heartbeat.running():
        time.sleep(2.5)  # a long IMAP FETCH: longer than the lease itself
        heartbeat.keep()  # still ours
        until = Inbox.objects.values_list("poll_lease_until", flat=True).get(pk=inbox.pk)
        assert until > timezone.now()
        assert _claim(inbox) is None


@pytest.mark.django_db(transaction=True)
def test_work_stuck_past_its_longest_hold_is_no_longer_renewed(manager):
    inbox = InboxFactory(manager=manager)
    claim = _claim(inbox, duration=timedelta(seconds=1))
    assert claim is not None
    heartbeat = Heartbeat(
        claim,
        duration=timedelta(seconds=1),
        every=timedelta(seconds=0.1),
        renew_after=timedelta(hours=1),
        max_hold=timedelta(seconds=0.3),
    )
    with heartbeat.running():
        time.sleep(1.6)
        with pytest.raises(LeaseLostError):
            heartbeat.keep()
    assert _claim(inbox) is not None  # another worker can take the inbox
