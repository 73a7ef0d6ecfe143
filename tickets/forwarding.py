"""Forwarding reports to Jira Cloud or Trello (EXT-2, EXT-3): creation, failure, retry.

A ticket on a forwarding board is a stub row in the tickets table from the first moment (so its
uuid, and the secret link mailed to the reporter, can never clash with an internal ticket). The
stub is ``pending`` until a Celery task has created the issue or card, then ``forwarded`` with its
link; a permanent failure, or transient ones past the row's attempt budget, make it ``failed`` and
put the report in the standby queue (EXT-3), from where it is retried or turned into an internal
ticket with the same uuid.

Exactly once, as far as it can be had: every attempt first claims the stub
(``issuetracker.leases``), so two deliveries of the task, the beat drain, or a task and a
manager's retry never call the platform together; the outcome is written fenced by that claim.
Calls to the platform never happen inside a database transaction. An attempt whose answer was
lost (a read timeout after the POST) may still have created the issue, so every later attempt
first searches the platform for the reference we put into each description. Residual risk: the
platforms' search indexes are eventually consistent, so an issue created seconds before the
search can be missed and created twice; that is logged as a warning.

The HTTP clients live in ``boards.external`` and the board's settings in ``boards.platforms``.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from boards.external import (
    TIMEOUT,
    ExternalIssue,
    JiraConfig,
    PermanentExternalError,
    TransientExternalError,
    jira_create_issue,
    jira_find_issue,
    trello_create_card,
    trello_find_card,
)
from boards.models import ExternalPlatform
from boards.platforms import PlatformConfig, board_external_credentials, external_timeout, refuse_private_site
from inboxes.models import ProcessedEmail
from issuetracker.leases import Claim, LeaseFields, lease_claim, lease_overdue_ids
from standby.models import StandbyItem, StandbyReason

from .errors import ForwardingError
from .models import ForwardStatus, Ticket

logger = logging.getLogger(__name__)

LEASE_FIELDS = LeaseFields(until="forward_claimed_until", token="forward_claim_token", attempts="forward_attempts")
# The first attempt and six retries: 30 s, 1, 2, 4, 8, 15 min (about half an hour in all) unless
# the platform's Retry-After asks for something else, capped at 15 minutes too. The row counts
# them (forward_attempts); that count is the only budget.
FORWARD_MAX_ATTEMPTS = 7
_BACKOFF_BASE_SECONDS = 30
_BACKOFF_CAP_SECONDS = 15 * 60
_RETRY_AFTER_CAP_SECONDS = 15 * 60
FORWARD_MAX_COUNTDOWN_SECONDS = max(_BACKOFF_CAP_SECONDS, _RETRY_AFTER_CAP_SECONDS)
# One attempt makes at most two calls (search, create), each bounded by the connect and the read
# timeout. The lease is comfortably longer, and is all a crashed worker can block.
FORWARD_CLAIM = timedelta(seconds=max(60, 2 * 2 * TIMEOUT + 30))
# A pending stub due this long ago lost its task (broker down at commit, worker killed).
STALLED_AFTER = timedelta(seconds=30)


class ForwardRetryLater(Exception):
    """The platform failed for now; the stub waits ``retry_in`` seconds for its next attempt."""

    def __init__(self, reason: str, retry_in: int) -> None:
        super().__init__(reason)
        self.retry_in = retry_in


def forward_reference(ticket: Ticket) -> str:
    """What we write into the issue or card to find it again; derived, so the secret uuid stays ours."""
    return hashlib.sha256(b"forward-reference:" + ticket.uuid.bytes).hexdigest()[:20]


def forward_retry_delay(*, attempts: int, retry_after: float | None) -> int:
    """Seconds before the next attempt: the platform's Retry-After when it gave one, else backoff."""
    if retry_after is not None:
        return max(1, min(int(retry_after + 0.999), _RETRY_AFTER_CAP_SECONDS))
    return min(_BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), _BACKOFF_CAP_SECONDS)


def forward_claim(*, ticket_id: int, from_status: str) -> tuple[Claim, Ticket] | None:
    """Claim the stub for one attempt; None when it is not in ``from_status`` or is taken."""
    claim = lease_claim(
        Ticket.objects.filter(forward_status=from_status),
        pk=ticket_id,
        fields=LEASE_FIELDS,
        duration=FORWARD_CLAIM,
    )
    if claim is None:
        return None
    return claim, Ticket.objects.select_related("board").get(pk=ticket_id)


def stub_is_claimed(ticket: Ticket) -> bool:
    return ticket.forward_claimed_until is not None and ticket.forward_claimed_until > timezone.now()


