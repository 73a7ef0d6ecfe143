"""THR-4: quoted history is folded away on the page, never lost."""

from __future__ import annotations

import pytest

from tickets.quoting import fold_quoted


@pytest.mark.parametrize(
    ("body", "own", "quoted"),
    [
        (
            "Still broken.\n\nOn Mon, 1 Dec 2026 at 10:00, Tracker <t@x> wrote:\n> old text",
            "Still broken.",
            "On Mon, 1 Dec 2026 at 10:00, Tracker <t@x> wrote:\n> old text",
        ),
        ("Nadal nie działa.\n\nW dniu 01.12.2026 o 10:00 Tracker pisze:\n> stare", "Nadal nie działa.", "W dniu"),
        ("Thanks\n-----Original Message-----\nFrom: x", "Thanks", "-----Original Message-----\nFrom: x"),
        # An inline answer keeps its quotes in place: only a trailing block is history.
        ("Top\n> quoted\nBottom", "Top\n> quoted\nBottom", ""),
        ("New words\n\n> old line 1\n> old line 2\n", "New words", "> old line 1\n> old line 2"),
        # Nothing but quotes: shown whole, so nothing is hidden.
        ("> only quoted", "> only quoted", ""),
    ],
)
def test_fold_quoted(body, own, quoted):
    folded = fold_quoted(body)
    assert folded.own == own
    assert folded.quoted.startswith(quoted)


def test_folding_loses_nothing():
    body = "Answer\n\nOn Tue, Bob wrote:\n> question\n>> older\n\nSignature"
    folded = fold_quoted(body)
    assert folded.own == "Answer"
    assert folded.quoted == body[len("Answer\n\n") :]
