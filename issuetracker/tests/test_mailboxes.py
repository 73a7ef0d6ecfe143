"""THR-6: the normalised mailbox that per-reporter limits count on."""

from __future__ import annotations

import pytest

from issuetracker.mailboxes import DomainLiteralError, normalised_mailbox

RITA = "rita@example.org"


@pytest.mark.parametrize(
    "address",
    [
        "rita@example.org",
        "Rita@Example.ORG",
        "RITA@EXAMPLE.ORG",
        "  rita@example.org \n",
        # sub-addressing
        "rita+tag@example.org",
        "rita+@example.org",
        "rita+a+b@example.org",
        "Rita+Newsletter@Example.org",
        # quoted local parts, whole or in pieces, with escapes
        '"rita"@example.org',
        '"RITA"@example.org',
        '"rita+tag"@example.org',
        '"ri"ta@example.org',
        '"r\\ita"@example.org',
        "r\\ita@example.org",
        # comments and folding white space (RFC 5322 CFWS)
        "rita(home)@example.org",
        "rita@(work)example.org",
        "(x)rita@example.org(y)",
        "rita@example.org (Rita (the (nested) one))",
        "rita @ example.org",
        # the domain's trailing dot names the same host
        "rita@example.org.",
        # compatibility forms (NFKC): full-width letters and at sign
        "ｒｉｔａ＠ｅｘａｍｐｌｅ．ｏｒｇ",
        "rita＠example.org",
    ],
)
def test_equivalent_forms_of_one_mailbox_count_as_one(address):
    assert normalised_mailbox(address) == RITA


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        # Unicode domains and their IDNA form are one domain.
        ("rita@bücher.example", "rita@xn--bcher-kva.example"),
        ("rita@BÜCHER.example", "rita@xn--bcher-kva.example"),
        ("rita@xn--bcher-kva.example", "rita@xn--bcher-kva.example"),
        ("RITA@XN--BCHER-KVA.EXAMPLE", "rita@xn--bcher-kva.example"),
        # A quoted `@` is part of the local part, not the separator.
        ('"rita@home"@example.org', "rita@home@example.org"),
        # Quoting keeps white space that is part of the mailbox name.
        ('"rita smith"@example.org', "rita smith@example.org"),
        # An address that is only a tag keeps it: there is no mailbox name left to count on.
        ("+tag@example.org", "+tag@example.org"),
    ],
)
def test_normalised_spelling(address, expected):
    assert normalised_mailbox(address) == expected


@pytest.mark.parametrize(
    "address",
    ["rita@example.org", "rita.smith@example.org", "rita@example.com", "rita@mail.example.org", "ritb@example.org"],
)
def test_different_mailboxes_stay_different(address):
    others = {"rita@example.org", "rita.smith@example.org", "rita@example.com", "rita@mail.example.org"}
    others.add("ritb@example.org")
    assert {normalised_mailbox(a) for a in others} == others
    assert normalised_mailbox(address) == address


@pytest.mark.parametrize(
    "address",
    [
        "rita@[192.0.2.1]",
        "rita@[IPv6:2001:db8::1]",
        "rita@[ipv6:::1]",
        "Rita+tag@[192.0.2.1]",
        '"rita"@[192.0.2.1]',
        "rita@ [192.0.2.1]",
        "rita@(c)[192.0.2.1]",
        "rita@［192.0.2.1］",  # full-width brackets
        "rita@192.0.2.1",
        "rita@192.0.2.1.",
        "rita@2001:db8::1",
        "rita@127.1",
        "rita@0x7f000001",
        "rita@2130706433",
        "rita@１９２.０.２.１",  # full-width digits
    ],
)
def test_domain_literals_and_ip_addresses_are_refused(address):
    with pytest.raises(DomainLiteralError):
        normalised_mailbox(address)


@pytest.mark.parametrize(
    "address",
    [
        "",
        "   ",
        "rita",
        "rita@",
        "@example.org",
        '"rita@example.org"',
        "rita(@example.org)",
        '"rita@example.org',
        "(rita",
    ],
)
def test_what_is_no_address_is_refused(address):
    with pytest.raises(ValueError):
        normalised_mailbox(address)


def test_a_domain_literal_is_a_value_error_too():
    # Callers that only ask "can we count on this?" catch ValueError and refuse both.
    assert issubclass(DomainLiteralError, ValueError)
