"""Settings → Inboxes: list, create, edit, delete, test connection, failed messages (INB-1 … INB-4)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from outbox.models import OutgoingMail, OutgoingMailStatus
from outbox.selectors import inbox_failed_outgoing_mail
from outbox.services import outgoing_mail_retry

from .connection_check import ConnectionReport, inbox_check_connection
from .forms import InboxForm
from .models import Inbox, ProcessedEmail, ProcessedEmailStatus, inbox_reporter_language, language_name
from .selectors import inbox_counters, inbox_failed_emails, inbox_ignored_emails
from .services import inbox_create, inbox_delete, inbox_update, processed_email_reprocess


def _get_inbox_for_manager(request: HttpRequest, inbox_id: int) -> Inbox:
    return get_object_or_404(Inbox, pk=inbox_id, manager=request.user)


def _wants_fragment(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


@login_required
@require_GET
def inbox_list(request: HttpRequest) -> HttpResponse:
    inboxes = Inbox.objects.for_manager(request.user).select_related("exclusive_board").order_by("name", "id")
    return render(request, "inboxes/inbox_list.html", {"inboxes": inboxes})


@login_required
@require_http_methods(["GET", "POST"])
def inbox_new(request: HttpRequest) -> HttpResponse:
    return _inbox_form_page(request, inbox=None)


@login_required
@require_http_methods(["GET", "POST"])
def inbox_edit(request: HttpRequest, inbox_id: int) -> HttpResponse:
    return _inbox_form_page(request, inbox=_get_inbox_for_manager(request, inbox_id))


def _inbox_form_page(request: HttpRequest, *, inbox: Inbox | None) -> HttpResponse:
    """One page for create and edit; its "Test connection" button checks the unsaved values."""
    report: ConnectionReport | None = None
    if request.method == "POST":
        # The form works on a copy: a bound ModelForm writes its values onto its instance.
        form_instance = Inbox.objects.get(pk=inbox.pk) if inbox else Inbox(manager=request.user)
        form = InboxForm(request.POST, instance=form_instance, manager=request.user)
        testing = request.POST.get("action") == "test"
        if form.is_valid() and testing:
            report = _check_unsaved(form, stored=inbox)
        elif form.is_valid():
            if inbox is None:
                inbox = inbox_create(manager=request.user, fields=form.to_fields())
                messages.success(request, _("Inbox “%(name)s” was created.") % {"name": inbox.name})
            else:
                inbox_update(inbox=inbox, fields=form.to_fields())
                messages.success(request, _("Inbox “%(name)s” was saved.") % {"name": inbox.name})
            return redirect("inboxes:detail", inbox_id=inbox.pk)
        if testing and _wants_fragment(request):
            return render(request, "inboxes/_connection_result.html", {"report": report, "form": form})
    else:
        form = InboxForm(instance=inbox, manager=request.user)
    return render(request, "inboxes/inbox_form.html", {"form": form, "inbox": inbox, "report": report})


def _check_unsaved(form: InboxForm, *, stored: Inbox | None) -> ConnectionReport:
    candidate = Inbox(manager=form.manager)
    if stored is not None:
        # Empty password fields mean "the stored one", for testing as for saving.
        candidate.pk = stored.pk
        candidate.imap_password_encrypted = stored.imap_password_encrypted
        candidate.smtp_password_encrypted = stored.smtp_password_encrypted
    fields = form.to_fields()
    fields.apply_to(candidate)
    return inbox_check_connection(inbox=candidate)


@login_required
@require_GET
def inbox_detail(request: HttpRequest, inbox_id: int) -> HttpResponse:
    inbox = _get_inbox_for_manager(request, inbox_id)
    context = {
        "inbox": inbox,
        "reporter_language": language_name(inbox_reporter_language(inbox=inbox, manager=request.user)),
        "counters": inbox_counters(inbox=inbox),
        "failed_emails": inbox_failed_emails(inbox=inbox),
        "ignored_emails": inbox_ignored_emails(inbox=inbox),
        "failed_mail": inbox_failed_outgoing_mail(inbox=inbox),
        "exclusive_board": getattr(inbox, "exclusive_board", None),
        "confirm_delete": request.GET.get("confirm") == "delete",
    }
    return render(request, "inboxes/inbox_detail.html", context)


@login_required
@require_POST
def inbox_test_connection(request: HttpRequest, inbox_id: int) -> HttpResponse:
    inbox = _get_inbox_for_manager(request, inbox_id)
    report = inbox_check_connection(inbox=inbox)
    if _wants_fragment(request):
        return render(request, "inboxes/_connection_result.html", {"report": report})
    for result in (report.imap, report.smtp):
        (messages.success if result.ok else messages.error)(request, result.message)
    return redirect("inboxes:detail", inbox_id=inbox.pk)


@login_required
@require_POST
def inbox_remove(request: HttpRequest, inbox_id: int) -> HttpResponse:
    inbox = _get_inbox_for_manager(request, inbox_id)
    name = inbox.name
    inbox_delete(inbox=inbox)
    messages.success(request, _("Inbox “%(name)s” was deleted.") % {"name": name})
    return redirect("inboxes:list")


@login_required
@require_POST
def processed_email_retry(request: HttpRequest, inbox_id: int, email_id: int) -> HttpResponse:
    inbox = _get_inbox_for_manager(request, inbox_id)
    processed_email = get_object_or_404(ProcessedEmail.objects.defer("raw"), pk=email_id, inbox=inbox)
    status = processed_email_reprocess(processed_email=processed_email)
    label = ProcessedEmailStatus(status).label
    if status == ProcessedEmailStatus.FAILED:
        processed_email.refresh_from_db(fields=["reason"])
        messages.error(request, _("The message failed again: %(reason)s") % {"reason": processed_email.reason})
    elif status == ProcessedEmailStatus.RECEIVED:
        messages.warning(request, _("The message could not be processed now; the next poll tries again."))
    else:
        messages.success(request, _("The message was processed: %(outcome)s.") % {"outcome": label})
    return redirect("inboxes:detail", inbox_id=inbox.pk)


@login_required
@require_GET
def processed_email_download(request: HttpRequest, inbox_id: int, email_id: int) -> HttpResponse:
    """The stored bytes as an .eml file, to see what a failed message really contained."""
    inbox = _get_inbox_for_manager(request, inbox_id)
    processed_email = get_object_or_404(ProcessedEmail, pk=email_id, inbox=inbox)
    response = HttpResponse(bytes(processed_email.raw), content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="message-{processed_email.pk}.eml"'
    # Whatever the mail holds, a browser must not render or sniff it (as for attachments, ATT-5).
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return response


@login_required
@require_POST
def outgoing_mail_retry_view(request: HttpRequest, inbox_id: int, mail_id: int) -> HttpResponse:
    inbox = _get_inbox_for_manager(request, inbox_id)
    mail = get_object_or_404(OutgoingMail, pk=mail_id, inbox=inbox, status=OutgoingMailStatus.FAILED)
    if outgoing_mail_retry(mail=mail):
        messages.success(request, _("The mail to %(to)s will be sent again.") % {"to": mail.to_email})
    return redirect("inboxes:detail", inbox_id=inbox.pk)
