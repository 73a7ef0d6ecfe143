"""Real mail servers for integration tests: a Dovecot IMAP server and an aiosmtpd SMTP server.

Both listen on a free port of 127.0.0.1 and keep all their state in a temporary directory or in
memory, so tests never touch the machine's own mail configuration.

Use the pytest fixtures by registering this module as a plugin in the root ``conftest.py``::

    pytest_plugins = ["testsupport.mailservers"]

Fixtures: ``dovecot`` (session), ``imap_account`` (function, a fresh user on ``dovecot``),
``private_dovecot`` (function, a server of the test's own that it may kill or restart) and
``smtp_server`` (function, AUTH user ``smtpuser`` / ``smtppass``).

When Dovecot is missing or cannot start, the IMAP fixtures fail under ``CI=true`` and skip
elsewhere: CI must never go green without having talked to a real server.
"""

from __future__ import annotations

import contextlib
import email.policy
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, Self, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

LOCALHOST = "127.0.0.1"
STARTUP_TIMEOUT = 10.0
SMTP_USERNAME = "smtpuser"
SMTP_PASSWORD = "smtppass"

# Each user is a file named after them in a colon-separated, line-based format: no path
# separators or dot-names, no colons or newlines.
_SAFE_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
_FORBIDDEN_PASSWORD_CHARS = frozenset(":\r\n\0")


def find_free_port(host: str = LOCALHOST) -> int:
    """Return a TCP port on ``host`` that nobody listens on right now.

    The port is released before the caller binds it, so another process could take it in
    between; callers that start a subprocess retry on "address in use".
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def running_under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def fail_or_skip(reason: str) -> NoReturn:
    """Fail under CI=true, skip elsewhere: a laptop may lack a server, CI may not."""
    if running_under_ci():
        pytest.fail(f"{reason} (CI=true: a required server must be available)", pytrace=False)
    pytest.skip(reason)


# --------------------------------------------------------------------------------------------
# Dovecot IMAP
# --------------------------------------------------------------------------------------------


class DovecotUnavailable(RuntimeError):
    """Dovecot is not installed, not supported, or did not come up."""


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    username: str
    password: str


@dataclass(frozen=True)
class _ProcessUsers:
    """The system users Dovecot's processes and mail files run as."""

    internal_user: str
    internal_group: str
    login_user: str
    mail_uid: int
    mail_gid: int


def _find_dovecot_binary() -> str | None:
    # /usr/sbin is often missing from a non-root PATH, and that is where Debian puts it.
    found = shutil.which("dovecot")
    if found:
        return found
    fallback = Path("/usr/sbin/dovecot")
    return str(fallback) if os.access(fallback, os.X_OK) else None


def _group_name(gid: int) -> str:
    return grp.getgrgid(gid).gr_name


def _existing_user(*names: str) -> pwd.struct_passwd | None:
    for name in names:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    return None


def _choose_process_users() -> _ProcessUsers:
    if os.geteuid() != 0:
        # Without root Dovecot cannot switch users, so every process and every mail file
        # belongs to whoever runs the tests.
        me = pwd.getpwuid(os.geteuid())
        return _ProcessUsers(
            internal_user=me.pw_name,
            internal_group=_group_name(me.pw_gid),
            login_user=me.pw_name,
            mail_uid=me.pw_uid,
            mail_gid=me.pw_gid,
        )
    # As root (how CI runs) Dovecot refuses to run login processes as root and refuses mail
    # access with UID 0, so use the unprivileged users the Debian package creates.
    internal = _existing_user("dovecot", "nobody")
    login = _existing_user("dovenull", "nobody")
    mail = _existing_user("nobody")
    if internal is None or login is None or mail is None:
        raise DovecotUnavailable(
            "running as root but none of the users dovecot/dovenull/nobody exist; "
            "install dovecot-imapd (apt-get install -y dovecot-imapd)"
        )
    return _ProcessUsers(
        internal_user=internal.pw_name,
        internal_group=_group_name(internal.pw_gid),
        login_user=login.pw_name,
        mail_uid=mail.pw_uid,
        mail_gid=mail.pw_gid,
    )


