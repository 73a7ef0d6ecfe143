"""Admin for boards and their keywords (ADM-1).

External platform secrets are never rendered: `external_secrets` is in no form, list or fieldset.
Archiving and deleting go through boards.services, so the admin obeys BRD-3 like a manager:
a board is deleted (with its tickets) only when none or only rejected ones are left.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tickets.models import Ticket

from .models import Board, Keyword
from .services import board_archive, board_delete


class KeywordInlineFormSet(forms.BaseInlineFormSet):
    """BRD-2 in the admin: a keyword belongs to one of a manager's boards, whatever its case.

    The database constraint includes the denormalised `Keyword.manager`, which the inline form
    does not show, so model validation skips it; checked here with the manager's words instead
    of an IntegrityError.
    """

    def clean(self) -> None:
        super().clean()
        board: Board = self.instance
        if board.manager_id is None:
            return
        seen: set[str] = set()
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or form.cleaned_data.get("DELETE"):
                continue
            text = (form.cleaned_data.get("text") or "").strip()
            if not text:
                continue
            key = text.lower()
            if key in seen:
                form.add_error("text", _("This keyword is listed twice."))
                continue
            seen.add(key)
            clash = (
                Keyword.objects.filter(manager_id=board.manager_id, text__iexact=text)
                .exclude(board_id=board.pk)
                .select_related("board")
                .first()
            )
            if clash is not None:
                form.add_error(
                    "text",
                    ValidationError(
                        _("Keyword '%(keyword)s' is already used by board '%(board)s'"),
                        params={"keyword": text, "board": clash.board.name},
                    ),
                )


class KeywordInline(admin.TabularInline):
    model = Keyword
    formset = KeywordInlineFormSet
    fields = ("text",)
    extra = 1


class BoardAdminForm(forms.ModelForm):
    class Meta:
        model = Board
        # An allow-list: external_secrets (and anything added later) stays out unless named here.
        fields = ("manager", "name", "unique_name", "greeting", "exclusive_inbox")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        inbox = cleaned.get("exclusive_inbox")
        manager = cleaned.get("manager") or getattr(self.instance, "manager", None)
        if inbox is not None and manager is not None and inbox.manager_id != manager.pk:
            self.add_error("exclusive_inbox", _("The exclusive inbox must belong to the board's manager."))
        return cleaned


@admin.register(Board)
class BoardAdmin(admin.ModelAdmin):
    form = BoardAdminForm
    inlines = [KeywordInline]
    list_display = (
        "name",
        "unique_name",
        "manager",
        "is_archived",
        "external_platform",
        "count_new",
        "count_in_progress",
        "count_closed",
        "count_rejected",
        "created_at",
    )
    list_filter = ("is_archived", "external_platform")
    search_fields = ("name", "unique_name", "manager__email")
    list_select_related = ("manager",)
    ordering = ("name",)
    raw_id_fields = ("exclusive_inbox",)
    actions = ["archive_boards"]
    # Archiving is one-way and has its own action; platform settings are edited by the manager
    # together with their secrets (EXT-1), never half here.
    readonly_fields = (
        "is_archived",
        "archived_at",
        "external_platform",
        "external_config",
        "created_at",
        "count_new",
        "count_in_progress",
        "count_closed",
        "count_rejected",
        "count_forwarded",
    )
    fieldsets = (
        (None, {"fields": ("manager", "name", "unique_name", "greeting", "exclusive_inbox")}),
        (_("State"), {"fields": ("is_archived", "archived_at", "created_at")}),
        (
            _("Tickets"),
            {"fields": ("count_new", "count_in_progress", "count_closed", "count_rejected", "count_forwarded")},
        ),
        (_("External platform"), {"fields": ("external_platform", "external_config")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Board | None = None) -> tuple[str, ...]:
        if obj is not None:
            # Keywords carry the owner for the uniqueness constraint; moving a board between
            # managers would leave them pointing at the old one.
            return (*self.readonly_fields, "manager")
        return tuple(self.readonly_fields)

    def has_delete_permission(self, request: HttpRequest, obj: Board | None = None) -> bool:
        if obj is not None and not obj.can_be_deleted:
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, Any, list[Any]]:
        # BRD-3 on the stock confirmation page: a board with live tickets shows up as protected,
        # which makes Django refuse the whole deletion and say why.
        deletable, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Django asks each admin's per-object has_delete_permission: ours says no for a board
        # with live tickets (reported as protected below, with the reason) and the ticket admin
        # says no for worked-on tickets, yet taking rejected ones along with their board is what
        # BRD-3 allows. Only the plain model permissions count here.
        judged_here = {str(Board._meta.verbose_name), str(Ticket._meta.verbose_name)}
        perms_needed = {name for name in perms_needed if str(name) not in judged_here}
        for model in (Board, Ticket):
            opts = model._meta
            if not request.user.has_perm(f"{opts.app_label}.delete_{opts.model_name}"):
                perms_needed.add(opts.verbose_name)
        blocked = [
            _("%(board)s (has tickets that are not rejected; archive it instead)") % {"board": board.name}
            for board in objs
            if isinstance(board, Board) and not board.can_be_deleted
        ]
        return deletable, model_count, perms_needed, [*protected, *blocked]

    def delete_model(self, request: HttpRequest, obj: Board) -> None:
        board_delete(board=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Board]) -> None:
        for board in queryset:
            board_delete(board=board)

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset: Any, change: bool) -> None:
        if formset.model is Keyword:
            keywords = formset.save(commit=False)
            for keyword in keywords:
                keyword.manager_id = form.instance.manager_id
                keyword.save()
            for keyword in formset.deleted_objects:
                keyword.delete()
            formset.save_m2m()
            return
        super().save_formset(request, form, formset, change)

    @admin.action(description=_("Archive selected boards (irreversible)"), permissions=["change"])
    def archive_boards(self, request: HttpRequest, queryset: QuerySet[Board]) -> None:
        count = 0
        for board in queryset.filter(is_archived=False):
            board_archive(board=board)
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d board archived.", "%(count)d boards archived.", count) % {"count": count},
            messages.SUCCESS,
        )
