"""Manager-side ticket pages: the filtered list, the detail, and the one state-change endpoint."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.services import manager_set_ticket_page_size
from attachments.responses import attachment_response
from attachments.selectors import attachment_for_manager
from boards.selectors import board_for_manager_or_404

from .errors import TicketError
from .forms import EntryForm, StateChangeForm, TicketFilterForm
from .models import Ticket, TicketState
from .selectors import THREAD_NEWEST, ticket_list, ticket_list_known_count, ticket_thread
from .services import ticket_change_state, ticket_mark_read, ticket_post


class CountedPaginator(Paginator):
    """A paginator that can be told the number of items instead of counting them."""

    def __init__(self, *args: Any, known_count: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if known_count is not None:
            self.__dict__["count"] = known_count  # fills the cached_property


def _get_ticket_for_manager(request: HttpRequest, board_id: int, ticket_id: int) -> Ticket:
    return get_object_or_404(
        Ticket.objects.select_related("board"), pk=ticket_id, board_id=board_id, board__manager=request.user
    )


@login_required
def ticket_list_view(request: HttpRequest, board_id: int) -> HttpResponse:
    board = board_for_manager_or_404(manager=request.user, pk=board_id)
    form = TicketFilterForm(request.GET or None)
    page_size = request.user.ticket_page_size
    if form.is_valid() and form.cleaned_data.get("page_size"):
        page_size = form.cleaned_data["page_size"]
        # A display preference, idempotent: remembering it on GET changes nothing else.
        manager_set_ticket_page_size(manager=request.user, page_size=page_size)
    filters = form.to_filter()
    paginator = CountedPaginator(
        ticket_list(board=board, filters=filters),
        page_size,
        known_count=ticket_list_known_count(board=board, filters=filters),
    )
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "tickets/ticket_list.html",
        {
            "board": board,
            "form": form,
            "page": page,
            "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "query_without_page": query.urlencode(),
            "page_size": page_size,
        },
    )


@login_required
def ticket_detail(request: HttpRequest, board_id: int, ticket_id: int) -> HttpResponse:
    ticket = _get_ticket_for_manager(request, board_id, ticket_id)
    # Opening the ticket is reading its replies (THR-7); an idempotent flag, safe on GET.
    ticket_mark_read(ticket=ticket)
    return _render_detail(request, ticket, EntryForm(ticket=ticket))


def _thread_newest(request: HttpRequest) -> int | None:
    return None if request.GET.get("thread") == "all" else THREAD_NEWEST


def _render_detail(request: HttpRequest, ticket: Ticket, form: EntryForm, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "tickets/ticket_detail.html",
        {
            "ticket": ticket,
            "board": ticket.board,
            "thread": ticket_thread(ticket=ticket, newest=_thread_newest(request)),
            "form": form,
            "state_form": StateChangeForm(),
        },
        status=status,
    )


@login_required
@require_POST
def ticket_post_view(request: HttpRequest, board_id: int, ticket_id: int) -> HttpResponse:
    """The composer on the ticket page: reply, note, move, or a reply or note with a move."""
    ticket = _get_ticket_for_manager(request, board_id, ticket_id)
    form = EntryForm(request.POST, request.FILES, ticket=ticket)
    if not form.is_valid():
        return _render_detail(request, ticket, form, status=400)
    try:
        entries = ticket_post(
            ticket=ticket,
            actor=request.user,
            body=form.cleaned_data["body"],
            to_state=form.cleaned_data["to_state"],
            internal=form.is_note,
            files=form.cleaned_data["files"],
        )
    except TicketError as exc:
        form.add_error(None, str(exc))
        return _render_detail(request, ticket, form, status=409)
    if form.is_note and not form.cleaned_data["to_state"]:
        messages.success(request, _("Note added. The reporter does not see it."))
    elif any(entry.to_state for entry in entries):
        messages.success(
            request,
            _("“%(title)s” is now %(state)s; the reporter was told.")
            % {"title": ticket.title, "state": TicketState(ticket.state).label},
        )
    else:
        messages.success(request, _("Reply sent to the reporter."))
    return redirect(f"{reverse('tickets:detail', args=[ticket.board_id, ticket.pk])}#thread-end")


@require_GET
def ticket_file_view(request: HttpRequest, board_id: int, ticket_id: int, attachment_id: int) -> FileResponse:
    """A file of the report or of any thread entry, notes included, for the board's manager (ATT-5).

    Anyone else gets 404, a visitor who is not logged in too (no login redirect): a file URL
    tells a stranger nothing, not even that it exists.
    """
    attachment = None
    if request.user.is_authenticated:
        attachment = attachment_for_manager(
            manager=request.user, board_id=board_id, ticket_id=ticket_id, attachment_id=attachment_id
        )
    if attachment is None:
        raise Http404
    response = attachment_response(attachment)
    patch_cache_control(response, private=True)
    return response


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_POST
def ticket_change_state_view(request: HttpRequest, board_id: int, ticket_id: int) -> HttpResponse:
    """Every state change from the manager's pages lands here: detail buttons, kanban drop, card form.

    The kanban's script asks for JSON; the forms without JavaScript get a redirect back.
    """
    ticket = _get_ticket_for_manager(request, board_id, ticket_id)
    form = StateChangeForm(request.POST)
    if not form.is_valid():
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return _answer(request, ticket, ok=False, message=error)
    try:
        ticket = ticket_change_state(
            ticket=ticket,
            to_state=form.cleaned_data["to_state"],
            comment=form.cleaned_data["comment"],
            actor=request.user,
        )
    except TicketError as exc:
        return _answer(request, ticket, ok=False, message=str(exc))
    message = _("“%(title)s” is now %(state)s.") % {"title": ticket.title, "state": TicketState(ticket.state).label}
    return _answer(request, ticket, ok=True, message=message)


def _answer(request: HttpRequest, ticket: Ticket, *, ok: bool, message: str) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"ok": ok, "state": ticket.state, "message": message}, status=200 if ok else 409)
    (messages.success if ok else messages.error)(request, message)
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect("tickets:detail", board_id=ticket.board_id, ticket_id=ticket.pk)
