"""HTTP clients for the external platforms a board can send its tickets to (SPEC section 9)."""

from __future__ import annotations

from boards.external.base import (
    TIMEOUT,
    ExternalError,
    ExternalIssue,
    PermanentExternalError,
    TransientExternalError,
)
from boards.external.jira import JiraConfig, jira_create_issue, jira_find_issue, jira_test_connection
from boards.external.trello import (
    TRELLO_API_URL,
    TrelloConfig,
    trello_board_lists,
    trello_create_card,
    trello_find_card,
    trello_test_connection,
)

__all__ = [
    "TIMEOUT",
    "TRELLO_API_URL",
    "ExternalError",
    "ExternalIssue",
    "JiraConfig",
    "PermanentExternalError",
    "TransientExternalError",
    "TrelloConfig",
    "jira_create_issue",
    "jira_find_issue",
    "jira_test_connection",
    "trello_board_lists",
    "trello_create_card",
    "trello_find_card",
    "trello_test_connection",
]
