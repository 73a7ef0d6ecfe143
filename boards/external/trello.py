"""Trello client: test the connection, list a board's lists, create a card (SPEC EXT-1, EXT-2).

Endpoints and shapes follow Trello's public documentation:

* Authorization: an API key plus a user token. Trello documents two ways to send them, as
  ``key``/``token`` query parameters or in the header
  ``Authorization: OAuth oauth_consumer_key="<key>", oauth_token="<token>"``. We use the header:
  a query string ends up in proxy and server access logs, in urllib3's debug log and in the text
  of requests' connection exceptions, and the token grants full access to the user's account.
  https://developer.atlassian.com/cloud/trello/guides/rest-api/authorization/
* ``GET /1/members/me`` and ``GET /1/boards/{id}`` (test connection), ``GET /1/boards/{id}/lists``
  (the lists a manager chooses from), ``POST /1/cards`` with ``idList``, ``name``, ``desc``
  (answers the card with ``id``, ``shortUrl``, ``url``)
  https://developer.atlassian.com/cloud/trello/rest/api-group-members/#api-members-id-get
  https://developer.atlassian.com/cloud/trello/rest/api-group-boards/#api-boards-id-get
  https://developer.atlassian.com/cloud/trello/rest/api-group-boards/#api-boards-id-lists-get
  https://developer.atlassian.com/cloud/trello/rest/api-group-cards/#api-cards-post
  https://developer.atlassian.com/cloud/trello/guides/rest-api/api-introduction/
* ``GET /1/search?query=...&modelTypes=cards`` (answers ``{"cards": [...]}``), to find a card we
  may have created before an answer was lost; the search index lags a little behind creation.
  https://developer.atlassian.com/cloud/trello/rest/api-group-search/#api-search-get
* 429 with ``{"error": "API_TOKEN_LIMIT_EXCEEDED", ...}`` when rate limited
  https://developer.atlassian.com/cloud/trello/guides/rest-api/rate-limits/

Trello answers errors as short plain-text bodies ("invalid key", "invalid value for idList").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from django.utils.translation import gettext as _

from boards.external.base import (
    TIMEOUT,
    ExternalIssue,
    PermanentExternalError,
    StatusMessages,
    send,
)

PLATFORM = "Trello"

TRELLO_API_URL = "https://api.trello.com"

# Trello's documented limit for card names and descriptions; longer values are refused with 400.
CARD_TEXT_MAX_CHARS = 16384

_REFERENCE = re.compile(r"[A-Za-z0-9]{8,64}")


@dataclass(frozen=True)
class TrelloConfig:
    api_key: str
    token: str
    board_id: str
    list_id: str = ""
    # Only tests point this elsewhere (the local fake server); production uses the public API.
    base_url: str = TRELLO_API_URL

    def __repr__(self) -> str:
        # The default dataclass repr would print the token into tracebacks and debug logs.
        return (
            f"TrelloConfig(api_key={self.api_key!r}, token='***', board_id={self.board_id!r}, "
            f"list_id={self.list_id!r}, base_url={self.base_url!r})"
        )


def trello_test_connection(config: TrelloConfig, *, timeout: float = TIMEOUT) -> str:
    """Check key, token, board (and the chosen list); return a sentence for the manager."""
    member = _call(config, "GET", "/1/members/me", timeout=timeout, not_found=_not_trello())
    board = _call(
        config,
        "GET",
        f"/1/boards/{quote(config.board_id, safe='')}",
        timeout=timeout,
        params={"fields": "name,url,closed"},
        not_found=_board_not_found(config),
    )
    if not isinstance(member, dict) or not isinstance(board, dict):
        raise PermanentExternalError(_not_trello())
    board_name = board.get("name") or config.board_id
    if board.get("closed"):
        raise PermanentExternalError(_('Trello: board "%(board)s" is archived (closed).') % {"board": board_name})

    # Translators: stands in for the Trello user's name in "Connected to Trello as …".
    who = member.get("fullName") or member.get("username") or _("this account")
    if not config.list_id:
        return _('Connected to Trello as %(who)s; board "%(board)s" is reachable.') % {
            "who": who,
            "board": board_name,
        }
    lists = dict(trello_board_lists(config, timeout=timeout))
    if config.list_id not in lists:
        raise PermanentExternalError(
            _('Trello: the chosen list is not an open list of board "%(board)s"; choose the list again.')
            % {"board": board_name}
        )
    return _('Connected to Trello as %(who)s; board "%(board)s", list "%(list)s" is reachable.') % {
        "who": who,
        "board": board_name,
        "list": lists[config.list_id],
    }


def trello_board_lists(config: TrelloConfig, *, timeout: float = TIMEOUT) -> list[tuple[str, str]]:
    """The board's open lists as ``(id, name)``, in board order."""
    lists = _call(
        config,
        "GET",
        f"/1/boards/{quote(config.board_id, safe='')}/lists",
        timeout=timeout,
        params={"filter": "open", "fields": "id,name"},
        not_found=_board_not_found(config),
    )
    if not isinstance(lists, list):
        raise PermanentExternalError(_not_trello())
    return [
        (str(item["id"]), str(item.get("name") or "")) for item in lists if isinstance(item, dict) and item.get("id")
    ]


