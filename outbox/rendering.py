"""Plain-text mail from a pair of templates: ``<name>.subject.txt`` and ``<name>.txt``.

Every mail the site writes (to reporters, to managers, the suspension answer) is rendered here,
in the recipient's language and, when given, timezone; autoescaping is off in those templates
because the result is plain text, never HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone, translation


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    body: str


def render_mail(name: str, context: Mapping[str, Any], *, language: str, tz: str | None = None) -> RenderedEmail:
    """The subject on one line, the body stripped and ending in one newline."""
    with translation.override(language), timezone.override(tz) if tz else nullcontext():
        subject = render_to_string(f"{name}.subject.txt", dict(context))
        body = render_to_string(f"{name}.txt", dict(context))
    return RenderedEmail(subject=" ".join(subject.split()), body=body.strip() + "\n")
