"""A thin IMAP client: connect, select, search and fetch by UID, mark \\Seen. Nothing else.

TLS uses ``ssl.create_default_context()`` (certificates and host names verified); when an inbox
says SSL, a failed handshake is an error, never a retry in plaintext. Every socket operation has
a timeout, so a dead server delays only its own inbox (ING-1). Failures are raised as
``ImapError`` carrying a sentence a manager understands (INB-3).
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from types import TracebackType
from typing import Self

from django.utils.translation import gettext as _

from issuetracker.hosts import InternalHostError, ensure_public_host
from issuetracker.network import describe_network_error, internal_host_message

DEFAULT_TIMEOUT_SECONDS = 10
MAILBOX = "INBOX"

# imaplib refuses response lines over 1 MB; UID SEARCH over a mailbox of a few hundred thousand
# messages returns one line longer than that.
imaplib._MAXLINE = max(imaplib._MAXLINE, 20_000_000)  # type: ignore[attr-defined]


class ImapError(Exception):
    """A failure talking to the IMAP server; ``str(error)`` is fit to show to a manager."""


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    username: str
    password: str
    use_ssl: bool
    timeout: float = DEFAULT_TIMEOUT_SECONDS


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    raw: bytes
    internal_date: datetime | None


class ImapMailbox:
    """One logged-in session on one mailbox. Use as a context manager."""

    def __init__(self, settings: ImapSettings) -> None:
        self.settings = settings
        self._client: imaplib.IMAP4 | None = None
        self.uidvalidity: int | None = None
        self._uid_next: int | None = None

    def __enter__(self) -> Self:
        try:
            self.open()
        except BaseException:
            self.close()  # a refused login must not leave its socket open
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def server(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def open(self, *, readonly: bool = False) -> int:
        """Connect, log in and select the inbox; returns its UIDVALIDITY."""
        with self._errors(_("connecting to")):
            try:
                # Checked at every connection, not only when saved: DNS can change since (SSRF).
                ensure_public_host(self.settings.host)
            except InternalHostError as exc:
                raise ImapError(internal_host_message("IMAP", self.settings.host)) from exc
            if self.settings.use_ssl:
                client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    self.settings.host,
                    self.settings.port,
                    ssl_context=ssl.create_default_context(),
                    timeout=self.settings.timeout,
                )
            else:
                client = imaplib.IMAP4(self.settings.host, self.settings.port, timeout=self.settings.timeout)
        self._client = client
        try:
            client.login(self.settings.username, self.settings.password)
        except imaplib.IMAP4.abort as exc:
            raise ImapError(
                _("IMAP: %(server)s closed the connection during login.") % {"server": self.server}
            ) from exc
        except imaplib.IMAP4.error as exc:
            raise ImapError(_("IMAP: login refused by %(host)s.") % {"host": self.settings.host}) from exc
        except (OSError, EOFError) as exc:
            raise ImapError(describe_network_error(exc, "IMAP", self.server)) from exc
        with self._errors(_("opening the mailbox on")):
            status, data = client.select(MAILBOX, readonly=readonly)
            if status != "OK":
                raise ImapError(
                    _("IMAP: the mailbox %(mailbox)s could not be opened on %(host)s.")
                    % {"mailbox": MAILBOX, "host": self.settings.host}
                )
            self.uidvalidity = self._read_status_code(client, "UIDVALIDITY")
            self._uid_next = self._read_status_code(client, "UIDNEXT")
        return self.uidvalidity

    def uid_next(self) -> int:
        """The UID the next message will get, as reported when the mailbox was selected."""
        if self._uid_next is None:
            raise ImapError(_("IMAP: not connected."))
        return self._uid_next

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if client.state == "SELECTED":
                client.close()
            client.logout()
        except (imaplib.IMAP4.error, OSError, EOFError):
            # Logging out of a server that already went away: nothing left to clean up.
            try:
                client.shutdown()
            except OSError:
                pass

    def search_uids(self, *, after_uid: int | None) -> list[int]:
        """UIDs above ``after_uid``, or every \\Unseen message when ``after_uid`` is None."""
        criteria = "UNSEEN" if after_uid is None else f"UID {after_uid + 1}:*"
        with self._errors(_("searching the mailbox on")):
            status, data = self._require_client().uid("SEARCH", None, criteria)
            self._expect_ok(status, "SEARCH")
        uids = sorted({int(token) for line in data if line for token in line.split()})
        # "n:*" always includes the highest UID, even when it is below n (RFC 3501 §6.4.8).
        return [uid for uid in uids if after_uid is None or uid > after_uid]

    def fetch_sizes(self, uids: Sequence[int]) -> dict[int, int]:
        if not uids:
            return {}
        with self._errors(_("reading from")):
            status, data = self._require_client().uid("FETCH", uid_set(uids), "(RFC822.SIZE)")
            self._expect_ok(status, "FETCH")
        sizes: dict[int, int] = {}
        for line in data:
            text = line[0] if isinstance(line, tuple) else line
            if not isinstance(text, bytes):
                continue
            uid_match, size_match = _UID_RE.search(text), _SIZE_RE.search(text)
            if uid_match and size_match:
                sizes[int(uid_match.group(1))] = int(size_match.group(1))
        return sizes

    def fetch(self, uids: Sequence[int]) -> list[FetchedMessage]:
        """Fetch whole messages with BODY.PEEK[], which leaves \\Seen alone (ING-5)."""
        if not uids:
            return []
        with self._errors(_("reading from")):
            status, data = self._require_client().uid("FETCH", uid_set(uids), "(UID INTERNALDATE BODY.PEEK[])")
            self._expect_ok(status, "FETCH")
        wanted = set(uids)
        messages = [message for message in _parse_fetch_response(data) if message.uid in wanted]
        return sorted(messages, key=lambda message: message.uid)

    def mark_seen(self, uids: Iterable[int]) -> None:
        uids = sorted(set(uids))
        if not uids:
            return
        with self._errors(_("updating flags on")):
            status, _data = self._require_client().uid("STORE", uid_set(uids), "+FLAGS.SILENT", r"(\Seen)")
            self._expect_ok(status, "STORE")

    # -- helpers ----------------------------------------------------------------------------

    def _require_client(self) -> imaplib.IMAP4:
        if self._client is None:
            raise ImapError(_("IMAP: not connected."))
        return self._client

    def _read_status_code(self, client: imaplib.IMAP4, name: str) -> int:
        _typ, values = client.response(name)
        for value in values or []:
            if value and value.strip().isdigit():
                return int(value)
        # Not in the SELECT answer: ask for it.
        status, data = client.status(MAILBOX, f"({name})")
        match = re.search(rb"%s (\d+)" % name.encode(), data[0] or b"") if status == "OK" and data else None
        if match is None:
            raise ImapError(
                _("IMAP: %(host)s did not report the mailbox's %(name)s.") % {"host": self.settings.host, "name": name}
            )
        return int(match.group(1))

    def _expect_ok(self, status: str, command: str) -> None:
        if status != "OK":
            raise ImapError(
                _("IMAP: %(host)s refused the %(command)s command.") % {"host": self.settings.host, "command": command}
            )

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn whatever imaplib or the socket raises into an ImapError with a plain sentence."""
        params = {"server": self.server, "doing": doing}
        try:
            yield
        except ImapError:
            raise
        except imaplib.IMAP4.abort as exc:
            raise ImapError(_("IMAP: %(server)s closed the connection while %(doing)s it.") % params) from exc
        except imaplib.IMAP4.error as exc:
            params["detail"] = str(exc)[:200]
            raise ImapError(
                _("IMAP: %(server)s answered with an error while %(doing)s it (%(detail)s).") % params
            ) from exc
        except (OSError, EOFError) as exc:
            raise ImapError(describe_network_error(exc, "IMAP", self.server)) from exc


