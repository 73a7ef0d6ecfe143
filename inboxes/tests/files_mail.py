"""A support mail carrying every kind of file (ATT-1), built byte by byte so each part's
encoding and name is exactly what mail clients send."""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from email.utils import format_datetime

from django.utils import timezone

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
LOGO = b"\x89PNG\r\n\x1a\n" + b"logo" * 300
PDF = b"%PDF-1.4\n" + b"%\xe2\xe3\xcf\xd3\n" + b"1 0 obj << >> endobj\n" * 200 + b"%%EOF\n"
LOG = "zażółć gęślą jaźń\r\nERROR printer on fire\r\n".encode()
CSV = "nazwa;ilość\r\ntoner;3\r\n".encode()
INNER = (
    b"From: Ola Nowak <ola@example.org>\r\n"
    b"Subject: Earlier report\r\n"
    b"Message-ID: <inner-1@example.org>\r\n"
    b"\r\n"
    b"The first time it broke.\r\n"
)

# As a reader sees each name: RFC 2231 with a charset and continuations, RFC 2047 in ISO-8859-2,
# an inline image without any name, an attached message named after its subject.
EXPECTED_FILES = {
    "attachment.png": LOGO,
    "raport.pdf": PDF,
    "log.txt": LOG,
    "łódź_dane.csv": CSV,
    "zrzut ekranu ąę.png": PNG,
    "Earlier report.eml": INNER,
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _b64(data: bytes) -> str:
    return base64.encodebytes(data).decode().replace("\n", "\r\n")


def files_mail(
    *, subject: str = "Printer on fire, files attached", message_id: str | None = None, headers: str = ""
) -> bytes:
    message_id = message_id or f"<{uuid.uuid4().hex}@example.org>"
    qp_log = binascii.b2a_qp(LOG.replace(b"\r\n", b"\n")).decode().replace("\n", "\r\n")
    text = f"""From: Rita Reporter <rita@example.org>\r
To: support@tracker.example\r
Subject: {subject}\r
Date: {format_datetime(timezone.now())}\r
Message-ID: {message_id}\r
{headers}MIME-Version: 1.0\r
Content-Type: multipart/mixed; boundary="outer"\r
\r
--outer\r
Content-Type: multipart/alternative; boundary="alt"\r
\r
--alt\r
Content-Type: text/plain; charset=utf-8\r
\r
I have attached a screenshot, the log and the export.\r
--alt\r
Content-Type: multipart/related; boundary="rel"\r
\r
--rel\r
Content-Type: text/html; charset=utf-8\r
\r
<p>I have attached a screenshot, the log and the export.</p><img src="cid:logo@example.org">\r
--rel\r
Content-Type: image/png\r
Content-ID: <logo@example.org>\r
Content-Disposition: inline\r
Content-Transfer-Encoding: base64\r
\r
{_b64(LOGO)}--rel--\r
--alt--\r
--outer\r
Content-Type: application/pdf; name="raport.pdf"\r
Content-Disposition: attachment; filename="raport.pdf"\r
Content-Transfer-Encoding: base64\r
\r
{_b64(PDF)}--outer\r
Content-Type: text/plain; charset=utf-8; name="log.txt"\r
Content-Disposition: attachment; filename="log.txt"\r
Content-Transfer-Encoding: quoted-printable\r
\r
{qp_log}\r
--outer\r
Content-Type: text/csv; charset=utf-8\r
Content-Disposition: attachment;\r
 filename*0*=iso-8859-2''%B3%F3d%BC;\r
 filename*1*=_dane.csv\r
Content-Transfer-Encoding: base64\r
\r
{_b64(CSV)}--outer\r
Content-Type: image/png; name="=?ISO-8859-2?Q?zrzut_ekranu_=B1=EA.png?="\r
Content-Disposition: attachment; filename="=?ISO-8859-2?Q?zrzut_ekranu_=B1=EA.png?="\r
Content-Transfer-Encoding: base64\r
\r
{_b64(PNG)}--outer\r
Content-Type: message/rfc822\r
Content-Disposition: attachment\r
\r
"""
    # The CRLF before a boundary belongs to the boundary (RFC 2046), not to the message.
    return text.encode() + INNER + b"\r\n--outer--\r\n"


def small_files_mail(*, files: dict[str, bytes], subject: str = "", message_id: str | None = None) -> bytes:
    """A plain message with the given base64 attachments, each one its own report by default."""
    subject = subject or f"Files {uuid.uuid4().hex[:8]}"
    message_id = message_id or f"<{uuid.uuid4().hex}@example.org>"
    parts = "".join(
        f'--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="{name}"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{_b64(data)}"
        for name, data in files.items()
    )
    return (
        f"From: Rita Reporter <rita@example.org>\r\nTo: support@tracker.example\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        f"--b\r\nContent-Type: text/plain\r\n\r\nSee the files.\r\n{parts}--b--\r\n"
    ).encode()
