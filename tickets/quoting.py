"""Quoted history in a reporter's mail (THR-4): kept whole, folded away on the page.

Pure functions over text. A reply usually carries the whole conversation below an attribution
line ("On … wrote:") or as ``>`` lines; showing it under every entry would bury what is new,
dropping it would lose what a reporter may have edited inside the quote.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# Where mail clients start quoting the message answered: "On … wrote:", Outlook's separator and
# header block, and the Polish and German forms our reporters' clients use.
_QUOTE_HEADER = re.compile(
    r"^(On .{1,200} wrote:|-{2,} ?Original Message ?-{2,}|W dniu .{1,200} pisze:|Am .{1,200} schrieb .{1,100}:|"
    r"From: .{1,300}|-{2,} ?Wiadomość oryginalna ?-{2,})\s*$",
    re.IGNORECASE,
)


class FoldedText(NamedTuple):
    """``own``: the writer's new words; ``quoted``: the history below them, shown folded."""

    own: str
    quoted: str


def fold_quoted(body: str) -> FoldedText:
    """Split ``body`` at the first attribution line, or at a trailing block of ``>`` lines.

    ``>`` lines between the writer's own paragraphs (an inline answer) stay in place. When
    nothing but quotes is left, the whole text counts as the writer's own, so nothing is hidden.
    """
    lines = body.strip("\n").splitlines()
    cut = len(lines)
    for index, line in enumerate(lines):
        if _QUOTE_HEADER.match(line.strip()):
            cut = index
            break
    # A block of quoted lines (and blank lines) at the end, above the cut, is history as well.
    while cut > 0 and (lines[cut - 1].lstrip().startswith(">") or not lines[cut - 1].strip()):
        cut -= 1
    own = "\n".join(lines[:cut]).strip()
    quoted = "\n".join(lines[cut:]).strip()
    if not own:
        return FoldedText(body.strip(), "")
    return FoldedText(own, quoted)
