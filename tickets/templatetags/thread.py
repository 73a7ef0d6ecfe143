"""Template tags of the ticket thread (THR-1) and the one date format every page uses.

They are Python because they run once per entry: a 200-entry thread rendered through
``{% include %}`` per date and per badge spends most of its time in the template engine.
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from tickets.models import TicketState

register = template.Library()

# One date format everywhere (THR-1): ISO-like date, time and zone, in the viewer's timezone.
DATE_FORMAT = "Y-m-d H:i T"


@register.simple_tag
def when(at: datetime) -> SafeString:
    """``<time>`` with the date in the one format, and the age: "2026-12-07 16:31 CET (3 hours ago)"."""
    return format_html(
        '<time datetime="{}">{}</time> <span class="text-body-secondary">({})</span>',
        date_filter(at, "c"),
        date_filter(at, DATE_FORMAT),
        _("%(age)s ago") % {"age": timesince(at)},
    )


@register.simple_tag
def state_badge(state: str) -> SafeString:
    """The badge of ``tickets/_state_badge.html``, for loops."""
    try:
        label = TicketState(state).label
    except ValueError:
        label = state
    return format_html('<span class="badge state-badge state-{}" data-state="{}">{}</span>', state, state, label)
