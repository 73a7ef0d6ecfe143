"""Plain sentences for network failures, one wording for IMAP, SMTP and the connection test."""

from __future__ import annotations

import socket
import ssl

from django.utils.translation import gettext as _


def describe_network_error(exc: BaseException, protocol: str, server: str) -> str:
    """A plain sentence for a socket-level failure (DNS, refused, timeout, TLS)."""
    params = {"protocol": protocol, "server": server, "host": server.rsplit(":", 1)[0]}
    if isinstance(exc, socket.gaierror):
        return _("%(protocol)s: the server name %(host)s could not be found. Check the host name.") % params
    if isinstance(exc, ssl.SSLCertVerificationError):
        params["detail"] = exc.verify_message or str(exc)
        return _("%(protocol)s: the certificate of %(server)s could not be verified (%(detail)s).") % params
    if isinstance(exc, ssl.SSLError):
        return (
            _(
                "%(protocol)s: a secure (TLS) connection to %(server)s could not be made. "
                "Check the port and the SSL setting."
            )
            % params
        )
    if isinstance(exc, TimeoutError):
        return _("%(protocol)s: %(server)s did not answer in time.") % params
    if isinstance(exc, ConnectionRefusedError):
        return _("%(protocol)s: connection refused by %(server)s. Check the host and port.") % params
    if isinstance(exc, ConnectionResetError | BrokenPipeError | EOFError):
        return _("%(protocol)s: %(server)s closed the connection unexpectedly.") % params
    if isinstance(exc, OSError) and exc.errno is not None and "unreachable" in str(exc).lower():
        return _("%(protocol)s: %(server)s cannot be reached from here.") % params
    params["detail"] = f"{exc.__class__.__name__}: {exc}"[:200]
    return _("%(protocol)s: talking to %(server)s failed (%(detail)s).") % params


def internal_host_message(protocol: str, host: str) -> str:
    return _(
        "%(protocol)s: %(host)s points inside the server's own network (a private, local or reserved "
        "address), which inboxes may not use. Enter the public name of your mail server."
    ) % {"protocol": protocol, "host": host}
