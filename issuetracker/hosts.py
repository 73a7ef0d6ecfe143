"""Which hosts the server may connect to for a manager: none inside its own network (SSRF).

A manager types the IMAP and SMTP host names, and the server connects to them and reports what
happened ("connection refused", "did not answer in time"). Pointed at ``localhost``, a Docker
service name or a private address, that would be a port scanner of our own network. So hosts
that are, or resolve to, private, loopback, link-local, multicast or reserved addresses are
refused, when the form is saved and again right before each connection (DNS can change after
saving). ``settings.INBOX_ALLOW_PRIVATE_HOSTS`` lifts this for development and the test suite,
which use local mail servers.

Each name is checked by resolving it first; the client then resolves it again to connect. A DNS
server that answers differently within that moment (rebinding) is not caught here: a firewall
on the workers' outgoing connections is the complete answer to that.
"""

from __future__ import annotations

import ipaddress
import socket
import threading

from django.conf import settings

RESOLVE_TIMEOUT_SECONDS = 3.0

type IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class InternalHostError(Exception):
    """The host is, or resolves to, an address inside the server's own network."""

    def __init__(self, host: str) -> None:
        super().__init__(host)
        self.host = host


def private_hosts_allowed() -> bool:
    return bool(getattr(settings, "INBOX_ALLOW_PRIVATE_HOSTS", False))


def is_internal_address(address: IPAddress) -> bool:
    # An IPv4 address wrapped in IPv6 (::ffff:10.0.0.1, 6to4, Teredo) is judged by what it wraps.
    if isinstance(address, ipaddress.IPv6Address):
        wrapped = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
        if any(inner is not None and is_internal_address(inner) for inner in wrapped):
            return True
    return (
        not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def resolve(host: str) -> list[IPAddress]:
    """The addresses ``host`` stands for; raises ``socket.gaierror`` when it has none in time.

    getaddrinfo has no timeout of its own, so it runs in a daemon thread that is left behind
    (and ends with the resolver's own timeout) when it takes too long.
    """
    literal = _literal_address(host)
    if literal is not None:
        return [literal]
    answer: list[object] = []

    def lookup() -> None:
        try:
            answer.append(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM))
        except OSError as exc:
            answer.append(exc)

    thread = threading.Thread(target=lookup, name="inbox-host-lookup", daemon=True)
    thread.start()
    thread.join(RESOLVE_TIMEOUT_SECONDS)
    if not answer:
        raise socket.gaierror(socket.EAI_AGAIN, f"looking up {host} took more than {RESOLVE_TIMEOUT_SECONDS:g} s")
    result = answer[0]
    if isinstance(result, OSError):
        raise result
    assert isinstance(result, list)
    return [ipaddress.ip_address(sockaddr[0].split("%", 1)[0]) for *_rest, sockaddr in result]


def host_is_internal(host: str) -> bool:
    """For the settings form: True when the host certainly points inside our own network.

    A name that does not resolve (yet) is left to "Test connection" and to the check at connect
    time, which refuse it then.
    """
    if private_hosts_allowed():
        return False
    try:
        addresses = resolve(host)
    except OSError:
        return False
    return any(is_internal_address(address) for address in addresses)


def ensure_public_host(host: str) -> None:
    """Right before connecting: raise InternalHostError, or socket.gaierror when it cannot be resolved."""
    if private_hosts_allowed():
        return
    if any(is_internal_address(address) for address in resolve(host)):
        raise InternalHostError(host)


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return None
