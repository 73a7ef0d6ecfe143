"""Writes on boards (BRD-1 … BRD-3)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inboxes.models import Inbox

from .models import Board, Keyword


class BoardError(Exception):
    """A refused change, with a message fit for the manager."""


def _set_keywords(*, board: Board, keywords: list[str]) -> None:
    wanted = {k.lower(): k for k in keywords}
    existing = {kw.text.lower(): kw for kw in board.keywords.all()}
    Keyword.objects.filter(pk__in=[kw.pk for key, kw in existing.items() if key not in wanted]).delete()
    Keyword.objects.bulk_create(
        [
            Keyword(manager_id=board.manager_id, board=board, text=text)
            for key, text in wanted.items()
            if key not in existing
        ]
    )


def board_create(
    *,
    manager: Any,
    name: str,
    unique_name: str,
    greeting: str,
    keywords: list[str],
    exclusive_inbox: Inbox | None,
) -> Board:
    try:
        with transaction.atomic():
            board = Board.objects.create(
                manager=manager, name=name, unique_name=unique_name, greeting=greeting, exclusive_inbox=exclusive_inbox
            )
            _set_keywords(board=board, keywords=keywords)
    except IntegrityError as exc:
        # The form checked first; this is the race where someone else took the name meanwhile.
        raise BoardError(_("That public address or a keyword was just taken. Please check and try again.")) from exc
    return board


def board_update(
    *,
    board: Board,
    name: str,
    unique_name: str,
    greeting: str,
    keywords: list[str],
    exclusive_inbox: Inbox | None,
) -> Board:
    try:
        with transaction.atomic():
            board.name = name
            board.unique_name = unique_name
            board.greeting = greeting
            board.exclusive_inbox = exclusive_inbox
            board.save(update_fields=["name", "unique_name", "greeting", "exclusive_inbox"])
            _set_keywords(board=board, keywords=keywords)
    except IntegrityError as exc:
        raise BoardError(_("That public address or a keyword was just taken. Please check and try again.")) from exc
    return board


def board_archive(*, board: Board) -> Board:
    """Irreversible (BRD-3): no new tickets; existing ones stay readable and movable."""
    if not board.is_archived:
        board.is_archived = True
        board.archived_at = timezone.now()
        board.save(update_fields=["is_archived", "archived_at"])
    return board


def board_delete(*, board: Board) -> None:
    with transaction.atomic():
        locked = Board.objects.select_for_update().get(pk=board.pk)
        if not locked.can_be_deleted:
            raise BoardError(_("A board with tickets that are not rejected cannot be deleted; archive it instead."))
        locked.delete()