def uid_set(uids: Iterable[int]) -> str:
    """Compress UIDs into an IMAP sequence set: [1, 2, 3, 7] → "1:3,7"."""
    return ",".join(f"{start}:{end}" if start != end else str(start) for start, end in _runs(sorted(set(uids))))


def _runs(uids: Sequence[int]) -> Iterator[tuple[int, int]]:
    if not uids:
        return
    start = previous = uids[0]
    for uid in uids[1:]:
        if uid != previous + 1:
            yield start, previous
            start = uid
        previous = uid
    yield start, previous


_UID_RE = re.compile(rb"\bUID (\d+)")
_SIZE_RE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_INTERNALDATE_RE = re.compile(
    rb'INTERNALDATE "\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})"'
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1
    )
}


def _parse_fetch_response(data: Sequence[object]) -> list[FetchedMessage]:
    """Pair each literal with its UID and INTERNALDATE.

    imaplib returns ``(b'1 (UID 5 INTERNALDATE "…" BODY[] {123}', raw)`` followed by the rest of
    the line as plain bytes; servers may put UID or INTERNALDATE after the literal, so both the
    prefix and the trailing piece are searched.
    """
    messages: list[FetchedMessage] = []
    items = list(data)
    for index, item in enumerate(items):
        if not isinstance(item, tuple) or len(item) != 2:
            continue
        prefix, raw = item
        if not isinstance(prefix, bytes) or not isinstance(raw, bytes):
            continue
        following = items[index + 1] if index + 1 < len(items) else b""
        meta = prefix + (following if isinstance(following, bytes) else b"")
        uid_match = _UID_RE.search(meta)
        if uid_match is None:
            continue
        messages.append(FetchedMessage(uid=int(uid_match.group(1)), raw=raw, internal_date=_internal_date(meta)))
    return messages


def _internal_date(meta: bytes) -> datetime | None:
    """INTERNALDATE ("17-Jul-1996 02:44:25 -0700") as an aware UTC datetime, None if unreadable."""
    match = _INTERNALDATE_RE.search(meta)
    if match is None:
        return None
    day, month_name, year, hour, minute, second, sign, off_h, off_m = (g.decode() for g in match.groups())
    month = _MONTHS.get(month_name.lower())
    if month is None:
        return None
    offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (-1 if sign == "-" else 1)
    try:
        local = datetime(int(year), month, int(day), int(hour), int(minute), int(second), tzinfo=timezone(offset))
    except ValueError:
        return None
    return local.astimezone(UTC)
