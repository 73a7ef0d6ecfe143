"""The whole real-world corpus through a real Dovecot mailbox in one poll: how each case ends up."""

from __future__ import annotations

import pytest

from boards.tests.factories import BoardFactory
from inboxes.models import ProcessedEmail, ProcessedEmailStatus
from inboxes.polling import inbox_poll
from outbox.models import OutgoingMail, OutgoingMailKind, OutgoingMailStatus
from tickets.models import Ticket

from .mails import EML_DIR

pytestmark = [pytest.mark.mailserver, pytest.mark.django_db]

TICKET, FAILED = ProcessedEmailStatus.TICKET, ProcessedEmailStatus.FAILED
SENT, HELD = OutgoingMailStatus.PENDING, OutgoingMailStatus.SUPPRESSED

# file → (outcome, confirmation, expected title or None)
EXPECTED = {
    "attachment_only.eml": (TICKET, SENT, None),
    "auto_reply.eml": (TICKET, HELD, None),  # ING-7: Auto-Submitted
    "base64_body.eml": (TICKET, SENT, "PDF-Export schlägt fehl"),
    "broken_rfc2047_subject.eml": (TICKET, SENT, "Zgłoszenie: błąd przy zapisie formularza"),
    "dsn_bounce.eml": (TICKET, HELD, "Undelivered Mail Returned to Sender"),  # multipart/report
    "gb2312_gbk_chars.eml": (TICKET, SENT, "上传附件失败（王喆）"),
    "gmail_multipart.eml": (TICKET, SENT, "Login page returns 500 after password reset"),
    "html_only.eml": (TICKET, SENT, "Nowa wiadomość z formularza kontaktowego"),
    "huge_body.eml": (TICKET, SENT, None),
    "iso2022jp.eml": (TICKET, SENT, "ログインできません"),
    "koi8r.eml": (TICKET, SENT, "Не приходит письмо с подтверждением"),
    "mailing_list.eml": (TICKET, HELD, None),  # List-Id
    "missing_from.eml": (FAILED, None, None),  # nobody to open a ticket for
    "missing_message_id.eml": (TICKET, SENT, "Brak dostępu do folderu Faktury"),
    "outlook_multipart.eml": (TICKET, SENT, "Drukarka na 2. piętrze nie drukuje w kolorze"),
    "plain_utf8.eml": (TICKET, SENT, "Błąd 404 na stronie /cennik 🙁"),
    "quoted_printable.eml": (TICKET, SENT, "Faktura nr 2025/03/117 – błędna kwota"),
    # Same sender as gmail_multipart a moment earlier, another report: its own confirmation (THR-6).
    "reply_with_references.eml": (TICKET, SENT, "Re: Your ticket has been received"),
    "windows1250.eml": (TICKET, SENT, "Chyba při ukládání objednávky"),
}


def test_every_corpus_message_ends_up_as_expected(live_inbox, dovecot, imap_account):
    board = BoardFactory(manager=live_inbox.manager, exclusive_inbox=live_inbox)
    files = sorted(EML_DIR.glob("*.eml"))
    assert {path.name for path in files} == set(EXPECTED), "a corpus file was added or removed: update EXPECTED"
    uid_to_name = {dovecot.append(imap_account.username, path.read_bytes()): path.name for path in files}

    result = inbox_poll(inbox=live_inbox, batch_size=7)

    assert not result.error
    outcome = {}
    for row in ProcessedEmail.objects.select_related("ticket"):
        confirmation = None
        if row.ticket is not None:
            confirmation = OutgoingMail.objects.get(ticket=row.ticket, kind=OutgoingMailKind.TICKET_CREATED).status
        outcome[uid_to_name[row.imap_uid]] = (row.status, confirmation, row.ticket.title if row.ticket else None)
    for name, (status, confirmation, title) in EXPECTED.items():
        assert outcome[name][:2] == (status, confirmation), name
        if title is not None:
            assert outcome[name][2] == title, name
    assert Ticket.objects.filter(board=board).count() == 18
    assert all("\\Seen" in flags for flags in dovecot.fetch_flags(imap_account.username).values())
    huge = Ticket.objects.get(title__startswith="Import job crashes")
    assert len(huge.description) == 6000
    failed = ProcessedEmail.objects.get(status=FAILED)
    assert "no sender address" in failed.reason and failed.raw_size > 0
