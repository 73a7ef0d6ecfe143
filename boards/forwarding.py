"""Forwarding boards to Jira Cloud or Trello (SPEC section 9): settings, creation, failure, retry.

A ticket on a forwarding board is a stub row in the tickets table from the first moment (so its
uuid, and the secret link mailed to the reporter, can never clash with an internal ticket). The
stub is ``pending`` until a Celery task has created the issue or card, then ``forwarded`` with its
link; a permanent failure, or transient ones past the retries, make it ``failed`` and put the
report in the manager's standby queue (EXT-3), from where it is retried or turned into an
internal ticket with the same uuid.

Exactly once, as far as it can be had: every attempt first takes a lease on the stub with a
conditional UPDATE (``forward_claimed_until``), so two deliveries of the task, or a task and a
manager's retry, never both call the platform; the outcome is written fenced by the attempt
number. Calls to the platform never happen inside a database transaction. An attempt whose
answer was lost (a read timeout after the POST) may still have created the issue, so every later
attempt first searches the platform for the reference we put into each description. Residual
risk: the platforms' search indexes are eventually consistent, so an issue created seconds before
the search can be missed and created twice; that is logged as a warning.

The HTTP clients live in ``boards.external``; this module decides what to call and records the
outcome. Secrets are stored as one AES-GCM encrypted JSON object in ``Board.external_secrets``
and never leave this module except inside a client config object.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from boards.external import (
    TIMEOUT,
    TRELLO_API_URL,
    ExternalError,
    ExternalIssue,
    JiraConfig,
    PermanentExternalError,
    TransientExternalError,
    TrelloConfig,
    jira_create_issue,
    jira_find_issue,
    jira_test_connection,
    trello_board_lists,
    trello_create_card,
    trello_find_card,
    trello_test_connection,
)
from inboxes.models import ProcessedEmail, StandbyItem, StandbyReason
from issuetracker import crypto
from issuetracker.hosts import is_internal_address, resolve
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

# A board setting whose change makes the stored token unusable until it is typed again: the
# Jira token would otherwise travel to whatever host the new address names.
DESTINATION_FIELDS: dict[str, str] = {ExternalPlatform.JIRA: "site_url", ExternalPlatform.TRELLO: "board_id"}

# Celery retries of a transient failure: 30 s, 1, 2, 4, 8, 15 min (about half an hour in all)
# unless the platform's Retry-After asks for something else, capped at 15 minutes too. Every
# countdown stays far below the Redis broker's visibility timeout (settings), past which a task
# waiting for its countdown would be delivered a second time.
FORWARD_MAX_RETRIES = 6
_BACKOFF_BASE_SECONDS = 30
_BACKOFF_CAP_SECONDS = 15 * 60
_RETRY_AFTER_CAP_SECONDS = 15 * 60
FORWARD_MAX_COUNTDOWN_SECONDS = max(_BACKOFF_CAP_SECONDS, _RETRY_AFTER_CAP_SECONDS)
# One attempt makes at most two calls (search, create), each bounded by the connect and the read
# timeout. The lease is comfortably longer, and is all a crashed worker can block.
FORWARD_CLAIM = timedelta(minutes=5)
_ATTEMPT_MAX_SECONDS = 2 * 2 * TIMEOUT
# The longest a live task can take from its first attempt to its last (about 95 minutes).
FORWARD_RETRY_WINDOW = timedelta(
    seconds=FORWARD_MAX_RETRIES * FORWARD_MAX_COUNTDOWN_SECONDS + (FORWARD_MAX_RETRIES + 1) * _ATTEMPT_MAX_SECONDS
)
# A pending stub untouched this long lost its task (broker down at commit, queue flushed). It is
# counted from the last attempt, so a live task (at most one countdown between attempts, and
# within FORWARD_RETRY_WINDOW in all) is never doubled.
STALLED_FORWARD_AFTER = timedelta(hours=2)


class ForwardingError(TicketError):
    """A refused forwarding action, with a message for the manager."""


def external_timeout() -> float:
    """Seconds per HTTP call; a setting only so tests of hanging servers stay fast."""
    return float(getattr(settings, "EXTERNAL_PLATFORM_TIMEOUT", TIMEOUT))


def trello_api_url() -> str:
    # Not a board setting on purpose: the Trello token must only ever go to Trello itself.
    return str(getattr(settings, "TRELLO_API_URL", TRELLO_API_URL))


def site_url_is_public(site_url: str) -> bool | None:
    """Whether every address the site's host resolves to is public; None when it does not resolve.

    A board's manager chooses the Jira address and the server calls it, so without this check
    any account could make the server probe its own network (SSRF). Residual risk: DNS may answer
    differently when the request is made (rebinding); redirects are never followed, though.
    """
    if getattr(settings, "EXTERNAL_PLATFORM_ALLOW_PRIVATE_HOSTS", False):
        return True
    host = urlsplit(site_url).hostname
    if not host:
        return None
    try:
        addresses = resolve(host)
    except (OSError, UnicodeError, ValueError):
        return None
    return bool(addresses) and not any(is_internal_address(address) for address in addresses)


def _refuse_private_site(credentials: PlatformConfig) -> None:
    """The same check right before a call, for addresses saved earlier or re-pointed in DNS."""
    if isinstance(credentials, JiraConfig) and site_url_is_public(credentials.site_url) is False:
        raise PermanentExternalError(
            _("The Jira address points to a private or reserved network address; enter your public Jira site.")
        )


def forward_reference(ticket: Ticket) -> str:
    """What we write into the issue or card to find it again; derived, so the secret uuid stays ours."""
    return hashlib.sha256(b"forward-reference:" + ticket.uuid.bytes).hexdigest()[:20]


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
    _refuse_private_site(credentials)
    if isinstance(credentials, JiraConfig):
        return jira_test_connection(credentials, timeout=timeout)
    return trello_test_connection(credentials, timeout=timeout)


def trello_lists(credentials: TrelloConfig, *, timeout: float | None = None) -> list[tuple[str, str]]:
    return trello_board_lists(credentials, timeout=external_timeout() if timeout is None else timeout)


def board_set_external_platform(
    *, board: Board, platform: str, config: Mapping[str, str], secrets: Mapping[str, str]
) -> Board:
    """Store a board's platform settings; an empty secret keeps the stored one.

    Only while the destination (Jira site, Trello board) stays the same: the form asks for the
    token again when it changes, and this refuses to carry it over all the same.
    Choosing no platform forgets settings and secrets alike. Stubs already created keep their
    platform and link; pending ones fail at their next attempt and land in the standby queue.
    """
    if platform not in CONFIG_FIELDS:
        board.external_platform = ExternalPlatform.NONE
        board.external_config = {}
        board.external_secrets = ""
    else:
        destination = DESTINATION_FIELDS[platform]
        same_destination = board.external_platform == platform and str(config.get(destination) or "") == str(
            (board.external_config or {}).get(destination) or ""
        )
        stored = board_stored_secrets(board) if same_destination else {}
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


def _forward_claim(*, ticket_id: int, from_status: str) -> Ticket | None:
    """Take the stub's lease for one attempt; None when it is not in ``from_status`` or is taken.

    The conditional UPDATE is the whole claim: of two deliveries of the task (a redelivery, a
    requeue) or a task and a manager's retry, only one matches the row while the lease runs.
    """
    now = timezone.now()
    claimed = Ticket.objects.filter(
        Q(forward_claimed_until__isnull=True) | Q(forward_claimed_until__lt=now),
        pk=ticket_id,
        forward_status=from_status,
    ).update(
        forward_claimed_until=now + FORWARD_CLAIM,
        forward_attempts=F("forward_attempts") + 1,
        forward_last_attempt_at=now,
    )
    if not claimed:
        return None
    return Ticket.objects.select_related("board").get(pk=ticket_id)


def _forward_release(ticket: Ticket) -> None:
    Ticket.objects.filter(pk=ticket.pk, forward_attempts=ticket.forward_attempts).update(forward_claimed_until=None)


def _forward_send(ticket: Ticket, *, timeout: float | None = None) -> tuple[str, ExternalIssue]:
    """One attempt's calls to the platform. Hold the stub's lease and no transaction. Raises ExternalError."""
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
    _refuse_private_site(credentials)
    timeout = external_timeout() if timeout is None else timeout
    platform = ExternalPlatform.JIRA if isinstance(credentials, JiraConfig) else ExternalPlatform.TRELLO
    reference = forward_reference(ticket)
    if ticket.forward_attempts > 1:
        # An earlier attempt may have created the issue and lost the answer (read timeout,
        # crashed worker, failed commit): look for it before creating another.
        found = _forward_find(ticket, credentials, reference=reference, timeout=timeout)
        if found is not None:
            return platform, found
    values = {
        "title": ticket.title,
        "description": ticket.description,
        "creator_email": ticket.creator_email,
        "reference": reference,
    }
    if isinstance(credentials, JiraConfig):
        return platform, jira_create_issue(credentials, timeout=timeout, **values)
    return platform, trello_create_card(credentials, timeout=timeout, **values)


def _forward_find(
    ticket: Ticket, credentials: PlatformConfig, *, reference: str, timeout: float
) -> ExternalIssue | None:
    try:
        if isinstance(credentials, JiraConfig):
            found = jira_find_issue(credentials, reference=reference, timeout=timeout)
        else:
            found = trello_find_card(credentials, reference=reference, timeout=timeout)
    except PermanentExternalError as exc:
        # A search this account may not run must not block forwarding for good; the create call
        # reports any real problem with the settings.
        logger.warning(
            "forwarding: search for an earlier attempt's issue refused; creating without it",
            extra={"ticket_id": ticket.pk, "reason": exc.message},
        )
        return None
    if found is None:
        logger.info(
            "forwarding: no issue from an earlier attempt found",
            extra={"ticket_id": ticket.pk, "attempt": ticket.forward_attempts},
        )
    else:
        logger.warning(
            "forwarding: an earlier attempt had created the issue; linking it instead of creating another",
            extra={"ticket_id": ticket.pk, "external_id": found.external_id},
        )
    return found


def _forward_record(ticket: Ticket, *, platform: str, issue: ExternalIssue, from_status: str) -> Ticket:
    """Keep only what EXT-2 lists, fenced by the attempt that holds the lease.

    The description is blanked once the platform has it: the platform is now the place of record.
    """
    fields = {
        "external_platform": platform,
        "external_id": issue.external_id[:100],
        "external_url": issue.url[:500],
        "forward_status": ForwardStatus.FORWARDED,
        "description": "",
        "forward_claimed_until": None,
    }
    updated = Ticket.objects.filter(
        pk=ticket.pk, forward_status=from_status, forward_attempts=ticket.forward_attempts
    ).update(**fields)
    if not updated:
        # Only when the lease ran out mid-call and another attempt took over: the platform may
        # now hold the report twice. Keep what the row has; say so for the admin.
        logger.warning(
            "forwarding outcome arrived after the lease was lost; the platform may hold the report twice",
            extra={"ticket_id": ticket.pk, "platform": platform, "external_id": issue.external_id},
        )
        return Ticket.objects.filter(pk=ticket.pk).first() or ticket
    for name, value in fields.items():
        setattr(ticket, name, value)
    logger.info(
        "ticket forwarded", extra={"ticket_id": ticket.pk, "platform": platform, "external_id": issue.external_id}
    )
    return ticket


def ticket_forward_requeue_stalled(*, now: datetime | None = None) -> int:
    """Re-enqueue pending stubs whose task was lost: unclaimed, and untouched for a long while.

    "Untouched" counts from the last attempt (or the moment the stub was queued anew), not from
    creation: a stub moved here from the standby queue is old but has a live task.
    """
    now = now or timezone.now()
    stalled = list(
        Ticket.objects.filter(forward_status=ForwardStatus.PENDING)
        .filter(Q(forward_claimed_until__isnull=True) | Q(forward_claimed_until__lt=now))
        .alias(last_activity=Coalesce("forward_last_attempt_at", "created_at"))
        .filter(last_activity__lt=now - STALLED_FORWARD_AFTER)
        .order_by("last_activity", "pk")
        .values_list("pk", flat=True)[:200]
    )
    if stalled:
        # Stamped as queued now, so the next beat leaves them alone while they wait in a backlog.
        Ticket.objects.filter(pk__in=stalled).update(forward_last_attempt_at=now)
    for ticket_id in stalled:
        ticket_forward_enqueue(ticket_id=ticket_id)
    return len(stalled)


def ticket_forward_pending(*, ticket_id: int, last_attempt: bool = False) -> Ticket | None:
    """The Celery task's work: one attempt at forwarding a stub that is still pending.

    Returns the forwarded stub, or None when there was nothing to do (done, failed, gone, or
    another delivery holds the lease) or the report went to the standby queue. Raises
    TransientExternalError when another attempt should follow (never on ``last_attempt``).
    """
    ticket = _forward_claim(ticket_id=ticket_id, from_status=ForwardStatus.PENDING)
    if ticket is None:
        return None
    try:
        platform, issue = _forward_send(ticket)
    except PermanentExternalError as exc:
        ticket_forward_fail(ticket_id=ticket.pk, reason=exc.message, attempt=ticket.forward_attempts)
        return None
    except TransientExternalError as exc:
        logger.warning(
            "forwarding attempt failed for now; should the platform have created the issue all the same "
            "(an answer lost after the call), the next attempt finds it by its reference",
            extra={"ticket_id": ticket.pk, "attempt": ticket.forward_attempts, "reason": exc.message},
        )
        if last_attempt:
            ticket_forward_fail(ticket_id=ticket.pk, reason=exc.message, attempt=ticket.forward_attempts)
            return None
        _forward_release(ticket)
        raise
    return _forward_record(ticket, platform=platform, issue=issue, from_status=ForwardStatus.PENDING)


def ticket_forward_fail(*, ticket_id: int, reason: str, attempt: int | None = None) -> StandbyItem | None:
    """EXT-3: mark the stub failed and put the report in the standby queue with the reason.

    ``attempt`` fences the write to the attempt that holds the stub's lease.
    """
    with transaction.atomic():
        stubs = (
            Ticket.objects.select_for_update()
            .select_related("board")
            .filter(pk=ticket_id, forward_status=ForwardStatus.PENDING)
        )
        if attempt is not None:
            stubs = stubs.filter(forward_attempts=attempt)
        ticket = stubs.first()
        if ticket is None:
            return None
        Ticket.objects.filter(pk=ticket.pk).update(forward_status=ForwardStatus.FAILED, forward_claimed_until=None)
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


def _stub_is_claimed(ticket: Ticket) -> bool:
    return ticket.forward_claimed_until is not None and ticket.forward_claimed_until > timezone.now()


def _claimed_error() -> ForwardingError:
    return ForwardingError(_("This report is being sent to the platform right now; wait a moment and try again."))


def standby_item_retry_external(*, standby_item: StandbyItem, timeout: float | None = None) -> Ticket:
    """Try the platform again now, while the manager waits; success removes the item.

    The platform is called with the stub's lease held and no transaction open: a second click
    (or the discard button) is refused meanwhile, and no row lock waits on a slow platform. The
    outcome is then written in one short transaction. Raises ForwardingError with the platform's
    reason; the retry is counted either way.
    """
    if standby_item.reason != StandbyReason.EXTERNAL_CREATION_FAILED:
        raise ForwardingError(_("Only reports whose creation on the external platform failed can be retried."))
    with transaction.atomic():
        locked = StandbyItem.objects.select_for_update().filter(pk=standby_item.pk).first()
        if locked is None:
            raise ForwardingError(_("This item was already assigned or discarded."))
        if locked.ticket_id is None:
            raise ForwardingError(_("The original board no longer exists; assign this report to a board instead."))
        ticket = _forward_claim(ticket_id=locked.ticket_id, from_status=ForwardStatus.FAILED)
        if ticket is None:
            raise _claimed_error()
        StandbyItem.objects.filter(pk=locked.pk).update(retry_count=F("retry_count") + 1)
    standby_item.retry_count += 1
    try:
        platform, issue = _forward_send(ticket, timeout=timeout)
    except ExternalError as exc:
        reason = exc.message
        with transaction.atomic():
            StandbyItem.objects.filter(pk=standby_item.pk).update(external_error=reason)
            _forward_release(ticket)
        standby_item.external_error = reason
        logger.warning(
            "standby retry of forwarding failed",
            extra={"standby_item_id": standby_item.pk, "ticket_id": ticket.pk, "reason": reason},
        )
        raise ForwardingError(_("It failed again: %(reason)s") % {"reason": reason}) from exc
    with transaction.atomic():
        ticket = _forward_record(ticket, platform=platform, issue=issue, from_status=ForwardStatus.FAILED)
        StandbyItem.objects.filter(pk=standby_item.pk).delete()
    logger.info(
        "standby retry of forwarding succeeded", extra={"standby_item_id": standby_item.pk, "ticket_id": ticket.pk}
    )
    return ticket


def ticket_stub_discard(*, ticket_id: int) -> bool:
    """The manager discards a failed report (SBQ-2): its stub goes too. Call inside the transaction
    that removes the standby item.

    Otherwise the stub would count on its board for ever (BRD-3: the board could never be
    deleted) and the reporter's secret page would say "being processed" for ever; now the link
    answers 404, which is honest. Returns whether a stub was deleted; a stub that is no longer
    failed (forwarded or moved to a board since) is left alone.
    """
    locked = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
    if locked is None or not locked.is_forwarded or locked.forward_status != ForwardStatus.FAILED:
        return False
    if _stub_is_claimed(locked):
        raise _claimed_error()
    locked.delete()
    Board.objects.filter(pk=locked.board_id).update(count_forwarded=F("count_forwarded") - 1)
    logger.info("failed forwarding stub discarded", extra={"ticket_id": ticket_id, "board_id": locked.board_id})
    return True


def ticket_stub_assign(*, ticket: Ticket, board: Board) -> Ticket:
    """Move a failed stub to a board of the manager's choice, keeping its uuid (SBQ-2, EXT-3).

    On an internal board it becomes an ordinary new ticket; on a forwarding board it is forwarded
    anew. No second confirmation mail: the reporter already has the secret link, which now shows
    the ticket. Call inside the transaction that removes the standby item.
    """
    if board.is_archived:
        raise BoardClosedError(_("This board no longer accepts tickets."))
    locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if _stub_is_claimed(locked):
        raise _claimed_error()
    old_counter = "count_forwarded" if locked.is_forwarded else f"count_{locked.state}"
    locked.forward_claimed_until = None
    if board.forwards_externally:
        locked.external_platform = board.external_platform
        locked.forward_status = ForwardStatus.PENDING
        # A new round starts now: the stub is old, but its task is not stalled.
        locked.forward_last_attempt_at = timezone.now()
        new_counter = "count_forwarded"
    else:
        locked.external_platform = ExternalPlatform.NONE
        locked.forward_status = ""
        locked.state = TicketState.NEW
        new_counter = "count_new"
    locked.external_id = ""
    locked.external_url = ""
    old_board_id, locked.board = locked.board_id, board
    locked.save(
        update_fields=[
            "board",
            "external_platform",
            "forward_status",
            "external_id",
            "external_url",
            "state",
            "forward_claimed_until",
            "forward_last_attempt_at",
        ]
    )
    Board.objects.filter(pk=old_board_id).update(**{old_counter: F(old_counter) - 1})
    Board.objects.filter(pk=board.pk).update(**{new_counter: F(new_counter) + 1})
    if board.forwards_externally:
        ticket_forward_enqueue(ticket_id=locked.pk)
    logger.info(
        "forwarding stub assigned",
        extra={"ticket_id": locked.pk, "from_board_id": old_board_id, "board_id": board.pk},
    )
    return locked
