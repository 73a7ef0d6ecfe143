"""Where an incoming message goes (ING-3), as a pure function over plain data.

No database here: the poller loads a manager's boards and keywords once per poll into
``BoardCandidate`` values and asks ``route_message`` for each message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from standby.models import StandbyReason


@dataclass(frozen=True)
class BoardCandidate:
    board_id: int
    keywords: tuple[str, ...] = ()
    is_archived: bool = False
    has_exclusive_inbox: bool = False


@dataclass(frozen=True)
class RoutingDecision:
    """Exactly one of ``board_id`` and ``standby_reason`` is set."""

    board_id: int | None = None
    standby_reason: StandbyReason | None = None
    matched_keyword: str = ""


def route_message(
    *, subject: str, exclusive_board: BoardCandidate | None, boards: Sequence[BoardCandidate]
) -> RoutingDecision:
    """ING-3, first match wins.

    1. The board the receiving inbox is exclusive to, unless it is archived.
    2. A keyword found (case-insensitively) in the subject, among the manager's non-archived
       boards that have no exclusive inbox. When keywords of several boards match, the one found
       earliest in the subject wins, then the longest, then the lowest board id, so the answer
       never depends on the order the boards were loaded in.
    3. Otherwise the standby queue: ``no_keyword_match`` when some board could have taken the
       message, ``no_board_match`` when the manager has no board open to email at all.
    """
    if exclusive_board is not None and not exclusive_board.is_archived:
        return RoutingDecision(board_id=exclusive_board.board_id)
    open_boards = [board for board in boards if not board.is_archived and not board.has_exclusive_inbox]
    match = _best_keyword_match(subject, open_boards)
    if match is not None:
        board_id, keyword = match
        return RoutingDecision(board_id=board_id, matched_keyword=keyword)
    if not open_boards:
        return RoutingDecision(standby_reason=StandbyReason.NO_BOARD_MATCH)
    return RoutingDecision(standby_reason=StandbyReason.NO_KEYWORD_MATCH)


def _best_keyword_match(subject: str, boards: Iterable[BoardCandidate]) -> tuple[int, str] | None:
    haystack = subject.casefold()
    best: tuple[int, int, int] | None = None
    best_keyword = ""
    for board in boards:
        for keyword in board.keywords:
            needle = keyword.strip().casefold()
            if not needle:
                continue
            position = haystack.find(needle)
            if position < 0:
                continue
            rank = (position, -len(needle), board.board_id)
            if best is None or rank < best:
                best, best_keyword = rank, keyword
    if best is None:
        return None
    return best[2], best_keyword
