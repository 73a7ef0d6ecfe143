"""Raw RFC 5322 bytes → the fields a ticket needs (ING-2, ING-4, ING-7, TKT-7).

Pure functions over bytes: no Django, no database, no network. The IMAP poller calls
``parse_message`` for every fetched message, and the real-world corpus under
``inboxes/tests/eml/`` tests it in isolation. Mail in the wild breaks every RFC, so each field is
extracted on its own and a broken one degrades to an empty value instead of losing the message;
only input with nothing usable in it raises ``MessageParseError``.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import email.policy
import email.utils
import html
import logging
import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.message import Message
from enum import StrEnum
from io import BytesIO

import html2text
import nh3

logger = logging.getLogger(__name__)

# Mirror tickets.models.TITLE_MAX_LENGTH / DESCRIPTION_MAX_LENGTH. Duplicated instead of imported so
# that this module stays importable (and testable) without Django settings.
TICKET_TITLE_MAX = 255
TICKET_DESCRIPTION_MAX = 6000
NO_SUBJECT_TITLE = "(no subject)"

# The standby queue keeps the body so a manager can read more than fits a ticket, but a pasted
# multi-megabyte log must not become a multi-megabyte database row.
BODY_MAX_CHARS = 100_000
# html2text is linear but slow per character; nobody reads past a megabyte of markup anyway.
HTML_MAX_CHARS = 1_000_000
# A hostile message can nest multiparts arbitrarily deep; stop long before Python's recursion limit.
MAX_MIME_DEPTH = 25
# Reply matching (TKT-7) needs the thread root and the recent ancestors; an unbounded References
# header would become an unbounded SQL IN list.
MAX_REFERENCES = 50
# The stdlib's modern header parser is quadratic in the length of a header (40 KB of quoted
# parameters take seconds, a thousand 4 KB Content-Types minutes), so a message whose parsed
# headers exceed these budgets is read with compat32 only, which keeps headers as strings.
# Real mail stays far below both; the compat32 path gives the same fields, just without the
# stdlib's RFC 2047 handling in front of our own.
MAX_HEADER_CHARS = 2_048
MAX_PARSED_HEADER_CHARS = 16_384
_POLICY_PARSED_HEADERS = frozenset(
    {"subject", "from", "sender", "reply-to", "return-path"}
    | {"content-type", "content-disposition", "content-transfer-encoding"}
)


class MessageParseError(Exception):
    """Nothing usable could be extracted; ``str(error)`` is a reason a manager can read."""


class PartRefusal(StrEnum):
    """Why a file of a mail was not kept (ATT-2); the values of attachments.models.NotKeptReason."""

    UNREADABLE = "unreadable"
    FILE_TOO_LARGE = "file_too_large"
    TOO_MANY_FILES = "too_many_files"
    TOTAL_TOO_LARGE = "total_too_large"


# Decoded bytes handed on at a time: a part is never whole in memory on its way to storage.
PART_CHUNK_CHARS = 256 * 1024
FILE_NAME_MAX = 255
_EXTENSION_MAX = 16


@dataclass(frozen=True)
class MailPart:
    """A file of a mail (ATT-1): an attachment, an inline image, an attached message.

    The bytes stay encoded inside the parsed message until ``chunks()`` decodes them a chunk at a
    time, so holding the parts of a mail costs no more than the mail itself.
    """

    name: str
    content_type: str
    size: int
    source: Message = field(repr=False, compare=False)
    # An attached message is kept whole, as the .eml it would be saved as.
    attached_message: bool = False

    def chunks(self) -> Iterator[bytes]:
        if self.attached_message:
            # Regenerated from its parsed form: one part's bytes at a time, as for any part.
            return iter((_message_bytes(self.source),))
        return _part_chunks(self.source)


@dataclass(frozen=True)
class PartNotKept:
    name: str
    size: int
    reason: PartRefusal


@dataclass(frozen=True)
class ParsedMessage:
    message_id: str | None
    subject: str
    sender_email: str | None
    sender_name: str
    body: str
    in_reply_to: list[str]
    references: list[str]
    auto_generated_reason: str | None
    date: datetime | None
    # Every non-body part (ATT-1), and those that could not be decoded at all.
    parts: tuple[MailPart, ...] = ()
    parts_not_kept: tuple[PartNotKept, ...] = ()

    @property
    def title(self) -> str:
        return self.subject[:TICKET_TITLE_MAX].rstrip() or NO_SUBJECT_TITLE

    @property
    def description(self) -> str:
        return self.body[:TICKET_DESCRIPTION_MAX].rstrip()


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse one message as fetched from IMAP (``RFC822``/``BODY[]``).

    Never raises for bytes input except ``MessageParseError``, so one hostile message can neither
    crash a poll nor leave an inbox stuck on it (ING-2).
    """
    raw = bytes(raw)
    # Some gateways prepend blank lines; the parser would take the first one as the end of the
    # header block and see a message without headers.
    raw = raw.lstrip(b"\r\n")
    if not raw.strip():
        raise MessageParseError("The message is empty.")
    try:
        # compat32 first: it is linear in the input, so it can measure the headers before the
        # modern policy, whose header parser is not, gets to see them.
        legacy_msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except RecursionError as exc:
        raise MessageParseError("The MIME structure of the message is nested too deeply to read.") from exc
    except Exception as exc:
        raise MessageParseError(f"The message could not be parsed ({type(exc).__name__}).") from exc
    if _fits_modern_policy(legacy_msg):
        try:
            return _parse(email.message_from_bytes(raw, policy=email.policy.default))
        except MessageParseError:
            raise
        except Exception:
            # Fields are already isolated one by one, but the modern policy has had bugs that
            # escape that (AttributeError, IndexError deep in its header parser); compat32 keeps
            # headers as plain strings and still gets whatever is readable.
            logger.debug("Parsing with the default email policy failed, retrying with compat32", exc_info=True)
    try:
        return _parse(legacy_msg)
    except MessageParseError:
        raise
    except Exception as exc:
        raise MessageParseError(f"The message could not be parsed ({type(exc).__name__}).") from exc


