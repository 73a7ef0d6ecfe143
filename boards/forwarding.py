"""Forwarding boards to Jira Cloud or Trello (SPEC section 9): settings, creation, failure, retry.

A ticket on a forwarding board is a stub row in the tickets table from the first moment (so its
uuid, and the secret link mailed to the reporter, can never clash with an internal ticket). The
stub is ``pending`` until a Celery task has created the issue or card, then ``forwarded`` with its
link; a permanent failure, or transient ones past the retries, make it ``failed`` and put the
report in the manager's standby queue (EXT-3), from where it is retried or turned into an
internal ticket with the same uuid.

The HTTP clients live in ``boards.external``; this module decides what to call and records the
outcome. Secrets are stored as one AES-GCM encrypted JSON object in ``Board.external_secrets``
and never leave this module except inside a client config object.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from boards.external import (
    TIMEOUT,
    TRELLO_API_URL,
    ExternalError,
    JiraConfig,
    PermanentExternalError,
    TrelloConfig,
    jira_create_issue,
    jira_test_connection,
    trello_board_lists,
    trello_create_card,
    trello_test_connection,
)
from inboxes.models import ProcessedEmail, StandbyItem, StandbyReason
from issuetracker import crypto
from tickets.models import ForwardStatus, Ticket, TicketState
from tickets.services import BoardClosedError, TicketError

from .models import Board, ExternalPlatform

logger = logging.getLogger(__name__)

type PlatformConfig = JiraConfig | TrelloConfig

# What a board stores per platform: readable settings in external_config, secrets encrypted.
# The Trello API key is public by Trello's own design (it identifies the app); the token is not.
CONFIG_FIELDS: dict[str, tuple[str, ...]] = {
    ExternalPlatform.JIRA: ("site_url", "email", "project_key", "issue_type"),
    ExternalPlatform.TRELLO: ("api_key", "board_id", "list_id", "list_name"),
}
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    ExternalPlatform.JIRA: ("api_token",),
    ExternalPlatform.TRELLO: ("token",),
}

# Celery retries of a transient failure: 30 s, 1, 2, 4, 8, 16 min (about half an hour in all)
# unless the platform's Retry-After asks for something else.
FORWARD_MAX_RETRIES = 6
_BACKOFF_BASE_SECONDS = 30
_BACKOFF_CAP_SECONDS = 30 * 60
_RETRY_AFTER_CAP_SECONDS = 60 * 60


class ForwardingError(TicketError):
    """A refused forwarding action, with a message for the manager."""


def external_timeout() -> float:
    """Seconds per HTTP call; a setting only so tests of hanging servers stay fast."""
    return float(getattr(settings, "EXTERNAL_PLATFORM_TIMEOUT", TIMEOUT))


def trello_api_url() -> str:
    # Not a board setting on purpose: the Trello token must only ever go to Trello itself.
    return str(getattr(settings, "TRELLO_API_URL", TRELLO_API_URL))


# -- settings (EXT-1) --------------------------------------------------------------------------


def board_stored_secrets(board: Board) -> dict[str, str]:
    """The board's decrypted secrets; empty when there are none or they cannot be decrypted."""
    if not board.external_secrets:
        return {}
    try:
        values = json.loads(crypto.decrypt(board.external_secrets))
    except (crypto.DecryptionError, ValueError):
        # A rotated-away key: the manager has to enter the token again, nothing else breaks.
        logger.warning("external platform secrets cannot be decrypted", extra={"board_id": board.pk})
        return {}
    return {str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else {}


def external_credentials_build(
    *, platform: str, config: Mapping[str, str], secrets: Mapping[str, str]
) -> PlatformConfig | None:
    """A client config from stored or submitted values; None for "no platform"."""
    if platform == ExternalPlatform.JIRA:
        return JiraConfig(
            site_url=config.get("site_url", ""),
            email=config.get("email", ""),
            api_token=secrets.get("api_token", ""),
            project_key=config.get("project_key", ""),
            issue_type=config.get("issue_type") or "Task",
        )
    if platform == ExternalPlatform.TRELLO:
        return TrelloConfig(
            api_key=config.get("api_key", ""),
            token=secrets.get("token", ""),
            board_id=config.get("board_id", ""),
            list_id=config.get("list_id", ""),
            base_url=trello_api_url(),
        )
    return None


def board_external_credentials(board: Board) -> PlatformConfig | None:
    return external_credentials_build(
        platform=board.external_platform, config=board.external_config or {}, secrets=board_stored_secrets(board)
    )


def external_connection_test(credentials: PlatformConfig, *, timeout: float | None = None) -> str:
    """Jira: credentials and project; Trello: credentials, board and list. Raises ExternalError."""
    timeout = external_timeout() if timeout is None else timeout
    if isinstance(credentials, JiraConfig):
        return jira_test_connection(credentials, timeout=timeout)
    return trello_test_connection(credentials, timeout=timeout)


def trello_lists(credentials: TrelloConfig, *, timeout: float | None = None) -> list[tuple[str, str]]:
    return trello_board_lists(credentials, timeout=external_timeout() if timeout is None else timeout)


def board_set_external_platform(
    *, board: Board, platform: str, config: Mapping[str, str], secrets: Mapping[str, str]
) -> Board:
    """Store a board's platform settings; an empty secret keeps the stored one.

    Choosing no platform forgets settings and secrets alike. Stubs already created keep their
    platform and link; pending ones fail at their next attempt and land in the standby queue.
    """
    if platform not in CONFIG_FIELDS:
        board.external_platform = ExternalPlatform.NONE
        board.external_config = {}
        board.external_secrets = ""
    else:
        stored = board_stored_secrets(board) if board.external_platform == platform else {}
        merged = {name: secrets.get(name) or stored.get(name, "") for name in SECRET_FIELDS[platform]}
        board.external_platform = platform
        board.external_config = {name: str(config.get(name) or "") for name in CONFIG_FIELDS[platform]}
        board.external_secrets = crypto.encrypt(json.dumps(merged))
    board.save(update_fields=["external_platform", "external_config", "external_secrets"])
    logger.info("board external platform set", extra={"board_id": board.pk, "platform": board.external_platform})
    return board


# -- creation (EXT-2, EXT-3) -------------------------------------------------------------------


def forward_retry_delay(*, retries: int, retry_after: float | None) -> int:
    """Seconds before the next attempt: the platform's Retry-After when it gave one, else backoff."""
    if retry_after is not None:
        return max(1, min(int(retry_after + 0.999), _RETRY_AFTER_CAP_SECONDS))
    return min(_BACKOFF_BASE_SECONDS * 2**retries, _BACKOFF_CAP_SECONDS)


def ticket_forward_enqueue(*, ticket_id: int) -> None:
    """Start forwarding once the stub is committed (a worker must find the row)."""
    from .tasks import forward_ticket

    transaction.on_commit(lambda: forward_ticket.delay(ticket_id))


def ticket_forward(*, ticket: Ticket, timeout: float | None = None) -> Ticket:
    """Create the stub's issue or card and keep only what EXT-2 lists. Raises ExternalError.

    The description is blanked once the platform has it: the platform is now the place of record.
    """
    if ticket.forward_status == ForwardStatus.FORWARDED:
        return ticket
    board = ticket.board
    credentials = board_external_credentials(board)
    if credentials is None:
        raise PermanentExternalError(
            _("Board “%(board)s” no longer forwards to an external platform.") % {"board": board.name}
        )
    token = credentials.api_token if isinstance(credentials, JiraConfig) else credentials.token
    if not token:
        raise PermanentExternalError(
            _("The board's token is missing; enter it again in the board's platform settings.")
        )
    timeout = external_timeout() if timeout is None else timeout
    values = {"title": ticket.title, "description": ticket.description, "creator_email": ticket.creator_email}
    if isinstance(credentials, JiraConfig):
        issue = jira_create_issue(credentials, timeout=timeout, **values)
        platform = ExternalPlatform.JIRA
    else:
        issue = trello_create_card(credentials, timeout=timeout, **values)
        platform = ExternalPlatform.TRELLO
    fields = {
        "external_platform": platform,
        "external_id": issue.external_id[:100],
        "external_url": issue.url[:500],
        "forward_status": ForwardStatus.FORWARDED,
        "description": "",
    }
    updated = Ticket.objects.filter(pk=ticket.pk).exclude(forward_status=ForwardStatus.FORWARDED).update(**fields)
    if not updated:
        # Two attempts raced (a redelivered task and a manager's retry): the platform may now
        # hold the report twice. Keep the first link; say so in the log for the admin.
        logger.warning(
            "ticket was forwarded twice",
            extra={"ticket_id": ticket.pk, "platform": platform, "external_id": issue.external_id},
        )
        ticket.refresh_from_db()
        return ticket
    for name, value in fields.items():
        setattr(ticket, name, value)
    logger.info(
        "ticket forwarded", extra={"ticket_id": ticket.pk, "platform": platform, "external_id": issue.external_id}
    )
    return ticket


STALLED_FORWARD_AFTER = timedelta(hours=2)


def ticket_forward_requeue_stalled(*, now: datetime | None = None) -> int:
    """Re-enqueue stubs still pending long after every retry would have ended.

    Covers a task lost before it ran (broker down at commit, queue flushed). Two hours is past
    the longest retry schedule, so a slow but live task is not doubled.
    """
    cutoff = (now or timezone.now()) - STALLED_FORWARD_AFTER
    stalled = list(
        Ticket.objects.filter(forward_status=ForwardStatus.PENDING, created_at__lt=cutoff).values_list("pk", flat=True)[
            :200
        ]
    )
    for ticket_id in stalled:
        ticket_forward_enqueue(ticket_id=ticket_id)
    return len(stalled)


def ticket_forward_pending(*, ticket_id: int) -> Ticket | None:
    """The Celery task's work: forward a stub that is still pending (anything else is done)."""
    ticket = Ticket.objects.select_related("board").filter(pk=ticket_id, forward_status=ForwardStatus.PENDING).first()
    if ticket is None:
        return None
    return ticket_forward(ticket=ticket)


def ticket_forward_fail(*, ticket_id: int, reason: str) -> StandbyItem | None:
    """EXT-3: mark the stub failed and put the report in the standby queue with the reason."""
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update()
            .select_related("board")
            .filter(pk=ticket_id, forward_status=ForwardStatus.PENDING)
            .first()
        )
        if ticket is None:
            return None
        Ticket.objects.filter(pk=ticket.pk).update(forward_status=ForwardStatus.FAILED)
        # An email report keeps its receiving inbox, so a later assignment threads like ING-6.
        processed = ProcessedEmail.objects.select_related("inbox").filter(ticket=ticket).first()
        standby_item = StandbyItem.objects.create(
            manager_id=ticket.board.manager_id,
            receiving_inbox=processed.inbox if processed else None,
            processed_email=processed,
            subject=ticket.title,
            body=ticket.description,
            sender_email=ticket.creator_email,
            message_id=ticket.source_message_id,
            reason=StandbyReason.EXTERNAL_CREATION_FAILED,
            original_board=ticket.board,
            ticket=ticket,
            external_error=reason,
        )
    logger.warning(
        "ticket forwarding failed, report queued",
        extra={
            "ticket_id": ticket_id,
            "board_id": ticket.board_id,
            "standby_item_id": standby_item.pk,
            "reason": reason,
        },
    )
    return standby_item


