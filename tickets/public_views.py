"""Public pages, no login (PUB-1 … PUB-3): a board's report form and the secret ticket page.

Rate limiting of form submissions lives in issuetracker.ratelimit (POST /board/… bucket).
"""

from __future__ import annotations

import logging
from uuid import UUID

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_cache_control
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from attachments.responses import attachment_response
from attachments.selectors import attachment_for_secret_link
from boards.models import Board
from issuetracker.ratelimit import client_ip, reporter_address_allowed, ticket_message_allowed

from .emails import secret_link
from .errors import BoardClosedError
from .models import EntrySource, Ticket, TicketSource
from .public_forms import PublicMessageForm, PublicTicketForm
from .selectors import THREAD_NEWEST, ticket_thread
from .services import ticket_add_reporter_message, ticket_create

logger = logging.getLogger(__name__)

# The uuid of the ticket this browser just filed, so the thank-you page can show its link
# without the secret travelling in a URL (history, logs, Referer).
SUBMITTED_SESSION_KEY = "public_submitted_ticket"


def _get_public_board(unique_name: str) -> Board:
    return get_object_or_404(Board.objects.select_related("manager"), unique_name=unique_name)


def _closed_response(request: HttpRequest, board: Board) -> HttpResponse | None:
    """The answer for a board that takes no reports, or None when it takes them.

    A suspended manager comes first: their message is what they chose to tell reporters,
    and it applies to all their boards, archived or not (ACC-6).
    """
    if board.manager.is_suspended:
        return render(
            request,
            "tickets/public_suspended.html",
            {"board": board, "suspension_message": board.manager.suspension_message},
            status=403,
        )
    if board.is_archived:
        return render(request, "tickets/public_gone.html", {"board": board}, status=410)
    return None


def _keep_private(response: HttpResponseBase) -> HttpResponseBase:
    """Headers for a page that shows or is reached by a secret link.

    Referrer-Policy is `same-origin`, not `no-referrer`: with `no-referrer` browsers send
    `Origin: null` on same-site POSTs, and Django's CSRF check then refuses the language
    switcher on this very page. `same-origin` still never sends the URL to another site.
    """
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    patch_cache_control(response, private=True, no_store=True)
    return response


@require_http_methods(["GET", "POST"])
def board_form(request: HttpRequest, unique_name: str) -> HttpResponse:
    board = _get_public_board(unique_name)
    closed = _closed_response(request, board)
    if closed is not None:
        return closed

    # Bound on every POST, even an empty one, so a bare POST shows errors instead of a blank form.
    form = PublicTicketForm(request.POST, request.FILES) if request.method == "POST" else PublicTicketForm()
    if request.method == "POST" and form.is_valid():
        if form.is_bot:
            logger.info("honeypot filled, report dropped", extra={"board_id": board.pk, "ip": client_ip(request)})
            request.session.pop(SUBMITTED_SESSION_KEY, None)
            return redirect("public_board_submitted", unique_name=board.unique_name)
        if not reporter_address_allowed(form.cleaned_data["email"]):
            form.add_error(
                "email",
                _("Many reports were sent for this address in the last hour. Please try again later."),
            )
            return render(request, "tickets/public_form.html", {"board": board, "form": form})
        try:
            ticket = ticket_create(
                board=board,
                title=form.cleaned_data["title"],
                description=form.cleaned_data["description"],
                creator_email=form.cleaned_data["email"],
                source=TicketSource.WEB,
                reporter_language=get_language() or "",
                files=form.cleaned_data["files"],
            )
        except BoardClosedError:  # archived between the page load and the submit
            return render(request, "tickets/public_gone.html", {"board": board}, status=410)
        request.session[SUBMITTED_SESSION_KEY] = str(ticket.uuid)
        return redirect("public_board_submitted", unique_name=board.unique_name)

    return render(request, "tickets/public_form.html", {"board": board, "form": form})


@require_GET
def board_submitted(request: HttpRequest, unique_name: str) -> HttpResponseBase:
    """The thank-you page after a report: the secret link of the ticket this browser filed.

    Without a ticket in the session (a honeypot hit, another browser, an expired session) it
    thanks all the same and points to the confirmation email.
    """
    board = _get_public_board(unique_name)
    ticket = None
    submitted = request.session.get(SUBMITTED_SESSION_KEY)
    if submitted:
        ticket = Ticket.objects.filter(uuid=submitted, board=board).first()
    context = {"board": board, "ticket": ticket, "secret_link": secret_link(ticket) if ticket else ""}
    return _keep_private(render(request, "tickets/public_submitted.html", context))


@require_http_methods(["GET", "POST"])
def ticket_page(request: HttpRequest, ticket_uuid: UUID) -> HttpResponseBase:
    """The reporter's view of their ticket: the thread without internal notes, and a box to write.

    Deliberately no check of the manager or the board: a suspended manager's links and an
    archived board's tickets stay readable (ACC-6, BRD-3). The uuid is the only key.
    """
    ticket = get_object_or_404(Ticket.objects.select_related("board__manager"), uuid=ticket_uuid)
    if ticket.external_link:
        return _keep_private(HttpResponseRedirect(ticket.external_link))
    if ticket.is_forwarded:
        # Not on the platform yet (or it failed and waits in the standby queue): the reporter
        # learns it arrived, without the manager's internal details.
        return _keep_private(render(request, "tickets/public_forwarding.html", {"ticket": ticket}))
    # A suspended account takes nothing new (ACC-6, ING-8): the page stays readable, without the box.
    suspended = ticket.board.manager.is_suspended
    posted = request.method == "POST" and not suspended
    form = PublicMessageForm(request.POST, request.FILES) if posted else PublicMessageForm()
    status = 200
    if request.method == "POST" and suspended:
        status = 403
    elif request.method == "POST" and form.is_valid():
        if ticket_message_allowed(ticket.pk):
            ticket_add_reporter_message(
                ticket=ticket,
                body=form.cleaned_data["body"],
                sender_email=ticket.creator_email,
                source=EntrySource.WEB,
                files=form.cleaned_data["files"],
            )
            messages.success(request, _("Your message was added to the ticket."))
            return _keep_private(redirect(f"{request.path}#thread-end"))
        form.add_error(None, _("This ticket got many messages in the last hour. Please try again later."))
        status = 429
    elif request.method == "POST":
        status = 400
    newest = None if request.GET.get("thread") == "all" else THREAD_NEWEST
    context = {
        "ticket": ticket,
        "thread": ticket_thread(ticket=ticket, public=True, newest=newest),
        "form": None if suspended else form,
        "suspension_message": ticket.board.manager.suspension_message if suspended else "",
    }
    return _keep_private(render(request, "tickets/public_ticket.html", context, status=status))


@require_GET
def ticket_file(request: HttpRequest, ticket_uuid: UUID, attachment_id: int) -> HttpResponseBase:
    """A file for the holder of the secret link: the report's and non-internal entries' only (ATT-5).

    The uuid is the only key, as for the page itself; any other file is 404.
    """
    attachment = attachment_for_secret_link(ticket_uuid=ticket_uuid, attachment_id=attachment_id)
    if attachment is None:
        raise Http404
    return _keep_private(attachment_response(attachment))