def is_auto_generated(msg: Message) -> str | None:
    """Return a short reason when ``msg`` was sent by a machine, else ``None``.

    Anything flagged here must never get an automatic answer (ING-7): replying to an
    out-of-office, a bounce or a list is how mail loops start. Checks run from the most specific
    signal to the most generic so the reason tells a manager what the message actually was.
    """
    if _content_type(msg) == "multipart/report":
        return "delivery-report"
    auto_submitted = _first_raw_value(msg, "Auto-Submitted")
    # RFC 3834: any value other than "no" (parameters allowed after ";") marks automatic mail.
    if auto_submitted and auto_submitted.split(";")[0].strip().lower() != "no":
        return "auto-submitted"
    if any(_raw_values(msg, name) for name in _AUTOREPLY_HEADERS):
        return "x-autoreply"
    suppress = _first_raw_value(msg, "X-Auto-Response-Suppress")
    # Exchange stamps its own auto-replies with this; DR/RN/NRN alone only refuse receipts.
    if suppress and _SUPPRESS_AUTOREPLY_RE.search(suppress):
        return "x-auto-response-suppress"
    for name in ("From", "Sender", "Return-Path"):
        for _display, address in _getaddresses(_raw_values(msg, name)):
            if address.split("@")[0].strip().lower() in _DAEMON_LOCAL_PARTS:
                return "mailer-daemon"
    if any(_NULL_PATH_RE.fullmatch(value) for value in _raw_values(msg, "Return-Path")):
        return "null-return-path"
    if _raw_values(msg, "List-Id"):
        return "list-id"
    if _raw_values(msg, "List-Unsubscribe"):
        return "list-unsubscribe"
    precedence = (_first_raw_value(msg, "Precedence") or "").strip().lower()
    if precedence in _AUTOMATIC_PRECEDENCES:
        return "precedence-" + precedence.replace("_", "-")
    return None


_AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autogenerated")
_SUPPRESS_AUTOREPLY_RE = re.compile(r"\b(all|oof|autoreply)\b", re.IGNORECASE)
_DAEMON_LOCAL_PARTS = frozenset({"mailer-daemon", "mailer_daemon", "postmaster"})
_NULL_PATH_RE = re.compile(r"\s*<\s*>\s*")
_AUTOMATIC_PRECEDENCES = frozenset({"bulk", "junk", "list", "auto_reply"})


# --------------------------------------------------------------------------- assembling the result


def _parse(msg: Message) -> ParsedMessage:
    if next(iter(msg.raw_items()), None) is None:
        raise MessageParseError("The data has no header fields, so it is not an email message.")
    subject = _clean_line(_header_text(msg, "Subject"))
    sender_email, sender_name = _sender(msg)
    body = _clean_body(_body_text(msg, depth=0))[:BODY_MAX_CHARS].rstrip()
    if not subject and not body and sender_email is None:
        raise MessageParseError("The message has no subject, no text and no sender address.")
    return ParsedMessage(
        message_id=_message_id(msg),
        subject=subject,
        sender_email=sender_email,
        sender_name=sender_name,
        body=body,
        in_reply_to=_msg_id_list(msg, "In-Reply-To"),
        references=_msg_id_list(msg, "References"),
        auto_generated_reason=is_auto_generated(msg),
        date=_date(msg),
        **_files(msg),
    )


# --------------------------------------------------------------------------- raw header access


def _fits_modern_policy(msg: Message) -> bool:
    total = 0
    try:
        for part in msg.walk():
            for name, value in part.raw_items():
                if str(name).lower() not in _POLICY_PARSED_HEADERS:
                    continue
                size = len(str(value))
                total += size
                if size > MAX_HEADER_CHARS or total > MAX_PARSED_HEADER_CHARS:
                    return False
    except RecursionError:
        return False  # walk() recurses; _body_text has its own depth limit
    return True


_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# C0/C1 controls except tab and newline: NUL is refused by PostgreSQL text columns, the rest is
# invisible garbage left over from broken encodings.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_C1_CONTROL_RE = re.compile(r"[\x80-\x9f]")


def _raw_values(msg: Message, name: str) -> list[str]:
    """Every value of header ``name`` as received: unfolded, raw 8-bit bytes decoded, no RFC 2047.

    ``raw_items`` never runs the policy's header parser, so this cannot raise on a broken value.
    """
    wanted = name.lower()
    values = []
    for key, value in msg.raw_items():
        if str(key).lower() == wanted:
            values.append(_decode_8bit(str(value).replace("\r", "").replace("\n", "")))
    return values


