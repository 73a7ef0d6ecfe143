from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def inbox_list(request: HttpRequest) -> HttpResponse:
    return render(request, "inboxes/inbox_list.html", {"inboxes": request.user.inboxes.all()})


@login_required
def standby_list(request: HttpRequest) -> HttpResponse:
    return render(request, "inboxes/standby_list.html", {})
