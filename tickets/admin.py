"""Admin for tickets and their history (ADM-1).

Tickets are records of what a reporter said: nothing is editable here. The state changes only
through the actions below, which call tickets.services.ticket_change_state exactly like the
manager's buttons do (transition check, history row, reporter's mail after commit).

Deleting: a ticket can be deleted only while it is still new, i.e. has no state-change history,
which is how spam looks (filed, never worked on, nobody wrote on it). Once someone moved it, it is a record the
reporter was told about; reject it instead. The bulk delete action is removed so the rule holds
one ticket at a time. Rejected tickets leave with their board (BRD-3, board admin).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import ActionLocation, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .emails import secret_link
from .errors import TicketError
from .models import Entry, Ticket, TicketState
from .services import ticket_change_state, ticket_delete_unhandled

# Per-ticket refusal messages shown after an action; more than this would flood the page.
MAX_REFUSAL_MESSAGES = 10


class EntryInline(admin.TabularInline):
    """The thread (THR-1), read-only: what was said stays said."""

    model = Entry
    fields = ("created_at", "kind", "author", "sender_email", "from_state", "to_state", "body")
    readonly_fields = fields
    ordering = ("created_at", "id")
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Entry]:
        return super().get_queryset(request).select_related("author")


def _make_move_action(to_state: TicketState) -> Callable[..., None]:
    def move(modeladmin: TicketAdmin, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        moved, refused = 0, []
        for ticket in queryset.select_related("board"):
            try:
                ticket_change_state(ticket=ticket, to_state=to_state, comment="", actor=request.user)
            except TicketError as exc:
                refused.append((ticket, str(exc)))
            else:
                moved += 1
        if moved:
            modeladmin.message_user(
                request,
                ngettext(
                    "%(count)d ticket moved to “%(state)s”; the reporter was notified.",
                    "%(count)d tickets moved to “%(state)s”; the reporters were notified.",
                    moved,
                )
                % {"count": moved, "state": to_state.label},
                messages.SUCCESS,
            )
        for ticket, reason in refused[:MAX_REFUSAL_MESSAGES]:
            modeladmin.message_user(
                request,
                _("“%(title)s” was not moved: %(reason)s") % {"title": ticket.title, "reason": reason},
                messages.ERROR,
            )
        if len(refused) > MAX_REFUSAL_MESSAGES:
            more = len(refused) - MAX_REFUSAL_MESSAGES
            modeladmin.message_user(
                request,
                ngettext(
                    "…and %(count)d more ticket was not moved.", "…and %(count)d more tickets were not moved.", more
                )
                % {"count": more},
                messages.ERROR,
            )

    move.__name__ = f"move_to_{to_state.value}"
    # format_lazy: the description is built at import time but must be translated per request.
    description = format_lazy(_("Move to “{state}”"), state=to_state.label)
    return admin.action(description=description, permissions=["change"])(move)


# One action per state a ticket can be moved to; "new" is never a target (TKT-2).
MOVE_ACTIONS = [
    _make_move_action(state) for state in (TicketState.IN_PROGRESS, TicketState.CLOSED, TicketState.REJECTED)
]


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ("title", "board", "state", "source", "creator_email", "created_at", "updated_at", "forwarded_to")
    list_filter = ("state", "source", "board")
    search_fields = ("title", "creator_email", "uuid")
    list_select_related = ("board",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    inlines = [EntryInline]
    actions = MOVE_ACTIONS
    fieldsets = (
        (None, {"fields": ("title", "description", "board", "state", "public_link")}),
        (_("Reporter"), {"fields": ("creator_email", "source", "source_message_id")}),
        (_("Dates"), {"fields": ("created_at", "updated_at")}),
        (_("Forwarding"), {"fields": ("external_platform", "forward_status", "external_id", "external_url")}),
    )
    readonly_fields = (
        "uuid",
        "title",
        "description",
        "board",
        "state",
        "public_link",
        "creator_email",
        "source",
        "source_message_id",
        "created_at",
        "updated_at",
        "external_platform",
        "forward_status",
        "external_id",
        "external_url",
    )

    @admin.display(description=_("forwarded to"), ordering="external_platform")
    def forwarded_to(self, ticket: Ticket) -> str:
        return ticket.get_external_platform_display() if ticket.is_forwarded else "—"

    @admin.display(description=_("secret link"))
    def public_link(self, ticket: Ticket) -> str:
        link = secret_link(ticket)
        return format_html('<a href="{}" rel="noreferrer" target="_blank">{}</a>', link, link)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tickets come from the public form and from email only

    def has_change_permission(self, request: HttpRequest, obj: Ticket | None = None) -> bool:
        # Without an object Django asks for the changelist and its actions: allowed, so the
        # state actions work. For one ticket the answer is no, which turns its page read-only.
        if obj is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Ticket | None = None) -> bool:
        # Only a new ticket may go (no move ever leads back to new, TKT-2); checking the state
        # costs no query when Django asks this for every ticket of a board being deleted. The
        # delete itself also refuses a ticket with a thread (ticket_delete_unhandled).
        if obj is not None and obj.state != TicketState.NEW:
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: Ticket) -> None:
        ticket_delete_unhandled(ticket=obj)

    def get_actions(self, request: HttpRequest, action_location: Any = ActionLocation.CHANGE_LIST) -> dict[str, Any]:
        actions = super().get_actions(request, action_location)
        # The stock bulk delete would skip the per-ticket rule above; delete one at a time.
        actions.pop("delete_selected", None)
        return actions
