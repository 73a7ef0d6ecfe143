"""The standby queue (SBQ-1 … SBQ-3): reports no board could take, waiting for the manager."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from attachments.responses import attachment_response
from attachments.selectors import attachment_for_standby_manager, standby_files
from tickets.errors import TicketError

from .forms import StandbyAssignForm
from .models import StandbyItem, StandbyReason
from .services import standby_item_assign, standby_item_discard, standby_item_retry_external

PAGE_SIZE = 25


def _get_item_for_manager(request: HttpRequest, item_id: int) -> StandbyItem:
    return get_object_or_404(
        StandbyItem.objects.select_related("receiving_inbox", "original_board"), pk=item_id, manager=request.user
    )


@login_required
@require_GET
def standby_list(request: HttpRequest) -> HttpResponse:
    items = (
        StandbyItem.objects.for_manager(request.user)
        .select_related("receiving_inbox")
        .only(
            "id",
            "subject",
            "sender_email",
            "sender_name",
            "reason",
            "created_at",
            "receiving_inbox__name",
            "receiving_inbox__from_address",
        )
        .order_by("-created_at", "-id")
    )
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "standby/standby_list.html", {"page": page, "items": page.object_list})


@login_required
@require_GET
def standby_detail(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _get_item_for_manager(request, item_id)
    form = StandbyAssignForm(manager=request.user)
    item_files, files_by_follow_up = standby_files(standby_item=item)
    follow_ups = list(item.follow_ups.order_by("created_at", "id"))
    for follow_up in follow_ups:
        follow_up.files = files_by_follow_up.get(follow_up.pk, [])
    context = {
        "item": item,
        "item_files": item_files,
        "follow_ups": follow_ups,
        "form": form,
        "confirm_discard": request.GET.get("confirm") == "discard",
        "can_retry": item.reason == StandbyReason.EXTERNAL_CREATION_FAILED and item.ticket_id is not None,
    }
    return render(request, "standby/standby_detail.html", context)


@login_required
@require_POST
def standby_assign(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _get_item_for_manager(request, item_id)
    form = StandbyAssignForm(request.POST, manager=request.user)
    if not form.is_valid():
        return render(request, "standby/standby_detail.html", {"item": item, "form": form}, status=400)
    board = form.cleaned_data["board"]
    try:
        ticket = standby_item_assign(standby_item=item, board=board)
    except TicketError as exc:
        messages.error(request, str(exc))
        return redirect("standby:list")
    messages.success(
        request, _("A ticket was created on “%(board)s”: %(title)s") % {"board": board.name, "title": ticket.title}
    )
    return redirect("standby:list")


@login_required
@require_POST
def standby_retry(request: HttpRequest, item_id: int) -> HttpResponse:
    """SBQ-2: try the external platform again now; the manager sees the outcome at once."""
    item = _get_item_for_manager(request, item_id)
    try:
        ticket = standby_item_retry_external(standby_item=item)
    except TicketError as exc:
        messages.error(request, str(exc))
        if StandbyItem.objects.filter(pk=item.pk).exists():
            return redirect("standby:detail", item_id=item.pk)
        return redirect("standby:list")
    messages.success(
        request,
        _("Forwarded to %(platform)s: %(title)s")
        % {"platform": ticket.get_external_platform_display(), "title": ticket.title},
    )
    return redirect("standby:list")


@login_required
@require_POST
def standby_discard(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _get_item_for_manager(request, item_id)
    try:
        standby_item_discard(standby_item=item)
    except TicketError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The item was discarded."))
    return redirect("standby:list")


@require_GET
def standby_file(request: HttpRequest, item_id: int, attachment_id: int) -> FileResponse:
    """A file of a mail in the manager's own standby queue, or of one of its follow-ups (ATT-5).

    Anyone else gets 404, a visitor who is not logged in too, as for a ticket's files.
    """
    attachment = None
    if request.user.is_authenticated:
        attachment = attachment_for_standby_manager(
            manager=request.user, standby_item_id=item_id, attachment_id=attachment_id
        )
    if attachment is None:
        raise Http404
    response = attachment_response(attachment)
    patch_cache_control(response, private=True)
    return response
