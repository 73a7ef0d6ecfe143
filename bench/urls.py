"""The product's URLs plus the ceiling: the cheapest page Django can serve under the same settings."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

CEILING_PATH = "/bench/ceiling"


def ceiling(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [
    path(CEILING_PATH.lstrip("/"), ceiling, name="bench_ceiling"),
    path("", include("issuetracker.urls")),
]
