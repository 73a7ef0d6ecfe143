"""One spelling per mailbox, for limits counted per person (THR-6).

A limit on "mail to one address per hour" is only as good as the address it counts on:
`Rita@Example.org`, `rita+1@example.org`, `"rita"@example.org`, `rita@(work)example.org` and
`rita@EXAMPLE.org.` all reach the same mailbox, so each would otherwise get its own allowance.
A domain literal (`rita@[192.0.2.1]`) names a server instead of a domain: nothing ties it to a
mailbox anyone could recognise, so it is refused rather than normalised.

Provider rules beyond the standards (Gmail ignoring dots, `-` as a tag separator on some servers)
are left alone: they are not true of mailboxes in general.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")


class DomainLiteralError(ValueError):
    """The address names a server by its IP address instead of naming a domain."""


def normalised_mailbox(address: str) -> str:
    """`address` as `local@domain` in the one spelling every equivalent form shares.

    Compatibility forms are folded (NFKC: a full-width `＠` is an `@`), comments and folding
    white space dropped, a quoted local part unquoted, a `+tag` removed, the domain stripped of
    its trailing dot and IDNA-encoded, and both halves case-folded. Raises DomainLiteralError for
    a domain literal or an IP address in place of the domain, ValueError for what is no address.
    """
    local, domain = _split(unicodedata.normalize("NFKC", address))
    domain = domain.rstrip(".")
    if not local or not domain:
        raise ValueError("not an email address")
    if domain.startswith("[") or _is_ip_address(domain):
        raise DomainLiteralError("the domain is an IP address")
    local = local.split("+", 1)[0] or local
    return f"{local.casefold()}@{_idna(domain.casefold())}"


def _split(text: str) -> tuple[str, str]:
    """Local part (unquoted) and domain, split at the last `@` outside quotes and comments."""
    chars: list[tuple[str, bool]] = []  # (character, is it literal text that cannot be syntax)
    quoted = False
    comment_depth = 0
    position = 0
    while position < len(text):
        char = text[position]
        escaped = text[position + 1] if char == "\\" and position + 1 < len(text) else None
        position += 2 if escaped is not None else 1
        if comment_depth:
            if escaped is None:
                comment_depth += {"(": 1, ")": -1}.get(char, 0)
        elif quoted:
            if escaped is not None:
                chars.append((escaped, True))
            elif char == '"':
                quoted = False
            else:
                chars.append((char, True))
        elif escaped is not None:
            chars.append((escaped, True))
        elif char == '"':
            quoted = True
        elif char == "(":
            comment_depth = 1
        elif not char.isspace():
            chars.append((char, False))
    if quoted or comment_depth:
        raise ValueError("unbalanced quotes or comments")
    at = max((i for i, (char, literal) in enumerate(chars) if char == "@" and not literal), default=-1)
    if at < 0:
        raise ValueError("not an email address")
    return "".join(c for c, _ in chars[:at]), "".join(c for c, _ in chars[at + 1 :])


def _is_ip_address(domain: str) -> bool:
    try:
        ipaddress.ip_address(domain)
    except ValueError:
        # No top-level domain is numeric; a numeric last label is an address in one of the
        # shorthand forms resolvers accept (`127.1`, `0x7f000001`).
        return bool(_NUMERIC_LABEL.fullmatch(domain.rsplit(".", 1)[-1].casefold()))
    return True


def _idna(domain: str) -> str:
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:  # not a valid host name: it still counts, as written
        return domain
