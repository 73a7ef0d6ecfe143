"""Hostile text for page tests: what a reporter, a sender or a manager could type into a title, a
subject, a name or an address, tagged with the field it goes into so a failure names the field."""

from __future__ import annotations

from django.utils.html import escape

# A script element, an attribute break-out and a textarea break-out.
ATTACKS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</textarea><svg onload=alert(1)>")


def hostile(field: str) -> str:
    """A value for ``field`` carrying every attack (under 120 characters: it fits a board name)."""
    return f"{field} {''.join(ATTACKS)}"


def assert_shown_escaped(html: str, *texts: str) -> None:
    """Each text is on the page, escaped, and no attack is on it raw anywhere."""
    for text in texts:
        assert text not in html, f"shown unescaped: {text!r}"
        assert escape(text) in html, f"not shown (escaped): {text!r}"
    for attack in ATTACKS:
        assert attack not in html, f"unescaped markup on the page: {attack!r}"
