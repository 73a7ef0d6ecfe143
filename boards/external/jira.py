"""Jira Cloud client: test the connection and create an issue (SPEC EXT-1, EXT-2, EXT-4).

Endpoints and shapes follow Atlassian's public documentation:

* Authentication: basic auth with the Atlassian account email and an API token
  https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/
* ``GET /rest/api/3/myself`` (who the credentials belong to) and
  ``GET /rest/api/3/project/{projectIdOrKey}`` (project visible, with its ``issueTypes``)
  https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/
  https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-projects/
* ``POST /rest/api/3/issue`` with ``{"fields": {"project": {"key"}, "summary", "issuetype":
  {"name"}, "description": <ADF>}}``; 201 answers ``{"id", "key", "self"}``; 400/401/403 answer
  an ErrorCollection ``{"errorMessages": [...], "errors": {field: message}}``
  https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-post
* Descriptions in REST v3 must be Atlassian Document Format
  https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/
  https://developer.atlassian.com/cloud/jira/platform/apis/document/nodes/paragraph/
* ``GET /rest/api/3/search/jql?jql=...&fields=...`` (enhanced JQL search; answers ``{"issues":
  [{"id", "key", "fields"}], "isLast"}``), to find an issue we may have created before an answer
  was lost. Its index is eventually consistent, so a just-created issue can still be missing.
  https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/#api-rest-api-3-search-jql-get
* ``Retry-After`` on 429 (and some 5xx)
  https://developer.atlassian.com/cloud/jira/platform/rate-limiting/
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

PLATFORM = "Jira"

# Jira refuses longer summaries ("Summary must be less than 255 characters").
SUMMARY_MAX_CHARS = 255

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# Goes into JQL unquoted-safe: letters and digits only.
_REFERENCE = re.compile(r"[A-Za-z0-9]{8,64}")


@dataclass(frozen=True)
class JiraConfig:
    site_url: str
    email: str
    api_token: str
    project_key: str
    issue_type: str = "Task"

    def __repr__(self) -> str:
        # The default dataclass repr would print the token into tracebacks and debug logs.
        return (
            f"JiraConfig(site_url={self.site_url!r}, email={self.email!r}, "
            f"api_token='***', project_key={self.project_key!r}, issue_type={self.issue_type!r})"
        )


def jira_test_connection(config: JiraConfig, *, timeout: float = TIMEOUT) -> str:
    """Check the credentials, the project and its issue type; return a sentence for the manager."""
    myself = _call(
        config,
        "GET",
        "/rest/api/3/myself",
        timeout=timeout,
        not_found=_("Jira: %(site)s does not look like a Jira Cloud site; check the address.")
        % {"site": _site(config)},
    )
    project = _call(
        config,
        "GET",
        f"/rest/api/3/project/{quote(config.project_key, safe='')}",
        timeout=timeout,
        not_found=_project_not_found(config),
    )
    if not isinstance(myself, dict) or not isinstance(project, dict):
        raise PermanentExternalError(
            _("Jira: the address answered, but not like the Jira API does; check the address.")
        )

    issue_types = [
        str(item.get("name")) for item in project.get("issueTypes") or [] if isinstance(item, dict) and item.get("name")
    ]
    # Older or restricted answers may omit issueTypes; only complain when Jira listed them.
    if issue_types and config.issue_type not in issue_types:
        raise PermanentExternalError(
            _('Jira: project %(project)s has no issue type "%(issue_type)s"; available: %(available)s.')
            % {"project": config.project_key, "issue_type": config.issue_type, "available": ", ".join(issue_types)}
        )

    who = myself.get("displayName") or myself.get("emailAddress") or config.email
    project_name = project.get("name") or config.project_key
    return _(
        'Connected to Jira as %(who)s; new tickets will be created as "%(issue_type)s" in project '
        "%(project)s (%(project_name)s)."
    ) % {"who": who, "issue_type": config.issue_type, "project": config.project_key, "project_name": project_name}


def jira_create_issue(
    config: JiraConfig,
    *,
    title: str,
    description: str,
    creator_email: str,
    reference: str = "",
    timeout: float = TIMEOUT,
) -> ExternalIssue:
    """Create the issue and return its id and browse URL.

    ``reference`` goes into the description, so ``jira_find_issue`` can tell whether an attempt
    whose answer was lost created the issue after all.
    """
    payload = {
        "fields": {
            "project": {"key": config.project_key},
            "summary": jira_summary(title),
            "issuetype": {"name": config.issue_type},
            "description": jira_description_adf(description, creator_email=creator_email, reference=reference),
        }
    }
    created = _call(
        config,
        "POST",
        "/rest/api/3/issue",
        timeout=timeout,
        json_body=payload,
        not_found=_project_not_found(config),
    )
    if not isinstance(created, dict) or not created.get("id") or not created.get("key"):
        raise PermanentExternalError(
            _("Jira: the issue may not have been created; the answer did not contain its key.")
        )
    key = str(created["key"])
    return ExternalIssue(external_id=str(created["id"]), url=f"{_site(config)}/browse/{key}")


def jira_find_issue(config: JiraConfig, *, reference: str, timeout: float = TIMEOUT) -> ExternalIssue | None:
    """The project's issue whose description carries ``reference``, if the search index has it."""
    if not _REFERENCE.fullmatch(reference):
        raise ValueError("a reference is letters and digits only")
    found = _call(
        config,
        "GET",
        "/rest/api/3/search/jql",
        timeout=timeout,
        params={
            "jql": f'project = "{config.project_key}" AND text ~ "{reference}"',
            "fields": "description",
            "maxResults": "20",
        },
        not_found=_project_not_found(config),
    )
    issues = found.get("issues") if isinstance(found, dict) else None
    if not isinstance(issues, list):
        raise PermanentExternalError(_("Jira: the search answered, but not like the Jira API does."))
    # Full-text search matches loosely; only an exact reference line counts as ours.
    line = reference_line(reference)
    for issue in issues:
        if not isinstance(issue, dict) or not issue.get("id") or not issue.get("key"):
            continue
        if line in adf_plain_text(_dig_description(issue)).splitlines():
            return ExternalIssue(external_id=str(issue["id"]), url=f"{_site(config)}/browse/{issue['key']}")
    return None