def claimed_error() -> ForwardingError:
    return ForwardingError(_("This report is being sent to the platform right now; wait a moment and try again."))


def forward_send(ticket: Ticket, *, timeout: float | None = None) -> tuple[str, ExternalIssue]:
    """One attempt's calls to the platform. Hold the stub's claim and no transaction. Raises ExternalError."""
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
    refuse_private_site(credentials)
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


def forward_record(ticket: Ticket, claim: Claim, *, platform: str, issue: ExternalIssue) -> Ticket:
    """Keep only what EXT-2 lists, fenced by the claim of this attempt.

    The description is blanked once the platform has it: the platform is now the place of record.
    """
    fields = {
        "external_platform": platform,
        "external_id": issue.external_id[:100],
        "external_url": issue.url[:500],
        "forward_status": ForwardStatus.FORWARDED,
        "description": "",
    }
    if not claim.release(**fields):
        # Only when the lease ran out mid-call and another attempt took over: the platform may
        # now hold the report twice. Keep what the row has; say so for the admin.
        logger.warning(
            "forwarding outcome arrived after the lease was lost; the platform may hold the report twice",
            extra={"ticket_id": ticket.pk, "platform": platform, "external_id": issue.external_id},
        )
        return Ticket.objects.filter(pk=ticket.pk).first() or ticket
    for name, value in fields.items():
        setattr(ticket, name, value)
    ticket.forward_claimed_until = None
    logger.info(
        "ticket forwarded", extra={"ticket_id": ticket.pk, "platform": platform, "external_id": issue.external_id}
    )
    return ticket


def ticket_forward_stalled_ids(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    """Pending stubs whose task was lost: due for a while, and nobody holds them."""
    return lease_overdue_ids(
        Ticket.objects.filter(forward_status=ForwardStatus.PENDING),
        fields=LEASE_FIELDS,
        due="forward_next_attempt_at",
        grace=STALLED_AFTER,
        limit=limit,
        now=now,
    )


def ticket_forward_pending(*, ticket_id: int) -> Ticket | None:
    """The Celery task's work: one attempt at forwarding a stub that is still pending.

    Returns the forwarded stub, or None when there was nothing to do (done, failed, gone, or
    another delivery holds the claim) or the report went to the standby queue. Raises
    ForwardRetryLater when another attempt should follow; the row's attempt count decides.
    """
    claimed = forward_claim(ticket_id=ticket_id, from_status=ForwardStatus.PENDING)
    if claimed is None:
        return None
    claim, ticket = claimed
    if ticket.forward_attempts > FORWARD_MAX_ATTEMPTS:
        # The last allowed attempt died with its worker (the drain brought the stub back).
        ticket_forward_fail(ticket_id=ticket.pk, reason=_("Forwarding was interrupted too many times."), claim=claim)
        return None
    try:
        platform, issue = forward_send(ticket)
    except PermanentExternalError as exc:
        ticket_forward_fail(ticket_id=ticket.pk, reason=exc.message, claim=claim)
        return None
    except TransientExternalError as exc:
        logger.warning(
            "forwarding attempt failed for now; should the platform have created the issue all the same "
            "(an answer lost after the call), the next attempt finds it by its reference",
            extra={"ticket_id": ticket.pk, "attempt": ticket.forward_attempts, "reason": exc.message},
        )
        if ticket.forward_attempts >= FORWARD_MAX_ATTEMPTS:
            ticket_forward_fail(ticket_id=ticket.pk, reason=exc.message, claim=claim)
            return None
        delay = forward_retry_delay(attempts=ticket.forward_attempts, retry_after=exc.retry_after)
        claim.release(forward_next_attempt_at=timezone.now() + timedelta(seconds=delay))
        raise ForwardRetryLater(exc.message, delay) from exc
    return forward_record(ticket, claim, platform=platform, issue=issue)


def ticket_forward_fail(*, ticket_id: int, reason: str, claim: Claim | None = None) -> StandbyItem | None:
    """EXT-3: mark the stub failed and put the report in the standby queue with the reason.

    ``claim`` fences the write to the attempt that holds the stub.
    """
    with transaction.atomic():
        stubs = Ticket.objects.select_for_update().filter(pk=ticket_id, forward_status=ForwardStatus.PENDING)
        if claim is not None:
            stubs = stubs.filter(forward_claim_token=claim.token)
        ticket = stubs.select_related("board").first()
        if ticket is None:
            return None
        Ticket.objects.filter(pk=ticket.pk).update(
            forward_status=ForwardStatus.FAILED,
            forward_claimed_until=None,
            forward_claim_token="",
            forward_next_attempt_at=None,
        )
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
