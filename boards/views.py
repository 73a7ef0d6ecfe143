from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from tickets.selectors import kanban_columns

from .forms import BoardForm, ConfirmForm
from .selectors import board_for_manager_or_404, boards_for_manager, dashboard_for_manager
from .services import BoardError, board_archive, board_create, board_delete, board_update


def dashboard(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("account_login")
    return render(request, "boards/dashboard.html", {"dashboard": dashboard_for_manager(manager=request.user)})


@login_required
def board_list(request: HttpRequest) -> HttpResponse:
    show_archived = request.GET.get("archived") == "1"
    boards = boards_for_manager(manager=request.user, include_archived=show_archived)
    return render(request, "boards/board_list.html", {"boards": boards, "show_archived": show_archived})


def _form_values(form: BoardForm) -> dict[str, object]:
    data = form.cleaned_data
    return {
        "name": data["name"],
        "unique_name": data["unique_name"],
        "greeting": data["greeting"],
        "keywords": data["keywords"],
        "exclusive_inbox": data["exclusive_inbox"],
    }


@login_required
@require_http_methods(["GET", "POST"])
def board_create_view(request: HttpRequest) -> HttpResponse:
    form = BoardForm(request.POST or None, manager=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            board = board_create(manager=request.user, **_form_values(form))
        except BoardError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Board “%(name)s” created.") % {"name": board.name})
            return redirect("boards:detail", pk=board.pk)
    return render(request, "boards/board_form.html", {"form": form, "board": None})


@login_required
@require_http_methods(["GET", "POST"])
def board_edit(request: HttpRequest, pk: int) -> HttpResponse:
    board = board_for_manager_or_404(manager=request.user, pk=pk)
    if request.method == "POST":
        form = BoardForm(request.POST, manager=request.user, board=board)
        if form.is_valid():
            try:
                board_update(board=board, **_form_values(form))
            except BoardError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Board saved."))
                return redirect("boards:detail", pk=board.pk)
    else:
        form = BoardForm(
            manager=request.user,
            board=board,
            initial={
                "name": board.name,
                "unique_name": board.unique_name,
                "greeting": board.greeting,
                "keywords": ", ".join(kw.text for kw in board.keywords.all()),
                "exclusive_inbox": board.exclusive_inbox,
            },
        )
    return render(request, "boards/board_form.html", {"form": form, "board": board})


@login_required
def board_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """TKT-5: the kanban."""
    board = board_for_manager_or_404(manager=request.user, pk=pk)
    # Card links are built from one reversed prefix: reversing three URLs per card was a
    # measurable share of the page's time (bench/).
    context = {
        "board": board,
        "columns": kanban_columns(board=board),
        "tickets_url": reverse("tickets:list", args=[board.pk]),
    }
    return render(request, "boards/kanban.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def board_archive_view(request: HttpRequest, pk: int) -> HttpResponse:
    board = board_for_manager_or_404(manager=request.user, pk=pk)
    form = ConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        board_archive(board=board)
        messages.success(request, _("Board “%(name)s” archived. It no longer accepts tickets.") % {"name": board.name})
        return redirect("boards:list")
    return render(request, "boards/board_confirm.html", {"board": board, "form": form, "action": "archive"})


@login_required
@require_http_methods(["GET", "POST"])
def board_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    board = board_for_manager_or_404(manager=request.user, pk=pk)
    if not board.can_be_deleted:
        messages.error(request, _("A board with tickets that are not rejected cannot be deleted; archive it instead."))
        return redirect("boards:edit", pk=board.pk)
    form = ConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            board_delete(board=board)
        except BoardError as exc:
            messages.error(request, str(exc))
            return redirect("boards:edit", pk=board.pk)
        messages.success(request, _("Board “%(name)s” deleted.") % {"name": board.name})
        return redirect("boards:list")
    return render(request, "boards/board_confirm.html", {"board": board, "form": form, "action": "delete"})
