"""The form of a board's external platform page (EXT-1): validates and normalises, never calls out."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from .models import ExternalPlatform
from .platforms import DESTINATION_FIELDS, PlatformConfig, external_credentials_build, site_url_is_public


class ExternalAction:
    """Which submit button was pressed; every one of them re-validates the whole form."""

    SAVE = "save"
    TEST = "test"
    LOAD_LISTS = "load_lists"

    ALL = (SAVE, TEST, LOAD_LISTS)


_JIRA_PROJECT_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,49}$")
# A board address (https://trello.com/b/<shortLink>/<name>) or the id itself.
_TRELLO_BOARD_URL = re.compile(r"^https?://(?:www\.)?trello\.com/b/([A-Za-z0-9]+)")
_TRELLO_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")

_KEEP_TOKEN_HELP = _("A token is stored. Leave this empty to keep it.")
# Form field of each platform's token, and of the setting the stored token is bound to.
_TOKEN_FIELDS = {ExternalPlatform.JIRA: "jira_api_token", ExternalPlatform.TRELLO: "trello_token"}
_DESTINATION_FORM_FIELDS = {ExternalPlatform.JIRA: "jira_site_url", ExternalPlatform.TRELLO: "trello_board_id"}


class ExternalPlatformForm(forms.Form):
    platform = forms.ChoiceField(
        label=_("Forward new tickets to"),
        choices=ExternalPlatform.choices,
        widget=forms.RadioSelect,
        required=False,
    )

    jira_site_url = forms.CharField(
        label=_("Jira site address"),
        required=False,
        max_length=200,
        help_text=_("For example https://your-team.atlassian.net"),
    )
    jira_email = forms.EmailField(label=_("Atlassian account email"), required=False)
    jira_api_token = forms.CharField(
        label=_("API token"),
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Created at id.atlassian.com → Security → API tokens."),
    )
    jira_project_key = forms.CharField(label=_("Project key"), required=False, max_length=50)
    jira_issue_type = forms.CharField(
        label=_("Issue type"),
        required=False,
        max_length=60,
        initial="Task",
        help_text=_("Task unless you choose another."),
    )

    trello_api_key = forms.CharField(label=_("API key"), required=False, max_length=64)
    trello_token = forms.CharField(
        label=_("Token"),
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    trello_board_id = forms.CharField(
        label=_("Board"),
        required=False,
        max_length=200,
        help_text=_("The board's address (https://trello.com/b/…) or its id."),
    )
    trello_list_id = forms.CharField(
        label=_("List for new cards"),
        required=False,
        # A validator, not max_length: max_length would put a maxlength attribute on the <select>.
        validators=[MaxLengthValidator(64)],
        widget=forms.Select,
        help_text=_("Press “Load lists” to fetch the lists of the board."),
    )

    def __init__(
        self,
        *args: Any,
        action: str = ExternalAction.SAVE,
        stored_platform: str = "",
        stored_config: Mapping[str, str] | None = None,
        stored_secrets: Mapping[str, str] | None = None,
        list_choices: Sequence[tuple[str, str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.action = action if action in ExternalAction.ALL else ExternalAction.SAVE
        self.stored_platform = stored_platform
        self._stored_config = dict(stored_config or {})
        # Only the stored values of the platform the board uses now apply; never rendered.
        self._stored_secrets = dict(stored_secrets or {})
        if self._stored_token(ExternalPlatform.JIRA):
            self.fields["jira_api_token"].help_text = _KEEP_TOKEN_HELP
        if self._stored_token(ExternalPlatform.TRELLO):
            self.fields["trello_token"].help_text = _KEEP_TOKEN_HELP
        self.set_list_choices(list_choices)

    def set_list_choices(self, list_choices: Sequence[tuple[str, str]]) -> None:
        self.list_choices = list(list_choices)
        blank = ("", _("Load the lists first") if not self.list_choices else _("Choose a list"))
        self.fields["trello_list_id"].widget.choices = [blank, *self.list_choices]

    def _stored_token(self, platform: str) -> str:
        if self.stored_platform != platform:
            return ""
        name = "api_token" if platform == ExternalPlatform.JIRA else "token"
        return self._stored_secrets.get(name, "")

    def _destination_changed(self, platform: str, data: Mapping[str, Any]) -> bool:
        """The stored token belongs to the stored site (board); typed values name another one."""
        typed = data.get(_DESTINATION_FORM_FIELDS[platform]) or ""
        return typed != (self._stored_config.get(DESTINATION_FIELDS[platform]) or "")

    # -- field cleaning ---------------------------------------------------------------------------

    def clean_jira_site_url(self) -> str:
        value = self.cleaned_data["jira_site_url"].strip()
        if not value:
            return ""
        if "://" not in value:
            value = "https://" + value
        parts = urlsplit(value)
        allowed = ("https", "http") if getattr(settings, "EXTERNAL_PLATFORM_ALLOW_HTTP", False) else ("https",)
        if parts.scheme not in allowed:
            raise forms.ValidationError(_("Use the https:// address of your Jira site."))
        if not parts.hostname or parts.username or parts.password:
            raise forms.ValidationError(_("Enter the address of your Jira site, like https://your-team.atlassian.net."))
        # Only the site itself: a pasted project or board address still works.
        site = f"{parts.scheme}://{parts.netloc}"
        # The server calls this address: never one inside our own network (SSRF). Any public
        # host is fine, since Atlassian sites can have custom domains.
        public = site_url_is_public(site)
        if public is None:
            raise forms.ValidationError(_("This address cannot be found; check it."))
        if not public:
            raise forms.ValidationError(
                _("This address points to a private or reserved network address; enter your public Jira site.")
            )
        return site

    def clean_jira_project_key(self) -> str:
        value = self.cleaned_data["jira_project_key"].strip().upper()
        if value and not _JIRA_PROJECT_KEY.match(value):
            raise forms.ValidationError(_("A project key is letters and digits, like ABC."))
        return value

    def clean_jira_issue_type(self) -> str:
        return self.cleaned_data["jira_issue_type"].strip() or "Task"

    def clean_trello_board_id(self) -> str:
        value = self.cleaned_data["trello_board_id"].strip()
        match = _TRELLO_BOARD_URL.match(value)
        if match:
            value = match.group(1)
        if value and not _TRELLO_ID.match(value):
            raise forms.ValidationError(_("Enter the board's address (https://trello.com/b/…) or its id."))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        platform = data.get("platform") or ""
        if self.action == ExternalAction.LOAD_LISTS:
            # The button sits in the Trello part of the page; pressing it means Trello.
            platform = data["platform"] = ExternalPlatform.TRELLO
        required: list[str] = []
        if platform in _TOKEN_FIELDS and self._stored_token(platform) and not data.get(_TOKEN_FIELDS[platform]):
            destination = _DESTINATION_FORM_FIELDS[platform]
            if data.get(destination) and self._destination_changed(platform, data):
                # Otherwise the stored token would go to whatever the new address names.
                self.add_error(
                    _TOKEN_FIELDS[platform],
                    _("The site address changed: enter the API token again.")
                    if platform == ExternalPlatform.JIRA
                    else _("The board changed: enter the token again."),
                )
        if platform == ExternalPlatform.JIRA:
            required = ["jira_site_url", "jira_email", "jira_project_key"]
            if not self._stored_token(platform):
                required.append("jira_api_token")
        elif platform == ExternalPlatform.TRELLO:
            required = ["trello_api_key", "trello_board_id"]
            if not self._stored_token(platform):
                required.append("trello_token")
            if self.action != ExternalAction.LOAD_LISTS:
                required.append("trello_list_id")
        for name in required:
            if not data.get(name) and name not in self.errors:
                message = (
                    _("Load the board's lists and choose one.")
                    if name == "trello_list_id"
                    else _("This field is required.")
                )
                self.add_error(name, message)
        return data

    # -- results ----------------------------------------------------------------------------------

    @property
    def chosen_platform(self) -> str:
        return self.cleaned_data.get("platform") or ""

    def config(self) -> dict[str, str]:
        """The non-secret settings, named as the board stores them."""
        data = self.cleaned_data
        if self.chosen_platform == ExternalPlatform.JIRA:
            return {
                "site_url": data["jira_site_url"],
                "email": data["jira_email"],
                "project_key": data["jira_project_key"],
                "issue_type": data["jira_issue_type"],
            }
        if self.chosen_platform == ExternalPlatform.TRELLO:
            list_id = data.get("trello_list_id", "")
            return {
                "api_key": data["trello_api_key"].strip(),
                "board_id": data["trello_board_id"],
                "list_id": list_id,
                "list_name": dict(self.list_choices).get(list_id, ""),
            }
        return {}

    def secrets(self) -> dict[str, str]:
        """Typed secrets only; an empty one means "keep the stored value"."""
        data = self.cleaned_data
        if self.chosen_platform == ExternalPlatform.JIRA:
            return {"api_token": data["jira_api_token"].strip()}
        if self.chosen_platform == ExternalPlatform.TRELLO:
            return {"token": data["trello_token"].strip()}
        return {}

    def credentials(self) -> PlatformConfig | None:
        """A client config from what was typed, completed with the stored token."""
        secrets = self.secrets()
        name = "api_token" if self.chosen_platform == ExternalPlatform.JIRA else "token"
        if (
            self.chosen_platform
            and not secrets.get(name)
            and not self._destination_changed(self.chosen_platform, self.cleaned_data)
        ):
            secrets[name] = self._stored_token(self.chosen_platform)
        return external_credentials_build(platform=self.chosen_platform, config=self.config(), secrets=secrets)