def _dovecot_version(binary: str) -> tuple[int, int]:
    try:
        result = subprocess.run(
            [binary, "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise DovecotUnavailable(f"{binary} --version failed: {exc}") from exc
    match = re.match(r"(\d+)\.(\d+)", result.stdout.strip())
    if match is None:
        raise DovecotUnavailable(f"cannot parse dovecot version from {result.stdout!r}")
    return int(match.group(1)), int(match.group(2))


def _render_dovecot_conf(*, root: Path, port: int, users: _ProcessUsers, users_dir: Path) -> str:
    # Written for Dovecot 2.3 (Debian 12). 2.4 renamed most of these settings
    # (auth_allow_cleartext, mail_driver/mail_path, passdb blocks), which start() refuses.
    return f"""\
# Generated by testsupport.mailservers; includes nothing from /etc/dovecot.
protocols = imap
listen = {LOCALHOST}
base_dir = {root / "run"}
state_dir = {root / "state"}
log_path = {root / "dovecot.log"}
instance_name = dovecot-test-{port}

# Tests talk plain IMAP on loopback; production code must still insist on TLS.
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
# Tests that try a wrong password should not wait the default 2 s per attempt.
auth_failure_delay = 0

default_internal_user = {users.internal_user}
default_internal_group = {users.internal_group}
default_login_user = {users.login_user}
first_valid_uid = {users.mail_uid}
first_valid_gid = {users.mail_gid}

mail_location = maildir:~/Maildir

# One passwd-file per user: Dovecot re-stats a passwd-file at most once a second, so a user
# added to a shared file could be unknown to a login right after add_user(). A new user's file
# has never been read and is opened on first use.
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users_dir}/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {users_dir}/%u
}}

protocol imap {{
  # Pollers under test open several connections per user; the default of 10 is tight.
  mail_max_userip_connections = 100
}}

service imap-login {{
  # chroot needs root and buys nothing in a test; leaving it empty also works unprivileged.
  chroot =
  inet_listener imap {{
    address = {LOCALHOST}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  # Without this socket the auth process skips its per-IP penalty, which otherwise delays
  # every login from 127.0.0.1 by up to 15 s once a test has used a wrong password.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def _read_tail(path: Path, offset: int = 0, lines: int = 30) -> str:
    try:
        with path.open("rb") as file:
            file.seek(offset)
            text = file.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class DovecotServer:
    """A Dovecot IMAP server in a temporary directory, listening on 127.0.0.1.

    Users live in a passwd-file with plaintext passwords (test accounts only) and their mail in
    Maildirs under the same directory. ``stop()``/``kill()``/``restart()`` keep the data and the
    port, so a test can take the server away from code under test and bring it back.
    """

    def __init__(self, *, startup_timeout: float = STARTUP_TIMEOUT) -> None:
        self.startup_timeout = startup_timeout
        self._host = LOCALHOST
        self._port: int | None = None
        self._root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._passwords: dict[str, str] = {}
        self._users_lock = threading.Lock()
        self._process_users: _ProcessUsers | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("DovecotServer has not been started")
        return self._port

    @property
    def data_dir(self) -> Path:
        if self._root is None:
            raise RuntimeError("DovecotServer has not been started")
        return self._root

    @property
    def log_path(self) -> Path:
        return self.data_dir / "dovecot.log"

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start Dovecot and wait until it greets with ``* OK``.

        Raises DovecotUnavailable with the tail of the log when it does not come up.
        """
        if self.is_running:
            return
        binary = _find_dovecot_binary()
        if binary is None:
            raise DovecotUnavailable("dovecot is not installed; install it with apt-get install -y dovecot-imapd")
        version = _dovecot_version(binary)
        if version >= (2, 4):
            raise DovecotUnavailable(
                f"dovecot {version[0]}.{version[1]} is installed but the test config is written "
                "for 2.3 (2.4 renamed the auth and mail settings)"
            )
        if self._root is None:
            self._prepare_data_dir()
        if self._port is not None:
            # A restart must come back where the code under test expects it.
            self._launch(binary, self._port)
            return
        # The free port is released before Dovecot binds it, so another process may win the
        # race; pick another one in that case.
        last_error: DovecotUnavailable | None = None
        for _attempt in range(3):
            port = find_free_port(self._host)
            try:
                self._launch(binary, port)
            except DovecotUnavailable as exc:
                if "Address already in use" not in str(exc):
                    raise
                last_error = exc
                continue
            self._port = port
            return
        assert last_error is not None
        raise last_error

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM Dovecot and wait for it and its children; data and port are kept."""
        self._terminate(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL Dovecot and all its processes at once, as a crash would."""
        self._terminate(signal.SIGKILL, 10.0)

    def restart(self) -> None:
        """Stop (if running) and start again on the same port with the same users and mail."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def _prepare_data_dir(self) -> None:
        self._process_users = _choose_process_users()
        root = Path(tempfile.mkdtemp(prefix="dovecot-test-"))
        # Dovecot's auth process and the mail processes run as other users when we are root;
        # they must be able to reach the users file and the Maildirs.
        root.chmod(0o755)
        mail_root = root / "mail"
        mail_root.mkdir()
        if os.geteuid() == 0:
            os.chown(mail_root, self._process_users.mail_uid, self._process_users.mail_gid)
        (root / "users").mkdir(mode=0o755)
        self._root = root

    def _launch(self, binary: str, port: int) -> None:
        root = self.data_dir
        assert self._process_users is not None
        conf = root / "dovecot.conf"
        conf.write_text(
            _render_dovecot_conf(
                root=root,
                port=port,
                users=self._process_users,
                users_dir=root / "users",
            )
        )
        # After a kill the pid file survives; Dovecot would refuse to start if that pid has
        # been reused by an unrelated process.
        (root / "run" / "master.pid").unlink(missing_ok=True)
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        console_path = root / "dovecot.console"
        console_offset = console_path.stat().st_size if console_path.exists() else 0
        with console_path.open("ab") as console:
            # Its own session makes every Dovecot child share one process group, which
            # kill()/stop() signal as a whole so no imap-login keeps the port open.
            self._process = subprocess.Popen(
                [binary, "-F", "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=console,
                start_new_session=True,
            )
        try:
            self._wait_until_ready(port)
        except DovecotUnavailable as exc:
            # The port may belong to someone else (that can be why we failed): don't wait on it.
            self._terminate(signal.SIGKILL, 5.0, wait_for_port=False)
            raise DovecotUnavailable(
                f"{exc}\n--- dovecot console ---\n{_read_tail(console_path, console_offset)}"
                f"\n--- dovecot log since this start ---\n{_read_tail(self.log_path, log_offset)}"
            ) from None

    def _wait_until_ready(self, port: int) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        last_problem = "no connection attempt yet"
        while time.monotonic() < deadline:
            returncode = self._process.poll()
            if returncode is not None:
                raise DovecotUnavailable(f"dovecot exited with code {returncode} during startup")
            # The master accepts connections before imap-login works (e.g. when it refuses to
            # run), so only a real IMAP greeting counts as ready.
            try:
                with socket.create_connection((self._host, port), timeout=1.0) as sock:
                    greeting = sock.makefile("rb").readline()
            except OSError as exc:
                last_problem = f"connect: {exc}"
            else:
                if greeting.startswith(b"* OK"):
                    return
                last_problem = f"greeting was {greeting!r}"
            time.sleep(0.05)
        raise DovecotUnavailable(
            f"dovecot did not greet with '* OK' on {self._host}:{port} within "
            f"{self.startup_timeout:g} s ({last_problem})"
        )

    def _terminate(self, sig: signal.Signals, timeout: float, *, wait_for_port: bool = True) -> None:
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                if sig == signal.SIGKILL:
                    os.killpg(process.pid, sig)
                else:
                    # The master forwards SIGTERM to its services and shuts them down cleanly.
                    process.send_signal(sig)
            if not self._wait_exited_unreaped(process.pid, timeout):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
        # While the master is an unreaped zombie its pid still names our process group, so
        # this cannot hit an unrelated group: sweep up children that outlived the master.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)
        self._process = None
        if wait_for_port:
            self._wait_port_closed()

    @staticmethod
    def _wait_exited_unreaped(pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return True
            if info is not None:
                return True
            time.sleep(0.02)
        return False

    def _wait_port_closed(self, timeout: float = 5.0) -> None:
        # Children killed with the group may take a moment to release the listener; a
        # restart right after would otherwise fail with "address in use".
        if self._port is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self._host, self._port), timeout=0.5):
                    pass
            except OSError:
                return
            time.sleep(0.05)

    # -- users and mail -----------------------------------------------------------------------

    def add_user(self, username: str, password: str) -> None:
        """Create (or change the password of) a user; takes effect without a reload."""
        if not _SAFE_USERNAME.match(username):
            raise ValueError(f"unsupported IMAP test username {username!r}")
        if _FORBIDDEN_PASSWORD_CHARS.intersection(password):
            raise ValueError("IMAP test passwords may not contain ':', newlines or NUL")
        users = self._process_users
        if users is None:
            raise RuntimeError("start the DovecotServer before adding users")
        home = self.data_dir / "mail" / username
        # user:password:uid:gid:gecos:home:shell:extra fields; the home holds ~/Maildir.
        line = f"{username}:{{PLAIN}}{password}:{users.mail_uid}:{users.mail_gid}::{home}::\n"
        user_file = self.data_dir / "users" / username
        with self._users_lock:
            changed_password = self._passwords.get(username, password) != password
            # Write then rename so the auth process never reads a half-written file; the dot
            # keeps the temporary name apart from every valid username.
            tmp = user_file.with_name(f".{username}.{uuid.uuid4().hex}")
            tmp.write_text(line)
            tmp.chmod(0o644)
            tmp.replace(user_file)
            self._passwords[username] = password
        if changed_password:
            self._wait_until_login_works(username, password)

    def _wait_until_login_works(self, username: str, password: str, timeout: float = 5.0) -> None:
        # An existing user's file may have been read in this very second, and Dovecot re-stats
        # it at most once a second, so the old password can work for a moment longer.
        deadline = time.monotonic() + timeout
        while True:
            client = imaplib.IMAP4(self._host, self.port, timeout=10)
            try:
                client.login(username, password)
                return
            except imaplib.IMAP4.error:
                if time.monotonic() >= deadline:
                    raise
            finally:
                with contextlib.suppress(imaplib.IMAP4.error, OSError):
                    client.logout()
            time.sleep(0.1)

    @contextlib.contextmanager
    def connect(self, username: str) -> Iterator[imaplib.IMAP4]:
        """An IMAP connection logged in as ``username``; logs out on exit."""
        try:
            password = self._passwords[username]
        except KeyError:
            raise KeyError(f"no IMAP test user {username!r}; call add_user() first") from None
        client = imaplib.IMAP4(self._host, self.port, timeout=10)
        try:
            client.login(username, password)
            yield client
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                client.logout()

    def append(self, username: str, raw: bytes, flags: str = "", *, mailbox: str = "INBOX") -> int:
        """APPEND ``raw`` to the user's mailbox and return its UID.

        ``flags`` is IMAP syntax, e.g. ``"\\\\Seen"`` or ``"\\\\Seen \\\\Flagged"``.
        """
        with self.connect(username) as client:
            status, data = client.append(mailbox, flags or None, None, raw)
            _expect_ok(status, data, "APPEND")
        match = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
        if match is None:
            raise RuntimeError(f"APPEND returned no UID: {data!r}")
        return int(match.group(1))

    def fetch_flags(self, username: str, *, mailbox: str = "INBOX") -> dict[int, set[str]]:
        """UID -> flags of every message, read without changing anything."""
        with self.connect(username) as client:
            count = _examine(client, mailbox)
            if count == 0:
                return {}
            status, data = client.uid("FETCH", "1:*", "(FLAGS)")
            _expect_ok(status, data, "UID FETCH")
        flags_by_uid: dict[int, set[str]] = {}
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            uid_match = re.search(rb"UID (\d+)", line)
            flags_match = re.search(rb"FLAGS \(([^)]*)\)", line)
            if uid_match is None or flags_match is None:
                continue
            flags = set(flags_match.group(1).decode().split())
            # \Recent belongs to whichever session saw the message first, not to the
            # message; leaving it out keeps assertions about stored flags stable.
            flags.discard("\\Recent")
            flags_by_uid[int(uid_match.group(1))] = flags
        return flags_by_uid

    def message_count(self, username: str, *, mailbox: str = "INBOX") -> int:
        with self.connect(username) as client:
            return _examine(client, mailbox)


def _expect_ok(status: str, data: list[Any], command: str) -> None:
    if status != "OK":
        raise RuntimeError(f"IMAP {command} failed: {status} {data!r}")


def _examine(client: imaplib.IMAP4, mailbox: str) -> int:
    # EXAMINE (read-only SELECT) so that looking at the mailbox never marks anything \Seen.
    status, data = client.select(mailbox, readonly=True)
    _expect_ok(status, data, "EXAMINE")
    return int(data[0] or b"0")


# --------------------------------------------------------------------------------------------
# SMTP
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage


class _BoundController(Controller):
    """A Controller serving on a socket bound before start, so port 0 needs no guessing."""

    def __init__(self, handler: object, sock: socket.socket, **kwargs: Any) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)
        self._bound_socket = sock

    def _create_server(self) -> Any:
        # aiosmtpd 1.4.6 binds host:port itself; handing it the already bound socket closes
        # the window in which another test could take a port we only picked.
        return self.loop.create_server(self._factory_invoker, sock=self._bound_socket, ssl=self.ssl_context)


class _SmtpHandler:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_MAIL(
        self,
        smtp: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        # Enforced here instead of aiosmtpd's auth_required, which warns when TLS is off.
        if self._server.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        smtp: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self._server.reject_all:
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        if self._server.take_deferral():
            return f"451 4.7.1 <{address}>: Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        self._server._record(
            ReceivedMail(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                raw=raw,
                # policy.default makes the parser build EmailMessage, which typeshed can't see.
                message=cast(
                    EmailMessage,
                    BytesParser(policy=email.policy.default).parsebytes(raw),
                ),
            )
        )
        return "250 Message accepted for delivery"


class SmtpServer:
    """An aiosmtpd server on a free port of 127.0.0.1 that keeps what it receives.

    With ``username``/``password`` it offers AUTH PLAIN and LOGIN without TLS and, unless
    ``require_auth=False``, answers 530 to MAIL from an unauthenticated client. ``reject_all``
    answers 550 to every RCPT; ``fail_auth`` rejects every AUTH with 535. Both are read on each
    command, so a test may flip them on a running server. ``defer_next(n)`` answers the next ``n``
    RCPTs with a temporary 451 (greylisting), as real servers do.
    """

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        require_auth: bool | None = None,
        reject_all: bool = False,
        fail_auth: bool = False,
    ) -> None:
        self.username = username
        self.password = password
        self.require_auth = (username is not None) if require_auth is None else require_auth
        self.reject_all = reject_all
        self.fail_auth = fail_auth
        self._host = LOCALHOST
        self._port: int | None = None
        self._controller: _BoundController | None = None
        self._received: list[ReceivedMail] = []
        self._condition = threading.Condition()
        self._deferrals = 0

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def defer_next(self, times: int) -> None:
        with self._condition:
            self._deferrals = times

    def take_deferral(self) -> bool:
        with self._condition:
            if self._deferrals <= 0:
                return False
            self._deferrals -= 1
            return True

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("SmtpServer has not been started")
        return self._port

    @property
    def received(self) -> list[ReceivedMail]:
        with self._condition:
            return list(self._received)

    def start(self) -> None:
        if self._controller is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, 0))
        controller = _BoundController(
            _SmtpHandler(self),
            sock,
            # A fixed name avoids socket.getfqdn(), which can stall on a machine without DNS.
            server_hostname="localhost",
            auth_require_tls=False,
            authenticator=self._authenticate,
        )
        try:
            controller.start()
        except BaseException:
            sock.close()
            raise
        self._port = int(sock.getsockname()[1])
        self._controller = controller

    def stop(self) -> None:
        if self._controller is None:
            return
        self._controller.stop()
        self._controller = None

    def clear(self) -> None:
        with self._condition:
            self._received.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """Block until at least ``count`` mails arrived; return all of them."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self._received) >= count, timeout):
                raise TimeoutError(
                    f"expected {count} mail(s) on {self._host}:{self._port} within {timeout:g} s,"
                    f" got {len(self._received)}"
                )
            return list(self._received)

    def _record(self, mail: ReceivedMail) -> None:
        with self._condition:
            self._received.append(mail)
            self._condition.notify_all()

    def _authenticate(
        self,
        smtp: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: object,
    ) -> AuthResult:
        accepted = (
            not self.fail_auth
            and self.username is not None
            and isinstance(auth_data, LoginPassword)
            and auth_data.login.decode(errors="replace") == self.username
            and auth_data.password.decode(errors="replace") == self.password
        )
        if accepted:
            return AuthResult(success=True, auth_data=auth_data)
        # handled=False lets aiosmtpd send its standard "535 5.7.8" reply.
        return AuthResult(success=False, handled=False)


# --------------------------------------------------------------------------------------------
# pytest fixtures
# --------------------------------------------------------------------------------------------


def _started_dovecot() -> DovecotServer:
    server = DovecotServer()
    try:
        server.start()
    except DovecotUnavailable as exc:
        server.close()
        fail_or_skip(f"Dovecot IMAP server unavailable: {exc}")
    return server


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """One Dovecot for the whole session; tests isolate themselves through ``imap_account``.

    Do not stop or kill it in a test: use ``private_dovecot`` for that.
    """
    server = _started_dovecot()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def private_dovecot() -> Iterator[DovecotServer]:
    """A Dovecot of this test's own, which the test may stop, kill or restart."""
    server = _started_dovecot()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def imap_account(dovecot: DovecotServer) -> ImapAccount:
    """A fresh user with an empty INBOX on the session's Dovecot."""
    username = f"user-{uuid.uuid4().hex[:12]}"
    password = f"pw-{uuid.uuid4().hex}"
    dovecot.add_user(username, password)
    return ImapAccount(host=dovecot.host, port=dovecot.port, username=username, password=password)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """An SMTP server requiring AUTH as ``smtpuser`` / ``smtppass``."""
    with SmtpServer(username=SMTP_USERNAME, password=SMTP_PASSWORD) as server:
        yield server
