"""The file field of every form that takes files (ATT-2): several per submit, within the limits
set in the environment."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from .files import display_name

MB = 1024 * 1024


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's "Uploading multiple files" recipe), checked against
    ATTACHMENT_MAX_FILES, ATTACHMENT_MAX_FILE_MB and ATTACHMENT_MAX_SUBMIT_MB.

    A browser cannot put files back into a re-rendered form, so the error asks to choose them
    again; everything typed in the other fields is kept by the form as usual.
    """

    widget = MultipleFileInput

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", gettext_lazy("Files"))
        kwargs.setdefault("help_text", limits_help_text())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        if not data:
            return []
        files = data if isinstance(data, (list, tuple)) else [data]
        cleaned = [super(MultipleFileField, self).clean(upload, initial) for upload in files]
        cleaned = [upload for upload in cleaned if upload]
        self._check_limits(cleaned)
        return cleaned

    @staticmethod
    def _check_limits(files: list[UploadedFile]) -> None:
        max_files = settings.ATTACHMENT_MAX_FILES
        per_file = settings.ATTACHMENT_MAX_FILE_MB * MB
        per_submit = settings.ATTACHMENT_MAX_SUBMIT_MB * MB
        problem, code = "", ""
        if len(files) > max_files:
            problem = ngettext(
                "You can attach at most %(max)d file.", "You can attach at most %(max)d files.", max_files
            ) % {"max": max_files}
            code = "too_many_files"
        elif too_big := [upload for upload in files if upload.size > per_file]:
            problem = _("“%(name)s” is %(size)s; each file may be at most %(max)s.") % {
                "name": display_name(too_big[0].name or ""),
                "size": filesizeformat(too_big[0].size),
                "max": filesizeformat(per_file),
            }
            code = "file_too_big"
        elif (total := sum(upload.size for upload in files)) > per_submit:
            problem = _("The files add up to %(size)s; together they may be at most %(max)s.") % {
                "size": filesizeformat(total),
                "max": filesizeformat(per_submit),
            }
            code = "submit_too_big"
        if problem:
            # A browser cannot put files back into a re-rendered form.
            again = _("Please choose the files again.")
            raise ValidationError(f"{problem} {again}", code=code)


def _limits_help_text() -> str:
    return _("Optional. Up to %(count)s files, %(each)s each, %(total)s in all.") % {
        "count": settings.ATTACHMENT_MAX_FILES,
        "each": filesizeformat(settings.ATTACHMENT_MAX_FILE_MB * MB),
        "total": filesizeformat(settings.ATTACHMENT_MAX_SUBMIT_MB * MB),
    }


# Read when the form is rendered, in the reader's language and with the settings of the moment.
limits_help_text = lazy(_limits_help_text, str)