def reference_line(reference: str) -> str:
    return f"Tracker reference: {reference}"


def adf_plain_text(document: Any) -> str:
    """The text nodes of an ADF document, one line per paragraph or hard break."""
    lines: list[str] = []
    if isinstance(document, dict):
        for block in document.get("content") or []:
            current = ""
            for node in (block.get("content") or []) if isinstance(block, dict) else []:
                if isinstance(node, dict) and node.get("type") == "hardBreak":
                    lines.append(current)
                    current = ""
                elif isinstance(node, dict) and isinstance(node.get("text"), str):
                    current += node["text"]
            lines.append(current)
    return "\n".join(lines)


def _dig_description(issue: dict[str, Any]) -> Any:
    fields = issue.get("fields")
    return fields.get("description") if isinstance(fields, dict) else None


def jira_summary(title: str) -> str:
    """A one-line summary Jira accepts: line breaks collapsed, at most 255 characters."""
    return " ".join(title.split())[:SUMMARY_MAX_CHARS]


def jira_description_adf(description: str, *, creator_email: str, reference: str = "") -> dict[str, Any]:
    """Plain text to an ADF document: one paragraph per text paragraph, then the reporter.

    Single line breaks inside a paragraph become ``hardBreak`` nodes so e-mail signatures and
    lists keep their shape; ADF text nodes must not be empty, so blank lines are never emitted.
    """
    text = description.replace("\r\n", "\n").replace("\r", "\n").strip()
    paragraphs = [p.strip("\n") for p in _BLANK_LINE.split(text)] if text else []
    content = [_paragraph(p) for p in paragraphs if p.strip()]
    content.append(_paragraph(f"Reported by: {creator_email}"))
    if reference:
        content.append(_paragraph(reference_line(reference)))
    return {"type": "doc", "version": 1, "content": content}


def _paragraph(text: str) -> dict[str, Any]:
    inline: list[dict[str, Any]] = []
    for index, line in enumerate(text.split("\n")):
        if index:
            inline.append({"type": "hardBreak"})
        if line:
            inline.append({"type": "text", "text": line})
    return {"type": "paragraph", "content": inline}


def _site(config: JiraConfig) -> str:
    return config.site_url.strip().rstrip("/")


def _project_not_found(config: JiraConfig) -> str:
    return _("Jira: project %(project)s not found or not visible to this account.") % {"project": config.project_key}


def _call(
    config: JiraConfig,
    method: str,
    path: str,
    *,
    timeout: float,
    not_found: str,
    json_body: Any = None,
    params: dict[str, str] | None = None,
) -> Any:
    messages = StatusMessages(
        unauthorized=_(
            "Jira: the site refused the email %(email)s with this API token; "
            "check both and that the token has not expired or been revoked."
        )
        % {"email": config.email},
        forbidden=_(
            "Jira: the account %(email)s is not allowed to do this in project "
            "%(project)s; ask a Jira administrator for the permission."
        )
        % {"email": config.email, "project": config.project_key},
        not_found=not_found,
        bad_request=lambda detail: _bad_request(method, detail),
    )
    return send(
        method,
        _site(config) + path,
        platform=PLATFORM,
        secrets=[config.api_token],
        timeout=timeout,
        messages=messages,
        error_detail=_error_detail,
        auth=(config.email, config.api_token),
        json_body=json_body,
        params=params,
    )


def _bad_request(method: str, detail: str) -> str:
    """HTTP 400 in words; ``detail`` is Jira's own (already redacted) explanation."""
    reason = detail or _("no reason given")
    if method == "POST":
        return _("Jira refused the issue: %(detail)s.") % {"detail": reason}
    return _("Jira refused the request: %(detail)s.") % {"detail": reason}


def _error_detail(response: requests.Response) -> str:
    """Jira's ErrorCollection in words: general messages, then "field: message" pairs."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    if not isinstance(body, dict):
        return ""
    parts = [str(m) for m in body.get("errorMessages") or [] if m]
    errors = body.get("errors")
    if isinstance(errors, dict):
        parts.extend(f"{field}: {message}" for field, message in errors.items())
    return "; ".join(parts)