def _first_raw_value(msg: Message, name: str) -> str | None:
    values = _raw_values(msg, name)
    return values[0] if values else None


def _decode_8bit(value: str) -> str:
    # The parser smuggles raw 8-bit header bytes through as lone surrogates (surrogateescape).
    # Raw bytes in headers declare no charset; _decode_bytes reads them as UTF-8 or windows-1252.
    if not _SURROGATE_RE.search(value):
        return value
    try:
        return _decode_bytes(value.encode("utf-8", "surrogateescape"), None)
    except UnicodeEncodeError:
        # Only U+DC80..U+DCFF stand for bytes; other lone surrogates can only be replaced.
        return _SURROGATE_RE.sub("\ufffd", value)


def _header_text(msg: Message, name: str) -> str:
    raw = _first_raw_value(msg, name)
    if raw is None:
        return ""
    text = None
    if isinstance(msg.policy, email.policy.EmailPolicy):
        try:
            value = msg.get(name)
            text = None if value is None else str(value)
        except Exception:
            # Per header, not per message: one unparseable header must not cost the others.
            logger.debug("Unparseable %s header", name, exc_info=True)
    if text is None or _needs_own_decoding(text):
        text = _decode_header_value(raw)
    return text


def _needs_own_decoding(text: str) -> bool:
    # The stdlib decodes each encoded word on its own and leaves surrogates or U+FFFD when a word
    # is not valid in its charset (a character split across two words, gb2312 used for GBK,
    # unknown charsets), and it leaves malformed words as literal "=?...?=" text. It also reads
    # "iso-8859-1" words literally, so the windows-1252 quotes and dashes senders put in them come
    # out as C1 controls, which nobody writes on purpose.
    return "\ufffd" in text or bool(
        _SURROGATE_RE.search(text) or _ENCODED_WORD_RE.search(text) or _C1_CONTROL_RE.search(text)
    )


# =?charset?encoding?text?= with two tolerances seen in the wild: spaces inside the text, and a
# missing "?=" at the very end of the header.
_ENCODED_WORD_RE = re.compile(r"=\?([^?\s]+)\?([QqBb])\?(.*?)(?:\?=|$)")
_QP_ESCAPE_RE = re.compile(rb"=([0-9A-Fa-f]{2})")
_NON_BASE64_RE = re.compile(r"[^A-Za-z0-9+/]")


def _decode_header_value(raw: str) -> str:
    """Tolerant RFC 2047 decoding of a raw header value.

    ``email.header.decode_header`` is not used: it abandons the whole header on one bad base64
    word and returns raw 8-bit text as raw-unicode-escape bytes. Here adjacent words in the same
    charset are joined as bytes before decoding, so a UTF-8 character split across two words
    (common from PHP mailers) comes out whole.
    """
    # Headers are never parsed into anything longer than a title or a name; the cap keeps the
    # byte joining below cheap whatever a hostile sender puts in.
    value = _decode_8bit(raw[:MAX_HEADER_CHARS])
    pieces: list[tuple[bytes | str, str | None]] = []
    position = 0
    for match in _ENCODED_WORD_RE.finditer(value):
        gap = value[position : match.start()]
        previous_encoded = bool(pieces) and pieces[-1][1] is not None
        # RFC 2047 §6.2: whitespace between two encoded words is not part of the text.
        if gap and not (gap.isspace() and previous_encoded):
            pieces.append((gap, None))
        charset = match.group(1).split("*")[0]  # drop an RFC 2231 language tag
        data = _decode_word_payload(match.group(2), match.group(3))
        last_data, last_charset = pieces[-1] if pieces else (b"", None)
        if isinstance(last_data, bytes) and last_charset is not None and last_charset.lower() == charset.lower():
            pieces[-1] = (last_data + data, last_charset)
        else:
            pieces.append((data, charset))
        position = match.end()
    pieces.append((value[position:], None))
    return "".join(_decode_bytes(data, charset) if isinstance(data, bytes) else data for data, charset in pieces)


def _decode_word_payload(encoding: str, text: str) -> bytes:
    if encoding in "Bb":
        cleaned = _NON_BASE64_RE.sub("", text)
        if len(cleaned) % 4 == 1:
            cleaned = cleaned[:-1]  # a lone trailing sextet cannot encode a byte
        try:
            return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
        except (binascii.Error, ValueError):
            return b""
    data = text.replace("_", " ").encode("utf-8", "replace")
    return _QP_ESCAPE_RE.sub(lambda match: bytes([int(match.group(1), 16)]), data)


def _clean_line(text: str) -> str:
    text = _SURROGATE_RE.sub("\ufffd", _CONTROL_RE.sub(" ", text))
    return " ".join(text.split())


# --------------------------------------------------------------------------- charsets

