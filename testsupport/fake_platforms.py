"""Local HTTP servers that speak the Jira Cloud and Trello endpoints our clients use (SPEC EXT-4).

Each fake is a real ``ThreadingHTTPServer`` on a free port of 127.0.0.1, served from a background
thread, so the clients are exercised through ``requests`` exactly as in production. The fakes are
strict on purpose: they check the credentials byte for byte and validate request bodies the way the
platforms do, answering with the platforms' own error shapes, so a client bug shows up as the same
error a manager would see.

Use them as context managers or through the ``fake_jira`` / ``fake_trello`` pytest fixtures
(a root ``conftest.py`` can expose them with ``pytest_plugins = ["testsupport.fake_platforms"]``)::

    def test_something(fake_jira):
        config = fake_jira.config()
        fake_jira.fail_next(429, retry_after=7)      # next call answers 429 + Retry-After: 7
        fake_jira.hang_next(seconds=1.0)             # next call gets no answer for a second
        fake_jira.answer_late_next(seconds=1.0)      # next call is carried out, its answer lost
        ...
        assert fake_jira.created_issues[0]["fields"]["summary"] == "..."
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from boards.external.jira import JiraConfig
from boards.external.trello import TrelloConfig

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it, for assertions on what the client sent."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, **headers: str) -> Reply:
        return cls(status, json.dumps(payload).encode(), JSON, headers)

    @classmethod
    def text(cls, status: int, text: str) -> Reply:
        return cls(status, text.encode(), TEXT)


@dataclass(frozen=True)
class _ScriptedFailure:
    status: int | None  # None means: never answer (until ``hang_seconds`` pass or shutdown)
    retry_after: str | None = None
    hang_seconds: float = 0.0
    # With status None: carry the request out first (create the issue), then never answer, as
    # when a platform's answer is lost after it accepted the call.
    carry_out: bool = False
    # Only a request with this method meets the failure; others pass until one does.
    method: str | None = None


class FakePlatform:
    """Server plumbing, failure scripting and request recording shared by both fakes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: deque[_ScriptedFailure] = deque()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[RecordedRequest] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.fake = self  # type: ignore[attr-defined]
        server.handle_error = _ignore_client_disconnects  # type: ignore[method-assign]
        self._server = server
        # A short poll interval keeps shutdown fast; tests start and stop a server each.
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"{type(self).__name__}-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        # Wake any handler that is simulating a hang before shutting the server down.
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- scripting ---------------------------------------------------------------------------

    def fail_next(self, status: int, *, times: int = 1, retry_after: float | str | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` and the platform's error body."""
        header = None if retry_after is None else str(retry_after)
        with self._lock:
            self._failures.extend(_ScriptedFailure(status, header) for _ in range(times))

    def hang_next(self, *, seconds: float, times: int = 1) -> None:
        """Leave the next ``times`` requests unanswered for ``seconds`` (longer than the timeout)."""
        with self._lock:
            self._failures.extend(_ScriptedFailure(None, hang_seconds=seconds) for _ in range(times))

    def answer_late_next(self, *, seconds: float, times: int = 1, method: str | None = None) -> None:
        """Carry out the next ``times`` requests (with ``method``, if given) but answer none for ``seconds``."""
        with self._lock:
            self._failures.extend(
                _ScriptedFailure(None, hang_seconds=seconds, carry_out=True, method=method) for _ in range(times)
            )

    # -- request handling --------------------------------------------------------------------

    def _handle(self, request: RecordedRequest) -> Reply | None:
        with self._lock:
            self.requests.append(request)
            failure = None
            if self._failures and self._failures[0].method in (None, request.method):
                failure = self._failures.popleft()
        if failure is not None:
            if failure.status is None:
                if failure.carry_out:
                    self.route(request)
                self._stopping.wait(failure.hang_seconds)
                return None
            reply = self.error_reply(failure.status)
            if failure.retry_after is not None:
                reply.headers["Retry-After"] = failure.retry_after
            return reply
        return self.route(request)

    def route(self, request: RecordedRequest) -> Reply:
        raise NotImplementedError

    def error_reply(self, status: int) -> Reply:
        raise NotImplementedError


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakePlatform/1.0"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=unquote(parts.path),
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        reply = self.server.fake._handle(request)  # type: ignore[attr-defined]
        if reply is None:
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        # Silence the default stderr access log; tests assert on ``fake.requests`` instead.
        return


def _ignore_client_disconnects(request: Any, client_address: Any) -> None:
    # After a simulated hang the client has already given up; writing to it fails and the default
    # handler would print a traceback into the test output.
    return


# ================================================================================================
# Jira Cloud
# ================================================================================================


class FakeJira(FakePlatform):
    """``/rest/api/3/myself``, ``/rest/api/3/project/{key}``, ``POST /rest/api/3/issue`` and
    ``GET /rest/api/3/search/jql`` (only ``project = "KEY" AND text ~ "word"``, matched at once:
    the real index lags a little behind creation)."""

    def __init__(
        self,
        *,
        email: str = "manager@example.com",
        api_token: str = "ATATT-jira-secret-token-0123456789",
        display_name: str = "Dana Manager",
        projects: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.email = email
        self.api_token = api_token
        self.display_name = display_name
        self.projects = projects or {
            "ABC": {
                "id": "10000",
                "name": "Alpha Beta Corp",
                "issue_types": ["Task", "Bug"],
            }
        }
        self.created_issues: list[dict[str, Any]] = []
        self._issue_numbers = itertools.count(1)

    def config(self, **overrides: Any) -> JiraConfig:
        values: dict[str, Any] = {
            "site_url": self.url,
            "email": self.email,
            "api_token": self.api_token,
            "project_key": next(iter(self.projects)),
        }
        values.update(overrides)
        return JiraConfig(**values)

    def error_reply(self, status: int) -> Reply:
        messages = {
            400: "The request is malformed.",
            401: "You are not authenticated. Authentication required to perform this operation.",
            403: "You do not have permission to perform this operation.",
            404: "The requested resource could not be found.",
            429: "Rate limit exceeded.",
        }
        message = messages.get(status, "Internal server error.")
        return Reply.json(status, {"errorMessages": [message], "errors": {}})

    def route(self, request: RecordedRequest) -> Reply:
        expected = base64.b64encode(f"{self.email}:{self.api_token}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return self.error_reply(401)

        if request.method == "GET" and request.path == "/rest/api/3/myself":
            return Reply.json(
                200,
                {
                    "accountId": "5b10a2844c20165700ede21g",
                    "emailAddress": self.email,
                    "displayName": self.display_name,
                    "active": True,
                },
            )
        match = re.fullmatch(r"/rest/api/3/project/([^/]+)", request.path)
        if request.method == "GET" and match:
            key = match.group(1)
            project = self.projects.get(key)
            if project is None:
                return Reply.json(
                    404,
                    {
                        "errorMessages": [f"No project could be found with key '{key}'."],
                        "errors": {},
                    },
                )
            return Reply.json(200, self._project_json(key, project))
        if request.method == "POST" and request.path == "/rest/api/3/issue":
            return self._create_issue(request)
        if request.method == "GET" and request.path == "/rest/api/3/search/jql":
            return self._search(request)
        return self.error_reply(404)

    def _search(self, request: RecordedRequest) -> Reply:
        jql = _first(request.query, "jql") or ""
        match = re.fullmatch(r'project = "([^"]+)" AND text ~ "([^"]+)"', jql)
        if match is None:
            return Reply.json(400, {"errorMessages": [f"Error in the JQL Query: {jql!r}"], "errors": {}})
        key, word = match.groups()
        if key not in self.projects:
            return Reply.json(
                400, {"errorMessages": [f"The value '{key}' does not exist for the field 'project'."], "errors": {}}
            )
        wanted = {name.strip() for name in (_first(request.query, "fields") or "").split(",") if name.strip()}
        with self._lock:
            hits = [
                issue
                for issue in self.created_issues
                if issue["key"].startswith(f"{key}-") and word in json.dumps(issue["fields"].get("description"))
            ]
        issues = [
            {
                "id": issue["id"],
                "key": issue["key"],
                "fields": {name: value for name, value in issue["fields"].items() if name in wanted},
            }
            for issue in hits
        ]
        return Reply.json(200, {"issues": issues, "isLast": True})

    def _project_json(self, key: str, project: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": project["id"],
            "key": key,
            "name": project["name"],
            "self": f"{self.url}/rest/api/3/project/{project['id']}",
            "issueTypes": [
                {"id": str(10001 + index), "name": name, "subtask": False}
                for index, name in enumerate(project["issue_types"])
            ],
        }

    def _create_issue(self, request: RecordedRequest) -> Reply:
        if not request.headers.get("content-type", "").startswith(JSON):
            return Reply.json(415, {"errorMessages": ["Unsupported Media Type"], "errors": {}})
        try:
            body = request.json()
        except ValueError:
            return Reply.json(
                400,
                {
                    "errorMessages": ["Unexpected character in request body."],
                    "errors": {},
                },
            )
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            return Reply.json(
                400,
                {
                    "errorMessages": ["Request body must contain 'fields'."],
                    "errors": {},
                },
            )

        errors: dict[str, str] = {}
        project_key = _dig(fields, "project", "key")
        project = self.projects.get(project_key) if isinstance(project_key, str) else None
        if project is None:
            errors["project"] = "Specify a valid project ID or key"

        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif len(summary) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        elif "\n" in summary or "\r" in summary:
            errors["summary"] = "The summary is invalid because it contains newline characters."

        issue_type = _dig(fields, "issuetype", "name")
        if not isinstance(issue_type, str) or not issue_type:
            errors["issuetype"] = "Specify an issue type"
        elif project is not None and issue_type not in project["issue_types"]:
            errors["issuetype"] = "Specify a valid issue type"

        if "description" in fields and not is_valid_adf(fields["description"]):
            errors["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"

        if errors:
            return Reply.json(400, {"errorMessages": [], "errors": errors})

        with self._lock:
            number = next(self._issue_numbers)
            issue = {
                "id": str(10000 + number),
                "key": f"{project_key}-{number}",
                "fields": fields,
            }
            self.created_issues.append(issue)
        return Reply.json(
            201,
            {
                "id": issue["id"],
                "key": issue["key"],
                "self": f"{self.url}/rest/api/3/issue/{issue['id']}",
            },
        )


def is_valid_adf(document: Any) -> bool:
    """The subset of Atlassian Document Format our client produces, checked strictly.

    doc{type, version: 1, content: [paragraph...]}; paragraph{type, content?: [inline...]};
    inline is text{type, text: non-empty str, marks?} or hardBreak{type}.
    """
    if not isinstance(document, dict) or set(document) != {
        "type",
        "version",
        "content",
    }:
        return False
    if document["type"] != "doc" or document["version"] != 1:
        return False
    if not isinstance(document["content"], list):
        return False
    for block in document["content"]:
        if not isinstance(block, dict) or block.get("type") != "paragraph":
            return False
        if not set(block) <= {"type", "content", "attrs"}:
            return False
        inline_nodes = block.get("content", [])
        if not isinstance(inline_nodes, list):
            return False
        for node in inline_nodes:
            if not isinstance(node, dict):
                return False
            if node.get("type") == "text":
                if not set(node) <= {"type", "text", "marks"}:
                    return False
                if not isinstance(node.get("text"), str) or not node["text"]:
                    return False
            elif node.get("type") == "hardBreak":
                if not set(node) <= {"type", "attrs"}:
                    return False
            else:
                return False
    return True


def _dig(data: dict[str, Any], *keys: str) -> Any:
    value: Any = data
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


# ================================================================================================
# Trello
# ================================================================================================

_TRELLO_ID = re.compile(r"[0-9a-f]{24}")
_OAUTH_PARAM = re.compile(r'\s*(\w+)="([^"]*)"\s*')


class FakeTrello(FakePlatform):
    """``/1/members/me``, ``/1/boards/{id}``, ``/1/boards/{id}/lists``, ``POST /1/cards`` and
    ``GET /1/search`` over card names and descriptions (matched at once, unlike the real index)."""

    def __init__(
        self,
        *,
        api_key: str = "0123456789abcdef0123456789abcdef",
        token: str = "ATTA-trello-secret-token-9876543210",
        full_name: str = "Dana Manager",
        boards: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.token = token
        self.full_name = full_name
        self.boards = boards or {
            "5f0000000000000000000001": {
                "name": "Support",
                "closed": False,
                "lists": [
                    {
                        "id": "5f00000000000000000000a1",
                        "name": "Inbox",
                        "closed": False,
                    },
                    {
                        "id": "5f00000000000000000000a2",
                        "name": "Doing",
                        "closed": False,
                    },
                    {"id": "5f00000000000000000000a3", "name": "Old", "closed": True},
                ],
            }
        }
        self.created_cards: list[dict[str, Any]] = []
        self._card_numbers = itertools.count(1)

    def config(self, **overrides: Any) -> TrelloConfig:
        board_id, board = next(iter(self.boards.items()))
        values: dict[str, Any] = {
            "api_key": self.api_key,
            "token": self.token,
            "board_id": board_id,
            "list_id": board["lists"][0]["id"],
            "base_url": self.url,
        }
        values.update(overrides)
        return TrelloConfig(**values)

    def error_reply(self, status: int) -> Reply:
        if status == 429:
            return Reply.json(
                429,
                {"error": "API_TOKEN_LIMIT_EXCEEDED", "message": "Rate limit exceeded"},
            )
        texts = {
            400: "invalid id",
            401: "invalid token",
            403: "unauthorized permission requested",
            404: "The requested resource was not found.",
        }
        return Reply.text(status, texts.get(status, "Internal Server Error"))

    def route(self, request: RecordedRequest) -> Reply:
        key, token = self._credentials(request)
        if key != self.api_key:
            return Reply.text(401, "invalid key")
        if token != self.token:
            return Reply.text(401, "invalid token")

        if request.method == "GET" and request.path == "/1/members/me":
            return Reply.json(
                200,
                {
                    "id": "5e0000000000000000000001",
                    "username": "dana",
                    "fullName": self.full_name,
                },
            )
        match = re.fullmatch(r"/1/boards/([^/]+)(/lists)?", request.path)
        if request.method == "GET" and match:
            board_id, lists = match.group(1), match.group(2)
            if not _TRELLO_ID.fullmatch(board_id):
                return Reply.text(400, "invalid id")
            board = self.boards.get(board_id)
            if board is None:
                return Reply.text(404, "The requested resource was not found.")
            if lists:
                return Reply.json(200, self._lists_json(board_id, board, request))
            return Reply.json(
                200,
                {
                    "id": board_id,
                    "name": board["name"],
                    "closed": board["closed"],
                    "url": f"{self.url}/b/{board_id[-8:]}/{board['name'].lower()}",
                },
            )
        if request.method == "POST" and request.path == "/1/cards":
            return self._create_card(request)
        if request.method == "GET" and request.path == "/1/search":
            return self._search(request)
        return Reply.text(404, "Cannot " + request.method + " " + request.path)

    def _credentials(self, request: RecordedRequest) -> tuple[str | None, str | None]:
        # Trello accepts either documented form; the header wins when both are present.
        header = request.headers.get("authorization", "")
        if header.startswith("OAuth "):
            params: dict[str, str] = {}
            for item in header[len("OAuth ") :].split(","):
                match = _OAUTH_PARAM.fullmatch(item)
                if match:
                    params[match.group(1)] = match.group(2)
            return params.get("oauth_consumer_key"), params.get("oauth_token")
        return _first(request.query, "key"), _first(request.query, "token")

    def _lists_json(self, board_id: str, board: dict[str, Any], request: RecordedRequest) -> list[dict[str, Any]]:
        wanted = _first(request.query, "filter") or "open"
        return [
            {
                "id": item["id"],
                "name": item["name"],
                "closed": item["closed"],
                "idBoard": board_id,
            }
            for item in board["lists"]
            if wanted == "all" or item["closed"] == (wanted == "closed")
        ]

    def _create_card(self, request: RecordedRequest) -> Reply:
        # Trello reads parameters from the query string and from a JSON or form body alike.
        params: dict[str, Any] = {name: values[0] for name, values in request.query.items()}
        content_type = request.headers.get("content-type", "")
        if request.body:
            if content_type.startswith(JSON):
                try:
                    body = request.json()
                except ValueError:
                    return Reply.text(400, "invalid JSON")
                if not isinstance(body, dict):
                    return Reply.text(400, "invalid JSON")
                params.update(body)
            else:
                form = parse_qs(request.body.decode(), keep_blank_values=True)
                params.update({name: values[0] for name, values in form.items()})

        list_id = params.get("idList")
        located = self._find_list(list_id) if isinstance(list_id, str) else None
        if located is None:
            return Reply.text(400, "invalid value for idList")
        board_id, _list = located
        name = params.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 16384:
            return Reply.text(400, "invalid value for name")
        desc = params.get("desc", "")
        if not isinstance(desc, str) or len(desc) > 16384:
            return Reply.text(400, "invalid value for desc")
        if params.get("pos", "bottom") not in ("top", "bottom") and not _is_number(params["pos"]):
            return Reply.text(400, "invalid value for pos")

        with self._lock:
            number = next(self._card_numbers)
            short_link = f"cARd{number:04d}"
            card = {
                "id": f"{number:024x}",
                "name": name,
                "desc": desc,
                "idList": list_id,
                "idBoard": board_id,
                "shortLink": short_link,
                "shortUrl": f"{self.url}/c/{short_link}",
                "url": f"{self.url}/c/{short_link}/{number}-card",
            }
            self.created_cards.append(card)
        return Reply.json(200, card)

    def _search(self, request: RecordedRequest) -> Reply:
        query = (_first(request.query, "query") or "").strip()
        if not query:
            return Reply.text(400, "invalid value for query")
        fields = (_first(request.query, "card_fields") or "name,desc,shortUrl,url").split(",")
        with self._lock:
            hits = [card for card in self.created_cards if query in card["name"] or query in card["desc"]]
        cards = [{"id": card["id"], **{name: card[name] for name in fields if name in card}} for card in hits]
        return Reply.json(200, {"options": {"terms": [{"text": query}]}, "cards": cards})

    def _find_list(self, list_id: str) -> tuple[str, dict[str, Any]] | None:
        for board_id, board in self.boards.items():
            for item in board["lists"]:
                if item["id"] == list_id and not item["closed"]:
                    return board_id, item
        return None


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


# ================================================================================================
# pytest fixtures
# ================================================================================================


@pytest.fixture
def fake_jira() -> Iterator[FakeJira]:
    with FakeJira() as server:
        yield server


@pytest.fixture
def fake_trello() -> Iterator[FakeTrello]:
    with FakeTrello() as server:
        yield server
