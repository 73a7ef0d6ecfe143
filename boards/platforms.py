"""A board's external platform settings (EXT-1): Jira Cloud or Trello, secrets encrypted.

Non-secret settings live in ``Board.external_config``; the secrets (API tokens) are one AES-GCM
encrypted JSON object in ``Board.external_secrets`` and leave this module only inside a client
config object (``boards.external``). Forwarding tickets with these settings is ticket state and
lives in ``tickets.forwarding``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from boards.external import (
    TIMEOUT,
    TRELLO_API_URL,
    JiraConfig,
    PermanentExternalError,
    TrelloConfig,
    jira_test_connection,
    trello_board_lists,
    trello_test_connection,
)
from issuetracker import crypto
from issuetracker.hosts import is_internal_address, resolve

from .models import Board, ExternalPlatform

logger = logging.getLogger(__name__)

type PlatformConfig = JiraConfig | TrelloConfig

# What a board stores per platform: readable settings in external_config, secrets encrypted.
# The Trello API key is public by Trello's own design (it identifies the app); the token is not.
CONFIG_FIELDS: dict[str, tuple[str, ...]] = {
    ExternalPlatform.JIRA: ("site_url", "email", "project_key", "issue_type"),
    ExternalPlatform.TRELLO: ("api_key", "board_id", "list_id", "list_name"),
}
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    ExternalPlatform.JIRA: ("api_token",),
    ExternalPlatform.TRELLO: ("token",),
}

# A board setting whose change makes the stored token unusable until it is typed again: the
# Jira token would otherwise travel to whatever host the new address names.
DESTINATION_FIELDS: dict[str, str] = {ExternalPlatform.JIRA: "site_url", ExternalPlatform.TRELLO: "board_id"}


def external_timeout() -> float:
    """Seconds per HTTP call; a setting only so tests of hanging servers stay fast."""
    return float(getattr(settings, "EXTERNAL_PLATFORM_TIMEOUT", TIMEOUT))


def trello_api_url() -> str:
    # Not a board setting on purpose: the Trello token must only ever go to Trello itself.
    return str(getattr(settings, "TRELLO_API_URL", TRELLO_API_URL))


def site_url_is_public(site_url: str) -> bool | None:
    """Whether every address the site's host resolves to is public; None when it does not resolve.

    A board's manager chooses the Jira address and the server calls it, so without this check
    any account could make the server probe its own network (SSRF). Residual risk: DNS may answer
    differently when the request is made (rebinding); redirects are never followed, though.
    """
    if getattr(settings, "EXTERNAL_PLATFORM_ALLOW_PRIVATE_HOSTS", False):
        return True
    host = urlsplit(site_url).hostname
    if not host:
        return None
    try:
        addresses = resolve(host)
    except (OSError, UnicodeError, ValueError):
        return None
    return bool(addresses) and not any(is_internal_address(address) for address in addresses)


def refuse_private_site(credentials: PlatformConfig) -> None:
    """The same check right before a call, for addresses saved earlier or re-pointed in DNS."""
    if isinstance(credentials, JiraConfig) and site_url_is_public(credentials.site_url) is False:
        raise PermanentExternalError(
            _("The Jira address points to a private or reserved network address; enter your public Jira site.")
        )


def board_stored_secrets(board: Board) -> dict[str, str]:
    """The board's decrypted secrets; empty when there are none or they cannot be decrypted."""
    if not board.external_secrets:
        return {}
    try:
        values = json.loads(crypto.decrypt(board.external_secrets))
    except (crypto.DecryptionError, ValueError):
        # A rotated-away key: the manager has to enter the token again, nothing else breaks.
        logger.warning("external platform secrets cannot be decrypted", extra={"board_id": board.pk})
        return {}
    return {str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else {}


def external_credentials_build(
    *, platform: str, config: Mapping[str, str], secrets: Mapping[str, str]
) -> PlatformConfig | None:
    """A client config from stored or submitted values; None for "no platform"."""
    if platform == ExternalPlatform.JIRA:
        return JiraConfig(
            site_url=config.get("site_url", ""),
            email=config.get("email", ""),
            api_token=secrets.get("api_token", ""),
            project_key=config.get("project_key", ""),
            issue_type=config.get("issue_type") or "Task",
        )
    if platform == ExternalPlatform.TRELLO:
        return TrelloConfig(
            api_key=config.get("api_key", ""),
            token=secrets.get("token", ""),
            board_id=config.get("board_id", ""),
            list_id=config.get("list_id", ""),
            base_url=trello_api_url(),
        )
    return None


def board_external_credentials(board: Board) -> PlatformConfig | None:
    return external_credentials_build(
        platform=board.external_platform, config=board.external_config or {}, secrets=board_stored_secrets(board)
    )


def external_connection_test(credentials: PlatformConfig, *, timeout: float | None = None) -> str:
    """Jira: credentials and project; Trello: credentials, board and list. Raises ExternalError."""
    timeout = external_timeout() if timeout is None else timeout
    refuse_private_site(credentials)
    if isinstance(credentials, JiraConfig):
        return jira_test_connection(credentials, timeout=timeout)
    return trello_test_connection(credentials, timeout=timeout)


def trello_lists(credentials: TrelloConfig, *, timeout: float | None = None) -> list[tuple[str, str]]:
    return trello_board_lists(credentials, timeout=external_timeout() if timeout is None else timeout)


def board_set_external_platform(
    *, board: Board, platform: str, config: Mapping[str, str], secrets: Mapping[str, str]
) -> Board:
    """Store a board's platform settings; an empty secret keeps the stored one.

    Only while the destination (Jira site, Trello board) stays the same: the form asks for the
    token again when it changes, and this refuses to carry it over all the same.
    Choosing no platform forgets settings and secrets alike. Stubs already created keep their
    platform and link; pending ones fail at their next attempt and land in the standby queue.
    """
    if platform not in CONFIG_FIELDS:
        board.external_platform = ExternalPlatform.NONE
        board.external_config = {}
        board.external_secrets = ""
    else:
        destination = DESTINATION_FIELDS[platform]
        same_destination = board.external_platform == platform and str(config.get(destination) or "") == str(
            (board.external_config or {}).get(destination) or ""
        )
        stored = board_stored_secrets(board) if same_destination else {}
        merged = {name: secrets.get(name) or stored.get(name, "") for name in SECRET_FIELDS[platform]}
        board.external_platform = platform
        board.external_config = {name: str(config.get(name) or "") for name in CONFIG_FIELDS[platform]}
        board.external_secrets = crypto.encrypt(json.dumps(merged))
    board.save(update_fields=["external_platform", "external_config", "external_secrets"])
    logger.info("board external platform set", extra={"board_id": board.pk, "platform": board.external_platform})
    return board