# -- the standby queue (SBQ-2) -----------------------------------------------------------------


def standby_item_retry_external(*, standby_item: StandbyItem, timeout: float | None = None) -> Ticket:
    """Try the platform again now, while the manager waits; success removes the item.

    The item stays locked during the call, so a double click cannot create the issue twice.
    Raises ForwardingError with the platform's reason; the retry is counted either way.
    """
    if standby_item.reason != StandbyReason.EXTERNAL_CREATION_FAILED:
        raise ForwardingError(_("Only reports whose creation on the external platform failed can be retried."))
    with transaction.atomic():
        locked = StandbyItem.objects.select_for_update().filter(pk=standby_item.pk).first()
        if locked is None:
            raise ForwardingError(_("This item was already assigned or discarded."))
        ticket = (
            Ticket.objects.select_related("board").filter(pk=locked.ticket_id).first() if locked.ticket_id else None
        )
        if ticket is None:
            raise ForwardingError(_("The original board no longer exists; assign this report to a board instead."))
        StandbyItem.objects.filter(pk=locked.pk).update(retry_count=F("retry_count") + 1)
        try:
            ticket_forward(ticket=ticket, timeout=timeout)
        except ExternalError as exc:
            reason = exc.message
            StandbyItem.objects.filter(pk=locked.pk).update(external_error=reason)
        else:
            reason = ""
            locked.delete()
    standby_item.retry_count += 1
    if reason:
        standby_item.external_error = reason
        logger.warning(
            "standby retry of forwarding failed",
            extra={"standby_item_id": standby_item.pk, "ticket_id": ticket.pk, "reason": reason},
        )
        raise ForwardingError(_("It failed again: %(reason)s") % {"reason": reason})
    logger.info(
        "standby retry of forwarding succeeded", extra={"standby_item_id": standby_item.pk, "ticket_id": ticket.pk}
    )
    return ticket


