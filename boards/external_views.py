"""A board's external platform page (EXT-1): choose Jira Cloud or Trello, test, save; stubs sent there."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from boards.external import ExternalError, PermanentExternalError, TrelloConfig
from tickets.models import Ticket

from .external_forms import ExternalAction, ExternalPlatformForm
from .models import Board, ExternalPlatform
from .platforms import (
    board_set_external_platform,
    board_stored_secrets,
    external_connection_test,
    trello_lists,
)
from .selectors import board_for_manager_or_404

FORWARDED_LIST_LIMIT = 50


@dataclass(frozen=True)
class CheckResult:
    """What the platform said, shown above the form: ``ok`` is None for "try again later"."""

    ok: bool | None
    message: str


def _check(form: ExternalPlatformForm) -> CheckResult:
    credentials = form.credentials()
    if credentials is None:
        return CheckResult(True, _("No platform chosen: tickets stay on this board."))
    try:
        return CheckResult(True, external_connection_test(credentials))
    except PermanentExternalError as exc:
        return CheckResult(False, exc.message)
    except ExternalError as exc:
        return CheckResult(None, exc.message)


def _load_lists(form: ExternalPlatformForm) -> CheckResult | None:
    """Fill the Trello list select from the board on Trello; None when there is nothing to ask."""
    credentials = form.credentials()
    if not isinstance(credentials, TrelloConfig) or not (
        credentials.api_key and credentials.token and credentials.board_id
    ):
        return None
    try:
        lists = trello_lists(credentials)
    except ExternalError as exc:
        return CheckResult(False, exc.message)
    form.set_list_choices(lists)
    if not lists:
        return CheckResult(False, _("Trello: this board has no open list; add one on Trello first."))
    return CheckResult(
        True, _("Trello: %(count)d lists found; choose the one new cards go to.") % {"count": len(lists)}
    )


def _initial(board: Board) -> dict[str, str]:
    config = board.external_config or {}
    initial = {"platform": board.external_platform, "jira_issue_type": "Task"}
    if board.external_platform == ExternalPlatform.JIRA:
        initial.update(
            jira_site_url=config.get("site_url", ""),
            jira_email=config.get("email", ""),
            jira_project_key=config.get("project_key", ""),
            jira_issue_type=config.get("issue_type") or "Task",
        )
    elif board.external_platform == ExternalPlatform.TRELLO:
        initial.update(
            trello_api_key=config.get("api_key", ""),
            trello_board_id=config.get("board_id", ""),
            trello_list_id=config.get("list_id", ""),
        )
    return initial


def _stored_list_choices(board: Board) -> list[tuple[str, str]]:
    config = board.external_config or {}
    if board.external_platform == ExternalPlatform.TRELLO and config.get("list_id"):
        return [(config["list_id"], config.get("list_name") or config["list_id"])]
    return []


@login_required
@require_http_methods(["GET", "POST"])
def board_external(request: HttpRequest, pk: int) -> HttpResponse:
    board = board_for_manager_or_404(manager=request.user, pk=pk)
    form_options = {
        "stored_platform": board.external_platform,
        "stored_config": board.external_config or {},
        "stored_secrets": board_stored_secrets(board),
        "list_choices": _stored_list_choices(board),
    }
    result: CheckResult | None = None
    if request.method == "POST":
        action = request.POST.get("action", ExternalAction.SAVE)
        form = ExternalPlatformForm(request.POST, action=action, **form_options)
        if form.is_valid():
            # Every Trello submit refreshes the lists, so the select shows names, not ids.
            lists_result = _load_lists(form) if form.chosen_platform == ExternalPlatform.TRELLO else None
            if form.action == ExternalAction.LOAD_LISTS:
                result = lists_result
            elif form.action == ExternalAction.TEST:
                result = _check(form)
            else:
                response = _save(request, board, form)
                if response is not None:
                    return response
    else:
        form = ExternalPlatformForm(initial=_initial(board), **form_options)
    forwarded = (
        Ticket.objects.filter(board=board)
        .forwarded()
        .only("uuid", "title", "creator_email", "created_at", "external_platform", "external_url", "forward_status")
        .order_by("-created_at", "-id")[:FORWARDED_LIST_LIMIT]
    )
    context = {"board": board, "form": form, "result": result, "forwarded": forwarded}
    return render(request, "boards/external.html", context)


def _save(request: HttpRequest, board: Board, form: ExternalPlatformForm) -> HttpResponse | None:
    """Save unless the platform refuses the settings for good; None re-renders the form."""
    result = _check(form)
    if result.ok is False:
        form.add_error(None, _("Not saved: %(reason)s") % {"reason": result.message})
        return None
    board_set_external_platform(
        board=board, platform=form.chosen_platform, config=form.config(), secrets=form.secrets()
    )
    if not form.chosen_platform:
        messages.success(request, _("External platform turned off: new tickets stay on this board."))
    elif result.ok:
        messages.success(request, _("Saved. %(result)s") % {"result": result.message})
    else:
        messages.warning(
            request,
            _("Saved, but the connection could not be checked now: %(reason)s") % {"reason": result.message},
        )
    return redirect("boards:external", pk=board.pk)
