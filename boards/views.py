from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render


def dashboard(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("account_login")
    return render(request, "boards/dashboard.html", {})


@login_required
def board_list(request: HttpRequest) -> HttpResponse:
    return render(request, "boards/board_list.html", {"boards": request.user.boards.all()})
