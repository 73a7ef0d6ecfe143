"""Answers GET /health before anything looks at the Host header or redirects to HTTPS (OPS-1).

A container's health check, a load balancer or a monitoring probe asks for http://127.0.0.1/health
or the container's own address: a name ALLOWED_HOSTS rightly leaves out, on plain HTTP behind the
TLS proxy. Through the whole middleware stack such a probe gets a 400 (host validation) or a 301
(SECURE_SSL_REDIRECT, with /health exempted in settings) and the service looks down for good.

The health view builds no URL and reads no host, so answering it here serves nothing that depends
on the name asked for. It sits after the middleware that add security headers (they read no host
either), so /health carries them like any page. The URL pattern in urls.py stays for reverse().
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .health import health

HEALTH_PATH = "/health"


class HealthProbeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == HEALTH_PATH:
            return health(request)
        return self.get_response(request)