# Labels seen in mail that Python does not know under these names.
_CHARSET_LABELS = {
    "x-gbk": "gbk",
    "cn-gb": "gb2312",
    "x-euc-jp": "euc_jp",
    "x-sjis": "cp932",
    "windows-874": "cp874",
    "iso-8859-8-i": "iso8859-8",
    "x-mac-roman": "mac-roman",
    "x-mac-cyrillic": "mac-cyrillic",
    "utf8mb4": "utf-8",
}
# Labels that say nothing about the bytes.
_UNDECLARED_LABELS = frozenset({"unknown-8bit", "x-unknown", "unknown", "x-user-defined", "default", "8bit", "none"})
# Codecs whose label promises less than senders actually use: decode with the superset instead.
# Keyed by Python's canonical codec name so that every spelling of a label is covered.
_CODEC_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",  # ks_c_5601-1987, Outlook's label for Korean
    "shift_jis": "cp932",
    # Japanese mailers mix in half-width katakana, which plain ISO-2022-JP does not define.
    "iso2022_jp": "iso2022_jp_ext",
    # Browsers (WHATWG) read ISO-8859-1 as windows-1252; mail clients do the same.
    "iso8859-1": "cp1252",
    # ASCII is a subset of UTF-8, and 8-bit data labelled ASCII is in practice UTF-8 or
    # windows-1252, which the undeclared path tries; None means "undeclared".
    "ascii": None,
}
# Codecs that are not character sets; a sender must not be able to pick them.
_REFUSED_CODECS = frozenset(
    {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined", "rot-13"}
    | {"base64", "hex", "quopri", "uu", "zlib", "bz2"}
)
# Single-byte charsets decode any byte sequence, so a UTF-8 body mislabelled as one of them would
# silently turn into mojibake. Valid multi-byte UTF-8 practically never occurs in real text in
# these charsets, so UTF-8 is tried first for them.
_SINGLE_BYTE_CODEC_RE = re.compile(r"iso8859-\d+|cp12\d\d|cp8\d\d|cp437|koi8-\w+|mac-\w+|tis-620")


def _codec_for(charset: str | None) -> str | None:
    if not charset:
        return None
    label = str(charset).strip().strip("\"'").lower()
    if label in _UNDECLARED_LABELS:
        return None
    try:
        name = codecs.lookup(_CHARSET_LABELS.get(label, label)).name
    except (LookupError, ValueError, TypeError):
        return None
    name = _CODEC_SUPERSETS.get(name, name)
    return None if name is None or name in _REFUSED_CODECS else name


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset or its superset, else as undeclared text; never raises."""
    codec = _codec_for(charset)
    if codec is None:
        return _decode_undeclared(data)
    attempts = []
    if _SINGLE_BYTE_CODEC_RE.fullmatch(codec) and not data.isascii():
        attempts.append("utf-8")
    attempts += [codec, "utf-8"]
    for name in dict.fromkeys(attempts):
        try:
            return data.decode(name)
        except (UnicodeError, LookupError):
            continue
    try:
        return data.decode(codec, errors="replace")
    except (UnicodeError, LookupError):
        return _decode_undeclared(data)


def _decode_undeclared(data: bytes) -> str:
    """Decode bytes whose charset is unknown: UTF-8, else windows-1252, never dropping text.

    Undeclared 8-bit text (no charset, "unknown-8bit", a label nobody knows, 8-bit data labelled
    ASCII) is UTF-8 from current software and windows-1252 from Windows software and web forms.
    Valid multi-byte UTF-8 practically never occurs by chance in windows-1252 text, so strict
    UTF-8 goes first. windows-1252 rather than latin-1: the two agree on letters, but latin-1 reads
    the curly quotes, dashes, "€" and "…" in 0x80-0x9F as C1 controls, which are then stripped, so
    "We’ve" became "Weve".
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Not clean UTF-8, but it may be UTF-8 with a damaged or cut-off character, which windows-1252
    # would turn into mojibake from start to end: keep it UTF-8 when it has more well-formed
    # multi-byte characters than broken bytes. Otherwise windows-1252, where the five bytes it
    # leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) become U+FFFD and the rest of the text stays.
    text = data.decode("utf-8", errors="replace")
    broken = text.count("\ufffd")
    well_formed = len(text) - len(text.encode("ascii", errors="ignore")) - broken
    if well_formed > broken:
        return text
    return data.decode("cp1252", errors="replace")


# --------------------------------------------------------------------------- addresses and ids

_SENDER_HEADERS = ("From", "Sender", "Reply-To", "Return-Path")
_LABEL = r"[^\W_](?:[\w-]*[^\W_])?"
# A domain literal (`rita@[192.0.2.1]`) is still a sender: the report is taken in, and only
# automatic mail is refused to it (outbox.loops, THR-6).
_DOMAIN_LITERAL = r"\[(?:IPv6:)?[0-9A-Fa-f.:]+\]"
_ADDRESS_RE = re.compile(
    rf"[^\s@<>()\[\],;:\"\\\x00-\x1f\x7f]+@(?:{_LABEL}(?:\.{_LABEL})*|{_DOMAIN_LITERAL})", re.IGNORECASE
)
_ADDRESS_SEARCH_RE = re.compile(rf"[\w.!#$%&'*+/=?^`{{|}}~-]+@{_LABEL}(?:\.{_LABEL})+")


def _sender(msg: Message) -> tuple[str | None, str]:
    for name in _SENDER_HEADERS:
        found = _first_address(msg, name)
        if found is not None:
            return found
    return None, ""


def _first_address(msg: Message, name: str) -> tuple[str, str] | None:
    raw_values = _raw_values(msg, name)
    if not raw_values:
        return None
    if isinstance(msg.policy, email.policy.EmailPolicy):
        try:
            for address in getattr(msg.get(name), "addresses", ()):
                if _needs_own_decoding(address.display_name):
                    # The name was mis-decoded (see _needs_own_decoding); the raw value below
                    # still has the original encoded words.
                    break
                if _is_address(address.addr_spec):
                    return address.addr_spec.lower(), _clean_display_name(address.display_name)
        except Exception:
            # Same per-header isolation as _header_text; the raw value is parsed below.
            logger.debug("Unparseable %s header", name, exc_info=True)
    for display_name, address in _getaddresses([value[:MAX_HEADER_CHARS] for value in raw_values]):
        if _is_address(address):
            return address.lower(), _clean_display_name(display_name)
    # "From: John Doe john@example.com" and similar: take the first thing shaped like an address.
    for value in raw_values:
        match = _ADDRESS_SEARCH_RE.search(value)
        if match:
            return match.group(0).lower(), ""
    return None


def _getaddresses(values: list[str]) -> list[tuple[str, str]]:
    try:
        # strict=False: the legacy parser guesses through unbalanced quotes and brackets instead
        # of returning nothing.
        return email.utils.getaddresses(values, strict=False)
    except Exception:
        return []


def _is_address(address: str) -> bool:
    return len(address) <= 254 and _ADDRESS_RE.fullmatch(address) is not None


def _clean_display_name(name: str) -> str:
    return _clean_line(_decode_header_value(name)).strip("\"'").strip()


_BRACKETED_ID_RE = re.compile(r"<([^<>]*)>")


def _parse_msg_ids(value: str, *, bare_needs_at: bool) -> list[str]:
    ids = ["".join(inner.split()) for inner in _BRACKETED_ID_RE.findall(value)]
    ids = [f"<{inner}>" for inner in ids if inner]
    if not ids:
        # Some mailers omit the brackets. In lists a bare word is more likely prose such as
        # "your message of Monday" than an id, so there it must at least contain an "@".
        bare = (token.strip("<>") for token in value.split())
        ids = [f"<{token}>" for token in bare if token and ("@" in token or not bare_needs_at)]
    return ids


def _message_id(msg: Message) -> str | None:
    for value in _raw_values(msg, "Message-ID"):
        ids = _parse_msg_ids(value, bare_needs_at=False)
        if ids:
            return ids[0]
    return None


def _msg_id_list(msg: Message, name: str) -> list[str]:
    ids: list[str] = []
    for value in _raw_values(msg, name):
        ids.extend(_parse_msg_ids(value, bare_needs_at=True))
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_REFERENCES:
        ids = ids[:1] + ids[-(MAX_REFERENCES - 1) :]
    return ids


def _date(msg: Message) -> datetime | None:
    for value in _raw_values(msg, "Date"):
        try:
            parsed = email.utils.parsedate_to_datetime(value.strip())
            if parsed.tzinfo is None:
                # "-0000" means "zone unknown" (RFC 5322 §3.3); UTC is the least wrong reading.
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
        except Exception:
            # Dates in the wild include year 0, month 13 and offsets beyond a day; a wrong date
            # is never worth a failed message.
            logger.debug("Unparseable Date header %r", value, exc_info=True)
    return None


# --------------------------------------------------------------------------- body

_MIME_TYPE_RE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")
_CONTENT_TYPE_RAW_RE = re.compile(r"^\s*([^;\s]+)")
_CHARSET_RAW_RE = re.compile(r"charset\s*=\s*\"?([^\";\s]+)", re.IGNORECASE)
_NAME_PARAM_RAW_RE = re.compile(r"\bname\s*=", re.IGNORECASE)
# message/global is message/rfc822 with UTF-8 headers (RFC 6532). Other message/* types are not
# messages to read: delivery-status is a status block, external-body points elsewhere, partial is
# a fragment.
_ATTACHED_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
_FORWARDED_SEPARATOR = "---------- Forwarded message ----------"


def _content_type(part: Message) -> str:
    try:
        content_type = part.get_content_type()
    except Exception:
        raw = _first_raw_value(part, "Content-Type") or ""
        match = _CONTENT_TYPE_RAW_RE.match(raw)
        content_type = match.group(1).lower() if match else "text/plain"
    # RFC 2045 §5.2: a syntactically invalid Content-Type means text/plain.
    return content_type if _MIME_TYPE_RE.fullmatch(content_type) else "text/plain"


def _part_charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:
        match = _CHARSET_RAW_RE.search(_first_raw_value(part, "Content-Type") or "")
        return match.group(1) if match else None


def _file_marks(part: Message) -> tuple[bool, bool]:
    """Whether ``part`` is marked as an attachment, and whether it carries a file name."""
    try:
        disposition = part.get_content_disposition()
        named = bool(part.get_filename())
    except Exception:
        raw = (_first_raw_value(part, "Content-Disposition") or "").lower()
        disposition = "attachment" if raw.strip().startswith("attachment") else None
        named = "filename" in raw or bool(_NAME_PARAM_RAW_RE.search(_first_raw_value(part, "Content-Type") or ""))
    return disposition == "attachment", named


def _alternative_rank(part: Message) -> int:
    content_type = _content_type(part)
    if content_type == "text/plain":
        return 0
    if content_type.startswith("multipart/"):
        return 1
    return 2 if content_type == "text/html" else 3


def _body_text(msg: Message, *, depth: int) -> str:
    """What a reader of ``msg`` sees as text: the sender's own words, then each attached message.

    The own words are the ordinary body parts. Named inline text parts count only when those hold
    nothing: next to real text such a part is a file (Apple Mail sends attached .txt files inline),
    and quoting a file into a ticket is worse than leaving it out; on its own it is how some
    clients send the text itself (a .txt dropped into an empty Apple Mail message, gateways that
    wrap the body as "message.txt"). Forwarding "as attachment" (Gmail, Outlook, Thunderbird,
    Apple Mail) and list digests put the text that matters in message/rfc822 parts, so each
    attached message follows the own words, whether or not there are any.
    """
    if depth > MAX_MIME_DEPTH:
        return ""
    own = _own_text(msg, depth=depth, with_named=False) or _own_text(msg, depth=depth, with_named=True)
    forwarded = [
        _forwarded_text(inner, depth=inner_depth) for inner, inner_depth in _attached_messages(msg, depth=depth)
    ]
    return "\n\n".join(text for text in (own, *forwarded) if text)


def _own_text(part: Message, *, depth: int, with_named: bool) -> str:
    if depth > MAX_MIME_DEPTH:
        return ""
    attachment, named = _file_marks(part)
    if attachment or (named and not with_named):
        return ""
    content_type = _content_type(part)
    # Attached messages are not the sender's own words: _body_text adds forwarded ones after them,
    # while returned originals and DSN status blocks are left out altogether.
    if content_type.startswith("message/"):
        return ""
    if part.is_multipart():
        children = [child for child in part.get_payload() if isinstance(child, Message)]
        if content_type == "multipart/alternative":
            # The text/plain alternative is preferred (ING-2); HTML only when no plain text exists
            # or it is empty, as some mailers send.
            for child in sorted(children, key=_alternative_rank):
                text = _own_text(child, depth=depth + 1, with_named=with_named)
                if text:
                    return text
            return ""
        texts = (_own_text(child, depth=depth + 1, with_named=with_named) for child in children)
        return "\n\n".join(text for text in texts if text)
    if content_type == "text/html":
        return _clean_body(_html_to_text(_payload_text(part, max_chars=HTML_MAX_CHARS)))
    # A multipart without a usable boundary arrives as one opaque payload; its text is still
    # better than nothing.
    if content_type == "text/plain" or content_type.startswith("multipart/"):
        return _clean_body(_payload_text(part, max_chars=BODY_MAX_CHARS))
    return ""


def _attached_messages(part: Message, *, depth: int) -> list[tuple[Message, int]]:
    """The messages attached in ``part``'s MIME tree, each with its nesting depth.

    Messages attached inside those are theirs to show (see ``_forwarded_text``). The message in a
    delivery report is the recipient's own mail coming back, not something sent to us to read,
    so reports are not searched.
    """
    if depth > MAX_MIME_DEPTH or not part.is_multipart():
        return []
    content_type = _content_type(part)
    children = [child for child in part.get_payload() if isinstance(child, Message)]
    if content_type in _ATTACHED_MESSAGE_TYPES:
        inner = _attached_message(part, children)
        return [] if inner is None else [(inner, depth + 1)]
    if content_type == "multipart/report":
        return []
    return [found for child in children for found in _attached_messages(child, depth=depth + 1)]


def _attached_message(part: Message, children: list[Message]) -> Message | None:
    """The message inside a message/rfc822 ``part``, whose parsed payload is ``children``.

    RFC 2046 allows no transfer encoding there, but some clients base64 the message anyway. Base64
    has no ":", so the parser takes it for a body without headers, which would show as gibberish;
    it is decoded and parsed here, with compat32 because _fits_modern_policy never measured the
    headers inside.
    """
    if not children:
        return None
    inner = children[0]
    encoding = (_first_raw_value(part, "Content-Transfer-Encoding") or "").strip().lower()
    payload = inner.get_payload()
    if encoding != "base64" or inner.keys() or not isinstance(payload, str):
        return inner
    try:
        data = binascii.a2b_base64(payload.encode("ascii", "surrogateescape"))
        return email.message_from_bytes(data, policy=email.policy.compat32)
    except Exception:
        logger.debug("Undecodable base64 message/rfc822 part", exc_info=True)
        return None


def _forwarded_text(msg: Message, *, depth: int) -> str:
    """An attached message the way mail clients show a forward: who, when, what, then its text.

    The header block stays even when the message has no text: it still tells a manager what was
    forwarded.
    """
    headers = (
        ("From", _header_text(msg, "From")),
        # As written: the modern policy's Date parser is not covered by _fits_modern_policy's
        # budget, and a reader wants the sender's date, not a normalised one.
        ("Date", _first_raw_value(msg, "Date") or ""),
        ("Subject", _header_text(msg, "Subject")),
    )
    lines = [_FORWARDED_SEPARATOR]
    for name, value in headers:
        value = _clean_line(value[:MAX_HEADER_CHARS])
        if value:
            lines.append(f"{name}: {value}")
    text = _body_text(msg, depth=depth)
    return "\n".join(lines) + (f"\n\n{text}" if text else "")


def _payload_text(part: Message, *, max_chars: int) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if not isinstance(data, bytes):
        payload = part.get_payload()
        if not isinstance(payload, str):
            return ""
        data = payload.encode("utf-8", "surrogateescape")
    # Four bytes per character is the UTF-8 maximum, so the cut never loses text that would
    # have survived the character limit.
    return _decode_bytes(_cut_bytes(data, max_chars * 4), _part_charset(part))[:max_chars]


def _cut_bytes(data: bytes, limit: int) -> bytes:
    """``data[:limit]``, without a UTF-8 character cut in two at the end.

    A cut-off character would make a long UTF-8 text fail the strict UTF-8 check of
    ``_decode_undeclared`` and come out as windows-1252 mojibake. In any other charset this drops
    at most three bytes at a point the character limit cuts off anyway.
    """
    if len(data) <= limit:
        return data
    data = data[:limit]
    for back in range(1, 4):
        byte = data[-back]
        if byte < 0x80:
            break  # ASCII: no character is open
        if byte >= 0xC0:
            return data[:-back]  # the lead byte of the last, possibly incomplete character
    return data


_BLANK_LINES_RE = re.compile(r"\n{3,}")


def _clean_body(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    text = _SURROGATE_RE.sub("\ufffd", _CONTROL_RE.sub("", text)).lstrip("\ufeff")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES_RE.sub("\n\n", text).strip("\n").rstrip()


class _PlainTextHTML2Text(html2text.HTML2Text):
    def handle_data(self, data: str, entity_char: bool = False) -> None:
        # html2text writes Markdown and escapes "1." or "-" at a line start as "1\." and "\-".
        # A ticket description is plain text, where each escape would be visible noise;
        # entity_char=True is the library's own switch for "emit this data verbatim".
        super().handle_data(data, entity_char=True)


# Markdown syntax that html2text has no switch for: "## " before headings, and table cells glued
# together once tables are ignored. Rewriting these few tags first is simpler than subclassing
# its tag handler.
_HEADING_TAG_RE = re.compile(r"<\s*(/?)\s*h[1-6]\b", re.IGNORECASE)
_CELL_END_TAG_RE = re.compile(r"(</\s*t[dh]\s*>)", re.IGNORECASE)


def _html_to_text(markup: str) -> str:
    # html2text rather than nh3: nh3 only sanitises (strips tags), so paragraphs, line breaks,
    # list items and link targets would be lost; html2text turns them into readable text and
    # already drops <head>, <script> and <style>. nh3 is the fallback should html2text fail.
    markup = _CELL_END_TAG_RE.sub(r"\1 ", _HEADING_TAG_RE.sub(r"<\1p", markup))
    converter = _PlainTextHTML2Text()
    converter.body_width = 0  # the ticket page wraps; hard wrapping would break URLs
    converter.inline_links = True
    converter.ignore_images = True  # alt text of logos and tracking pixels is noise
    converter.ignore_emphasis = True
    converter.ignore_mailto_links = True  # the address is already the link text
    # Mail uses tables for layout far more than for data; pipe tables would turn every
    # newsletter-style layout into a grid of "|" and "---".
    converter.ignore_tables = True
    converter.unicode_snob = True  # keep "ł" and "€" instead of ASCII look-alikes
    converter.skip_internal_links = True
    try:
        return converter.handle(markup)
    except Exception:
        return html.unescape(nh3.clean(markup, tags=set()))


# --------------------------------------------------------------------------- files (ATT-1)


def parts_within_limits(
    parts: tuple[MailPart, ...] | list[MailPart], *, max_files: int, max_file_bytes: int, max_total_bytes: int
) -> tuple[list[MailPart], list[PartNotKept]]:
    """The parts to keep within the limits, in order, and each one left out with why (ATT-2).

    Greedy in the mail's order: a part that does not fit is listed, and a smaller one after it may
    still be kept.
    """
    kept: list[MailPart] = []
    refused: list[PartNotKept] = []
    total = 0
    for part in parts:
        reason = None
        if part.size > max_file_bytes:
            reason = PartRefusal.FILE_TOO_LARGE
        elif len(kept) >= max_files:
            reason = PartRefusal.TOO_MANY_FILES
        elif total + part.size > max_total_bytes:
            reason = PartRefusal.TOTAL_TOO_LARGE
        if reason is None:
            kept.append(part)
            total += part.size
        else:
            refused.append(PartNotKept(name=part.name, size=part.size, reason=reason))
    return kept, refused


def _files(msg: Message) -> dict[str, tuple]:
    parts: list[MailPart] = []
    refused: list[PartNotKept] = []
    for part, is_message in _file_sources(msg, depth=0, top=True):
        content_type = "message/rfc822" if is_message else _content_type(part)
        name = _file_name(part, content_type=content_type, is_message=is_message)
        try:
            if is_message:
                source = _message_source(part)
                size = len(_message_bytes(source))
            else:
                source = part
                size = sum(len(chunk) for chunk in _part_chunks(part))
        except Exception:
            # One undecodable file costs that file, listed as not kept, never the mail.
            logger.debug("Undecodable file part %r", name, exc_info=True)
            refused.append(PartNotKept(name=name, size=0, reason=PartRefusal.UNREADABLE))
            continue
        parts.append(
            MailPart(name=name, content_type=content_type, size=size, source=source, attached_message=is_message)
        )
    return {"parts": tuple(parts), "parts_not_kept": tuple(refused)}


def _file_sources(part: Message, *, depth: int, top: bool) -> Iterator[tuple[Message, bool]]:
    """The file parts under ``part``, each with whether it is an attached message.

    A part is body text when it is text/plain or text/html, neither an attachment nor named:
    everything else is a file. An attached message is one file (an .eml, whose text the body also
    shows); other message/* parts (delivery status blocks) are read as body or not at all.
    """
    if depth > MAX_MIME_DEPTH:
        return
    content_type = _content_type(part)
    if not top and content_type in _ATTACHED_MESSAGE_TYPES:
        yield part, True
        return
    if content_type.startswith("message/"):
        return
    if part.is_multipart():
        for child in part.get_payload():
            if isinstance(child, Message):
                yield from _file_sources(child, depth=depth + 1, top=False)
        return
    if content_type.startswith("multipart/"):
        return  # no usable boundary: read as body text
    attachment, named = _file_marks(part)
    if content_type in ("text/plain", "text/html") and not attachment and not named:
        return
    yield part, False


_PATH_SEPARATOR_RE = re.compile(r"[\\/]")
# Direction overrides can disguise "exe.pdf" as "fdp.exe".
_BIDI_CONTROL_RE = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _file_name(part: Message, *, content_type: str, is_message: bool) -> str:
    """The name as the sender gave it, decoded (RFC 2231 in any charset, RFC 2047), reduced to a
    safe one: no directories, no controls, at most FILE_NAME_MAX characters with the extension kept."""
    name = ""
    try:
        name = part.get_filename() or ""
    except Exception:
        logger.debug("Unparseable file name", exc_info=True)
    name = _decode_8bit(str(name))
    if _needs_own_decoding(name):
        name = _decode_header_value(name)
    name = _clean_line(_BIDI_CONTROL_RE.sub("", _PATH_SEPARATOR_RE.split(name)[-1])).strip(" .")
    if is_message:
        if not name:
            inner = _message_source(part)
            subject = _clean_line(_header_text(inner, "Subject")) if inner is not None else ""
            name = _clean_line(_PATH_SEPARATOR_RE.split(subject)[-1]).strip(" .") or "message"
        if not name.lower().endswith(".eml"):
            name += ".eml"
    if not name:
        name = "attachment" + (mimetypes.guess_extension(content_type) or "")
    if len(name) > FILE_NAME_MAX:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and 0 < len(extension) <= _EXTENSION_MAX:
            name = stem[: FILE_NAME_MAX - len(extension) - 1] + "." + extension
        else:
            name = name[:FILE_NAME_MAX]
    return name


def _message_source(part: Message) -> Message:
    children = [child for child in part.get_payload() if isinstance(child, Message)] if part.is_multipart() else []
    inner = _attached_message(part, children)
    if inner is None:
        raise ValueError("no message inside")
    return inner


def _message_bytes(msg: Message) -> bytes:
    out = BytesIO()
    # CRLF: the canonical form of a message on the wire and in .eml files.
    BytesGenerator(out, mangle_from_=False, policy=msg.policy.clone(linesep="\r\n")).flatten(msg)
    return out.getvalue()


def _part_chunks(part: Message) -> Iterator[bytes]:
    # Not get_payload(): it encodes the whole payload once just to look for surrogates, a full
    # copy of the part that chunking is here to avoid.
    payload = part._payload
    if not isinstance(payload, str):
        return
    encoding = (_first_raw_value(part, "Content-Transfer-Encoding") or "").strip().lower()
    if encoding == "base64":
        yield from _base64_chunks(payload)
    elif encoding == "quoted-printable":
        for text in _line_slices(payload):
            yield binascii.a2b_qp(_payload_bytes(text))
    elif encoding in ("x-uuencode", "uuencode", "uue", "x-uue"):
        data = part.get_payload(decode=True)
        if isinstance(data, bytes):
            yield data
    else:
        for start in range(0, len(payload), PART_CHUNK_CHARS):
            yield _payload_bytes(payload[start : start + PART_CHUNK_CHARS])


def _payload_bytes(text: str) -> bytes:
    # As the stdlib's get_payload(decode=True): raw 8-bit bytes come back from surrogates.
    try:
        return text.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")


def _line_slices(payload: str) -> Iterator[str]:
    """``payload`` in pieces of about PART_CHUNK_CHARS that end at a line end (quoted-printable
    soft line breaks end a line, so each piece decodes on its own)."""
    start = 0
    while start < len(payload):
        end = payload.find("\n", start + PART_CHUNK_CHARS)
        end = len(payload) if end == -1 else end + 1
        yield payload[start:end]
        start = end


def _base64_chunks(payload: str) -> Iterator[bytes]:
    """Base64 decoded a slice at a time; as tolerant as the stdlib of line breaks and stray
    characters, a lone trailing sextet dropped."""
    carry = ""
    for start in range(0, len(payload), PART_CHUNK_CHARS):
        text = carry + _NON_BASE64_RE.sub("", payload[start : start + PART_CHUNK_CHARS])
        cut = len(text) - len(text) % 4
        carry = text[cut:]
        if cut:
            yield binascii.a2b_base64(text[:cut])
    if len(carry) > 1:
        yield binascii.a2b_base64(carry + "=" * (-len(carry) % 4))