def ticket_stub_assign(*, ticket: Ticket, board: Board) -> Ticket:
    """Move a failed stub to a board of the manager's choice, keeping its uuid (SBQ-2, EXT-3).

    On an internal board it becomes an ordinary new ticket; on a forwarding board it is forwarded
    anew. No second confirmation mail: the reporter already has the secret link, which now shows
    the ticket. Call inside the transaction that removes the standby item.
    """
    if board.is_archived:
        raise BoardClosedError(_("This board no longer accepts tickets."))
    locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
    old_counter = "count_forwarded" if locked.is_forwarded else f"count_{locked.state}"
    if board.forwards_externally:
        locked.external_platform = board.external_platform
        locked.forward_status = ForwardStatus.PENDING
        new_counter = "count_forwarded"
    else:
        locked.external_platform = ExternalPlatform.NONE
        locked.forward_status = ""
        locked.state = TicketState.NEW
        new_counter = "count_new"
    locked.external_id = ""
    locked.external_url = ""
    old_board_id, locked.board = locked.board_id, board
    locked.save(update_fields=["board", "external_platform", "forward_status", "external_id", "external_url", "state"])
    Board.objects.filter(pk=old_board_id).update(**{old_counter: F(old_counter) - 1})
    Board.objects.filter(pk=board.pk).update(**{new_counter: F(new_counter) + 1})
    if board.forwards_externally:
        ticket_forward_enqueue(ticket_id=locked.pk)
    logger.info(
        "forwarding stub assigned",
        extra={"ticket_id": locked.pk, "from_board_id": old_board_id, "board_id": board.pk},
    )
    return locked
