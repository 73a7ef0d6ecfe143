"""The outbox (EML-3, EML-4) against a real SMTP server: sent once, failures visible, retryable."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from inboxes.tests.factories import InboxFactory, make_live_inbox
from outbox.models import OutgoingMail, OutgoingMailKind, OutgoingMailStatus
from outbox.sending import MAX_ATTEMPTS, TransientSendError, outgoing_mail_send
from outbox.services import outgoing_mail_create, outgoing_mail_retry
from outbox.tasks import send_stalled_mail

pytestmark = pytest.mark.django_db


def _mail(inbox, **fields):  # type: ignore[no-untyped-def]
    return outgoing_mail_create(
        kind=OutgoingMailKind.TICKET_CREATED,
        to_email="reporter@example.org",
        subject="We received your report",
        body="Thanks.",
        manager=inbox.manager if inbox else None,
        inbox=inbox,
        **fields,
    )


@pytest.fixture
def smtp_inbox(manager, imap_account, smtp_server):  # type: ignore[no-untyped-def]
    return make_live_inbox(manager=manager, account=imap_account, smtp=smtp_server)


def test_sent_through_the_inbox_server_with_our_headers(smtp_inbox, smtp_server):
    mail = _mail(smtp_inbox, in_reply_to="<orig@example.org>", references="<orig@example.org>")
    assert outgoing_mail_send(mail_id=mail.pk) == OutgoingMailStatus.SENT
    [received] = smtp_server.wait_for(1)
    message = received.message
    assert received.rcpt_tos == ("reporter@example.org",)
    assert message["From"] == smtp_inbox.from_address
    assert message["Message-ID"] == mail.message_id
    assert message["In-Reply-To"] == "<orig@example.org>"
    assert message["Auto-Submitted"] == "auto-generated"
    mail.refresh_from_db()
    assert (mail.status, mail.attempts, mail.sent_at is not None) == (OutgoingMailStatus.SENT, 1, True)


def test_a_second_delivery_of_the_task_sends_nothing(smtp_inbox, smtp_server):
    mail = _mail(smtp_inbox)
    outgoing_mail_send(mail_id=mail.pk)
    assert outgoing_mail_send(mail_id=mail.pk) is None
    assert len(smtp_server.wait_for(1)) == 1


def test_refused_recipient_fails_for_good_with_a_reason(smtp_inbox, smtp_server):
    smtp_server.reject_all = True
    mail = _mail(smtp_inbox)
    assert outgoing_mail_send(mail_id=mail.pk) == OutgoingMailStatus.FAILED
    mail.refresh_from_db()
    assert mail.status == OutgoingMailStatus.FAILED and "refused the recipient" in mail.last_error


def test_wrong_smtp_password_fails_with_plain_words(manager, imap_account, smtp_server):
    inbox = make_live_inbox(
        manager=manager, account=imap_account, smtp=smtp_server, passwords=(imap_account.password, "wrong")
    )
    mail = _mail(inbox)
    assert outgoing_mail_send(mail_id=mail.pk) == OutgoingMailStatus.FAILED
    mail.refresh_from_db()
    assert mail.last_error.startswith("SMTP: login refused by 127.0.0.1:")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_dead_server_is_retried_then_failed_and_a_person_can_retry(manager):
    inbox = InboxFactory(manager=manager, smtp_host="127.0.0.1", smtp_port=_closed_port(), smtp_use_starttls=False)
    mail = _mail(inbox)
    for _attempt in range(MAX_ATTEMPTS - 1):
        with pytest.raises(TransientSendError, match="connection refused"):
            outgoing_mail_send(mail_id=mail.pk)
    assert outgoing_mail_send(mail_id=mail.pk) == OutgoingMailStatus.FAILED
    mail.refresh_from_db()
    assert mail.attempts == MAX_ATTEMPTS and "connection refused" in mail.last_error
    assert outgoing_mail_retry(mail=mail) is True
    mail.refresh_from_db()
    assert (mail.status, mail.attempts) == (OutgoingMailStatus.PENDING, 0)


def test_undecryptable_password_fails_visibly_instead_of_staying_pending(smtp_inbox):
    type(smtp_inbox).objects.filter(pk=smtp_inbox.pk).update(
        smtp_password_encrypted="v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    )
    mail = _mail(smtp_inbox)
    assert outgoing_mail_send(mail_id=mail.pk) == OutgoingMailStatus.FAILED
    mail.refresh_from_db()
    assert "cannot be decrypted" in mail.last_error


def test_unexpected_error_fails_visibly(smtp_inbox, monkeypatch):
    from outbox import sending

    def explode(mail):  # type: ignore[no-untyped-def]
        raise ValueError("Header values may not contain linefeed or carriage return characters")

    monkeypatch.setattr(sending, "build_email_message", explode)
    mail = _mail(smtp_inbox)
    assert outgoing_mail_send(mail_id=mail.pk) == OutgoingMailStatus.FAILED
    mail.refresh_from_db()
    assert "ValueError" in mail.last_error


def test_the_drain_sends_lost_rows_and_fails_exhausted_ones_visibly(
    smtp_inbox, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        lost = _mail(smtp_inbox)
        exhausted = _mail(smtp_inbox)
    old = timezone.now() - timedelta(minutes=1)
    OutgoingMail.objects.filter(pk=lost.pk).update(next_attempt_at=old)
    # Its last allowed attempt died with the worker: the drain brings it back only to give up.
    OutgoingMail.objects.filter(pk=exhausted.pk).update(
        next_attempt_at=old, attempts=MAX_ATTEMPTS, last_error="SMTP: connection refused"
    )
    assert send_stalled_mail() == 2  # tasks run eagerly in tests
    lost.refresh_from_db()
    exhausted.refresh_from_db()
    assert lost.status == OutgoingMailStatus.SENT
    assert (exhausted.status, exhausted.last_error) == (OutgoingMailStatus.FAILED, "SMTP: connection refused")
    assert len(smtp_server.wait_for(1)) == 1
    assert send_stalled_mail() == 0


def test_smtp_host_inside_our_network_is_refused_at_send_time(smtp_inbox, smtp_server, settings):
    # Saved while allowed (or re-pointed in DNS since): the send refuses it, visibly.
    settings.INBOX_ALLOW_PRIVATE_HOSTS = False
    mail = _mail(smtp_inbox)
    assert outgoing_mail_send(mail_id=mail.pk) == OutgoingMailStatus.FAILED
    mail.refresh_from_db()
    assert "inside our own network" in mail.last_error
    assert smtp_server.received == []


def test_a_batch_of_mails_is_published_once_after_commit(
    smtp_inbox, smtp_server, monkeypatch, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from outbox import tasks
    from outbox.services import outgoing_mail_batch

    published: list[list[int]] = []
    monkeypatch.setattr(tasks.send_outgoing_mails, "apply_async", lambda args, **kw: published.append(list(args[0])))
    monkeypatch.setattr(tasks.send_outgoing_mail, "apply_async", lambda args, **kw: pytest.fail("sent one by one"))
    # The test runs inside a transaction, so publishing waits for its (captured) commit.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with outgoing_mail_batch():
            with transaction.atomic():
                first, second = _mail(smtp_inbox), _mail(smtp_inbox)
            with outgoing_mail_batch():  # nested: the outer block publishes
                third = _mail(smtp_inbox)
    assert published == []
    for callback in callbacks:
        callback()
    assert published == [[first.pk, second.pk, third.pk]]


def test_the_batch_task_sends_each_and_skips_rolled_back_ids(smtp_inbox, smtp_server):
    from outbox.tasks import send_outgoing_mails

    mail = _mail(smtp_inbox)
    send_outgoing_mails(mail_ids=[mail.pk, 999_999])  # 999999: a row whose transaction rolled back
    assert len(smtp_server.wait_for(1)) == 1
    mail.refresh_from_db()
    assert mail.status == OutgoingMailStatus.SENT


def test_the_task_retries_through_celery_until_the_rows_budget_is_spent(manager, django_capture_on_commit_callbacks):
    from outbox.tasks import send_outgoing_mail

    inbox = InboxFactory(manager=manager, smtp_host="127.0.0.1", smtp_port=_closed_port(), smtp_use_starttls=False)
    with django_capture_on_commit_callbacks(execute=False):
        mail = _mail(inbox)
    # Celery's own retry path (self.retry → the retry's signature is applied again), inline here.
    send_outgoing_mail.delay(mail.pk)
    mail.refresh_from_db()
    assert (mail.status, mail.attempts) == (OutgoingMailStatus.FAILED, MAX_ATTEMPTS)
    assert "connection refused" in mail.last_error


def test_a_4xx_answer_is_temporary_and_retried_through_celery_until_accepted(
    smtp_inbox, smtp_server, django_capture_on_commit_callbacks
):
    from outbox.tasks import send_outgoing_mail

    smtp_server.defer_next(2)  # greylisting: "451 try again later", twice
    with django_capture_on_commit_callbacks(execute=False):
        mail = _mail(smtp_inbox)
    send_outgoing_mail.delay(mail.pk)
    [received] = smtp_server.wait_for(1)
    mail.refresh_from_db()
    assert (mail.status, mail.attempts, mail.last_error) == (OutgoingMailStatus.SENT, 3, "")
    assert received.message["Message-ID"] == mail.message_id  # the same mail, not a new one


def test_a_4xx_answer_is_never_taken_as_permanent(smtp_inbox, smtp_server):
    smtp_server.defer_next(1)
    mail = _mail(smtp_inbox)
    with pytest.raises(TransientSendError, match="refused the recipient"):
        outgoing_mail_send(mail_id=mail.pk)
    mail.refresh_from_db()
    assert mail.status == OutgoingMailStatus.PENDING and mail.next_attempt_at > timezone.now()
    assert outgoing_mail_send(mail_id=mail.pk) == OutgoingMailStatus.SENT
