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

TICKET, FAILED, REPLY = ProcessedEmailStatus.TICKET, ProcessedEmailStatus.FAILED, ProcessedEmailStatus.REPLY
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
    # Its References name gmail_multipart's Message-ID, the mail that opened that ticket: it joins
    # that ticket's thread (THR-4) instead of opening a ticket of its own.
    "reply_with_references.eml": (REPLY, SENT, "Login page returns 500 after password reset"),
    "windows1250.eml": (TICKET, SENT, "Chyba při ukládání objednávky"),
    "windows1252_undeclared.eml": (TICKET, SENT, "Order #4471 – “Express” delivery charged twice"),
    "unknown_8bit_qp.eml": (TICKET, SENT, "Koffieautomaat 3e verdieping – “Storing E4”"),
    "gmail_forward_as_attachment.eml": (TICKET, SENT, "Fwd: Delivery note missing on shipment 88213"),
    "outlook_forward_as_attachment_only.eml": (TICKET, SENT, "FW: Błąd synchronizacji kalendarza w aplikacji mobilnej"),
    "thunderbird_forward_as_attachment.eml": (
        TICKET,
        SENT,
        "Fwd: Zugangsdaten für das Kundenportal funktionieren nicht",
    ),
    "apple_mail_inline_text_file.eml": (TICKET, SENT, "iPad app closes when I open a ticket with an attachment"),
    "mailing_list_digest.eml": (TICKET, HELD, "tracker-users Digest, Vol 12, Issue 7"),  # List-Id
}


def test_every_corpus_message_ends_up_as_expected(live_inbox, dovecot, imap_account):
    board = BoardFactory(manager=live_inbox.manager, exclusive_inbox=live_inbox)
    files = sorted(EML_DIR.glob("*.eml"))
    assert {path.name for path in files} == set(EXPECTED), "a corpus file was added or removed: update EXPECTED"
    uid_to_name = {dovecot.append(imap_account.username, path.read_bytes()): path.name for path in files}

    result = inbox_poll(inbox=live_inbox, batch_size=7)

    assert not result.error
    outcome, descriptions = {}, {}
    for row in ProcessedEmail.objects.select_related("ticket"):
        confirmation = None
        if row.ticket is not None:
            descriptions[uid_to_name[row.imap_uid]] = row.ticket.description
            confirmation = OutgoingMail.objects.get(ticket=row.ticket, kind=OutgoingMailKind.TICKET_CREATED).status
        outcome[uid_to_name[row.imap_uid]] = (row.status, confirmation, row.ticket.title if row.ticket else None)
    for name, (status, confirmation, title) in EXPECTED.items():
        assert outcome[name][:2] == (status, confirmation), name
        if title is not None:
            assert outcome[name][2] == title, name
    assert Ticket.objects.filter(board=board).count() == 24
    assert all("\\Seen" in flags for flags in dovecot.fetch_flags(imap_account.username).values())
    huge = Ticket.objects.get(title__startswith="Import job crashes")
    assert len(huge.description) == 6000
    # Text that used to go missing: windows-1252 punctuation, forwarded messages, inline text files.
    assert "We’ve been charged twice for the “Express” delivery" in descriptions["windows1252_undeclared.eml"]
    assert "Collega’s betalen nu wel €0,40 per kop…" in descriptions["unknown_8bit_qp.eml"]
    for name in (
        "gmail_forward_as_attachment.eml",
        "outlook_forward_as_attachment_only.eml",
        "thunderbird_forward_as_attachment.eml",
        "mailing_list_digest.eml",
    ):
        assert "---------- Forwarded message ----------" in descriptions[name], name
    assert descriptions["apple_mail_inline_text_file.eml"].startswith("iPad Air (5th generation)")
    failed = ProcessedEmail.objects.get(status=FAILED)
    assert "no sender address" in failed.reason and failed.raw_size > 0
