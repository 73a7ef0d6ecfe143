from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import Manager
from .services import manager_suspend


class SuspendActionForm(forms.Form):
    suspension_message = forms.CharField(label=_("Suspension message"), widget=forms.Textarea, max_length=2000)


@admin.register(Manager)
class ManagerAdmin(UserAdmin):
    ordering = ("-date_joined",)
    list_display = ("email", "name", "is_suspended", "is_staff", "date_joined", "last_login")
    list_filter = ("is_suspended", "is_staff", "is_superuser", "is_active")
    search_fields = ("email", "name")
    readonly_fields = ("is_suspended", "suspension_message", "suspended_at", "date_joined", "last_login")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Profile"), {"fields": ("name", "timezone")}),
        (_("Suspension"), {"fields": ("is_suspended", "suspension_message", "suspended_at")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Dates"), {"fields": ("date_joined", "last_login")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2")}),)
    actions = ["suspend_managers"]

    def has_delete_permission(self, request: HttpRequest, obj: Manager | None = None) -> bool:
        return False  # ACC-7: accounts are never deleted

    @admin.action(description=_("Suspend selected managers (with a message)"))
    def suspend_managers(self, request: HttpRequest, queryset: QuerySet[Manager]) -> HttpResponse | None:
        if "apply" in request.POST:
            form = SuspendActionForm(request.POST)
            if form.is_valid():
                count = 0
                for manager in queryset.filter(is_suspended=False):
                    manager_suspend(manager=manager, message=form.cleaned_data["suspension_message"])
                    count += 1
                self.message_user(
                    request,
                    ngettext("%(count)d manager suspended.", "%(count)d managers suspended.", count) % {"count": count},
                    messages.SUCCESS,
                )
                return None
        else:
            form = SuspendActionForm()
        return render(
            request,
            "admin/accounts/suspend_action.html",
            {**self.admin_site.each_context(request), "form": form, "managers": queryset, "opts": self.model._meta},
        )