def trello_create_card(
    config: TrelloConfig,
    *,
    title: str,
    description: str,
    creator_email: str,
    reference: str = "",
    timeout: float = TIMEOUT,
) -> ExternalIssue:
    """Create the card at the bottom of the configured list; return its id and short URL.

    ``reference`` goes into the description, so ``trello_find_card`` can tell whether an attempt
    whose answer was lost created the card after all.
    """
    if not config.list_id:
        raise PermanentExternalError(_("Trello: no list is chosen for new cards; choose one in the board settings."))
    # Sent as a JSON body, not query parameters: e-mail descriptions can be long and URLs are not.
    payload = {
        "idList": config.list_id,
        "name": trello_card_name(title),
        "desc": trello_card_description(description, creator_email=creator_email, reference=reference),
        "pos": "bottom",
    }
    card = _call(
        config,
        "POST",
        "/1/cards",
        timeout=timeout,
        json_body=payload,
        not_found=_(
            "Trello: the chosen list was not found on board %(board)s "
            "or is not visible to this account; choose the list again."
        )
        % {"board": config.board_id},
    )
    if not isinstance(card, dict) or not card.get("id"):
        raise PermanentExternalError(
            _("Trello: the card may not have been created; the answer did not contain its id.")
        )
    return _card_issue(card)


def trello_find_card(config: TrelloConfig, *, reference: str, timeout: float = TIMEOUT) -> ExternalIssue | None:
    """The card whose description carries ``reference``, if Trello's search index has it."""
    if not _REFERENCE.fullmatch(reference):
        raise ValueError("a reference is letters and digits only")
    found = _call(
        config,
        "GET",
        "/1/search",
        timeout=timeout,
        params={
            "query": reference,
            "modelTypes": "cards",
            "card_fields": "desc,shortUrl,url",
            "cards_limit": "20",
            "partial": "false",
        },
        not_found=_not_trello(),
    )
    cards = found.get("cards") if isinstance(found, dict) else None
    if not isinstance(cards, list):
        raise PermanentExternalError(_not_trello())
    # Search matches loosely; only an exact reference line counts as ours.
    line = trello_reference_line(reference)
    for card in cards:
        if isinstance(card, dict) and card.get("id") and line in str(card.get("desc") or "").splitlines():
            return _card_issue(card)
    return None


def _card_issue(card: dict[str, Any]) -> ExternalIssue:
    url = card.get("shortUrl") or card.get("url")
    if not url:
        raise PermanentExternalError(_("Trello: the answer for the new card did not contain a link."))
    return ExternalIssue(external_id=str(card["id"]), url=str(url))


def trello_card_name(title: str) -> str:
    # Card names are single-line in Trello's UI; keep what the reporter typed on one line.
    return " ".join(title.split())[:CARD_TEXT_MAX_CHARS]


def trello_reference_line(reference: str) -> str:
    return f"Tracker reference: {reference}"


def trello_card_description(description: str, *, creator_email: str, reference: str = "") -> str:
    """Description plus the reporter line; the reporter line survives any truncation."""
    footer = f"Reported by: {creator_email}"
    if reference:
        footer += "\n" + trello_reference_line(reference)
    body = description.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body:
        return footer
    room = CARD_TEXT_MAX_CHARS - len(footer) - 2
    if len(body) > room:
        body = body[: room - 1] + "…"
    return f"{body}\n\n{footer}"


def trello_authorization_header(config: TrelloConfig) -> str:
    return f'OAuth oauth_consumer_key="{config.api_key}", oauth_token="{config.token}"'


def _not_trello() -> str:
    # A function, not a module constant: the message is translated when it is raised.
    return _("Trello: the address answered, but not like the Trello API does.")


def _board_not_found(config: TrelloConfig) -> str:
    return _("Trello: board %(board)s not found or not visible to this account.") % {"board": config.board_id}


def _call(
    config: TrelloConfig,
    method: str,
    path: str,
    *,
    timeout: float,
    not_found: str,
    params: dict[str, str] | None = None,
    json_body: Any = None,
) -> Any:
    messages = StatusMessages(
        unauthorized=_(
            "Trello refused the API key and token; check both and that the token has not expired or been revoked."
        ),
        forbidden=_(
            "Trello: this account is not allowed to do this on board %(board)s; "
            "it must be a member of the board with write access."
        )
        % {"board": config.board_id},
        not_found=not_found,
        bad_request=lambda detail: _bad_request(config, detail),
    )
    return send(
        method,
        config.base_url.rstrip("/") + path,
        platform=PLATFORM,
        # The API key is public by design (Trello); only the token is a secret.
        secrets=[config.token],
        timeout=timeout,
        messages=messages,
        error_detail=_error_detail,
        headers={"Authorization": trello_authorization_header(config)},
        params=params,
        json_body=json_body,
    )


def _bad_request(config: TrelloConfig, detail: str) -> str:
    # Trello answers 400 "invalid id" for a malformed board or list id, which a manager knows
    # as "not found", so say that instead of Trello's jargon.
    lowered = detail.lower()
    if "idlist" in lowered:
        return _("Trello: the chosen list does not exist any more; choose the list again.")
    if lowered.strip() == "invalid id":
        return _board_not_found(config)
    return _("Trello refused the request: %(detail)s.") % {"detail": detail or _("no reason given")}


def _error_detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or "")
    return str(body)
