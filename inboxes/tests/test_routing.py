"""ING-3 routing as a pure function: no database."""

from __future__ import annotations

from inboxes.routing import BoardCandidate, route_message
from standby.models import StandbyReason


def board(board_id: int, *keywords: str, archived: bool = False, exclusive: bool = False) -> BoardCandidate:
    return BoardCandidate(board_id=board_id, keywords=keywords, is_archived=archived, has_exclusive_inbox=exclusive)


def test_exclusive_board_wins_over_keywords():
    decision = route_message(
        subject="Printer broken", exclusive_board=board(1, exclusive=True), boards=[board(2, "printer")]
    )
    assert decision.board_id == 1


def test_archived_exclusive_board_falls_back_to_keywords():
    decision = route_message(
        subject="Printer broken",
        exclusive_board=board(1, archived=True, exclusive=True),
        boards=[board(1, archived=True, exclusive=True), board(2, "printer")],
    )
    assert decision.board_id == 2
    assert decision.matched_keyword == "printer"


def test_keyword_match_is_case_insensitive_substring():
    decision = route_message(subject="Re: the PRINTERS are down", exclusive_board=None, boards=[board(5, "printer")])
    assert decision.board_id == 5


def test_keywords_with_non_ascii_letters_match_case_insensitively():
    decision = route_message(subject="ZGŁOSZENIE: faktura", exclusive_board=None, boards=[board(3, "zgłoszenie")])
    assert decision.board_id == 3


def test_boards_with_an_exclusive_inbox_or_archived_take_no_keyword_mail():
    boards = [board(1, "printer", exclusive=True), board(2, "printer", archived=True), board(3, "other")]
    decision = route_message(subject="printer", exclusive_board=None, boards=boards)
    assert decision.board_id is None
    assert decision.standby_reason == StandbyReason.NO_KEYWORD_MATCH


def test_earliest_keyword_in_the_subject_wins_then_longest_then_lowest_id():
    boards = [board(9, "invoice"), board(4, "printer"), board(7, "printer paper")]
    assert route_message(subject="invoice for printer", exclusive_board=None, boards=boards).board_id == 9
    assert route_message(subject="printer paper invoice", exclusive_board=None, boards=boards).board_id == 7
    tie = [board(8, "vpn"), board(2, "VPN")]
    assert route_message(subject="vpn down", exclusive_board=None, boards=tie).board_id == 2


def test_blank_keywords_never_match():
    decision = route_message(subject="anything", exclusive_board=None, boards=[board(1, "", "  ")])
    assert decision.standby_reason == StandbyReason.NO_KEYWORD_MATCH


def test_no_open_board_at_all_is_no_board_match():
    decision = route_message(subject="hello", exclusive_board=None, boards=[board(1, "hello", archived=True)])
    assert decision.standby_reason == StandbyReason.NO_BOARD_MATCH
    assert route_message(subject="x", exclusive_board=None, boards=[]).standby_reason == StandbyReason.NO_BOARD_MATCH
