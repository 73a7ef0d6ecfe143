from __future__ import annotations

from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse


def board_form(request: HttpRequest, unique_name: str) -> HttpResponse:
    raise Http404


def ticket_page(request: HttpRequest, ticket_uuid: UUID) -> HttpResponse:
    raise Http404
