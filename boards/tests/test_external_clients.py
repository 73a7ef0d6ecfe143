"""The Jira and Trello clients against the local fake platforms (SPEC EXT-1..EXT-4).

No database: Django is needed only for the settings behind ``gettext`` (the messages are
translatable, NFR-5), so these tests run with the project's pytest settings.
"""

from __future__ import annotations

import base64
import email.utils
import json
import logging
import pickle
import socket
import time
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import translation

from boards.external import (
    ExternalError,
    ExternalIssue,
    PermanentExternalError,
    TransientExternalError,
)
from boards.external.base import parse_retry_after
from boards.external.jira import (
    JiraConfig,
    jira_create_issue,
    jira_description_adf,
    jira_summary,
    jira_test_connection,
)
from boards.external.trello import (
    TRELLO_API_URL,
    TrelloConfig,
    trello_board_lists,
    trello_card_description,
    trello_create_card,
    trello_test_connection,
)
from testsupport import fake_platforms
from testsupport.fake_platforms import FakeJira, FakeTrello, Reply, is_valid_adf

# Expose the shared fixtures here (an assignment, not an import, so linters do not read the
# test parameters of the same name as redefinitions).
fake_jira = fake_platforms.fake_jira
fake_trello = fake_platforms.fake_trello

CREATOR = "reporter@customer.example"


def _create_jira(config: JiraConfig, **kwargs: Any) -> ExternalIssue:
    values = {
        "title": "Printer on fire",
        "description": "It smokes.",
        "creator_email": CREATOR,
    }
    values.update(kwargs)
    return jira_create_issue(config, **values)


def _create_trello(config: TrelloConfig, **kwargs: Any) -> ExternalIssue:
    values = {
        "title": "Printer on fire",
        "description": "It smokes.",
        "creator_email": CREATOR,
    }
    values.update(kwargs)
    return trello_create_card(config, **values)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ================================================================================================
# Jira: success paths
# ================================================================================================


def test_jira_test_connection_names_account_and_project(fake_jira: FakeJira) -> None:
    sentence = jira_test_connection(fake_jira.config())

    assert sentence == (
        'Connected to Jira as Dana Manager; new tickets will be created as "Task" in project ABC (Alpha Beta Corp).'
    )
    assert [(r.method, r.path) for r in fake_jira.requests] == [
        ("GET", "/rest/api/3/myself"),
        ("GET", "/rest/api/3/project/ABC"),
    ]


def test_jira_create_issue_sends_documented_fields_and_returns_browse_url(
    fake_jira: FakeJira,
) -> None:
    config = fake_jira.config(site_url=fake_jira.url + "/")  # trailing slash is tolerated

    issue = _create_jira(
        config,
        title="Printer on fire",
        description="First paragraph.\n\nSecond line one\nSecond line two",
    )

    assert issue == ExternalIssue(external_id="10001", url=f"{fake_jira.url}/browse/ABC-1")
    sent = fake_jira.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/rest/api/3/issue")
    assert sent.headers["content-type"].startswith("application/json")
    fields = sent.json()["fields"]
    assert fields["project"] == {"key": "ABC"}
    assert fields["summary"] == "Printer on fire"
    assert fields["issuetype"] == {"name": "Task"}
    assert fields["description"] == {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [{"type": "text", "text": "First paragraph."}],
            },
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "Second line one"},
                    {"type": "hardBreak"},
                    {"type": "text", "text": "Second line two"},
                ],
            },
            {
                "type": "paragraph",
                "content": [{"type": "text", "text": f"Reported by: {CREATOR}"}],
            },
        ],
    }
    assert fake_jira.created_issues[0]["key"] == "ABC-1"


def test_jira_uses_basic_auth_with_email_and_token(fake_jira: FakeJira) -> None:
    jira_test_connection(fake_jira.config())

    expected = base64.b64encode(f"{fake_jira.email}:{fake_jira.api_token}".encode()).decode()
    assert all(r.headers["authorization"] == f"Basic {expected}" for r in fake_jira.requests)


def test_jira_summary_is_one_line_and_cut_to_255(fake_jira: FakeJira) -> None:
    title = "Line one\nline two\r\n" + "x" * 400

    _create_jira(fake_jira.config(), title=title)

    summary = fake_jira.created_issues[0]["fields"]["summary"]
    assert summary.startswith("Line one line two xxx")
    assert len(summary) == 255
    assert "\n" not in summary and "\r" not in summary
    assert jira_summary("  spaced \t out  ") == "spaced out"


def test_jira_issue_type_from_config(fake_jira: FakeJira) -> None:
    _create_jira(fake_jira.config(issue_type="Bug"))

    assert fake_jira.created_issues[0]["fields"]["issuetype"] == {"name": "Bug"}


@pytest.mark.parametrize(
    ("description", "expected_paragraphs"),
    [
        ("", [[f"Reported by: {CREATOR}"]]),
        ("   \n\n  ", [[f"Reported by: {CREATOR}"]]),
        ("One\r\n\r\nTwo\r\n", [["One"], ["Two"], [f"Reported by: {CREATOR}"]]),
        ("A\n\n\n\nB", [["A"], ["B"], [f"Reported by: {CREATOR}"]]),
        ("A\n  \nB", [["A"], ["B"], [f"Reported by: {CREATOR}"]]),
    ],
)
def test_jira_description_adf_paragraphs(description: str, expected_paragraphs: list[list[str]]) -> None:
    document = jira_description_adf(description, creator_email=CREATOR)

    assert is_valid_adf(document)
    assert document["type"] == "doc" and document["version"] == 1
    texts = [[node["text"] for node in block["content"] if node["type"] == "text"] for block in document["content"]]
    assert texts == expected_paragraphs


def test_fake_jira_rejects_invalid_adf() -> None:
    assert not is_valid_adf("plain text")
    assert not is_valid_adf({"type": "doc", "version": 2, "content": []})
    assert not is_valid_adf(
        {
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": ""}]}],
        }
    )
    assert not is_valid_adf({"type": "doc", "version": 1, "content": [{"type": "text", "text": "x"}]})


# ================================================================================================
# Jira: failures in plain words
# ================================================================================================


def test_jira_wrong_token_is_permanent_and_says_credentials(
    fake_jira: FakeJira,
) -> None:
    config = fake_jira.config(api_token="ATATT-wrong-token-000000000000")

    with pytest.raises(PermanentExternalError) as caught:
        jira_test_connection(config)

    assert caught.value.message.startswith("Jira: the site refused the email manager@example.com")
    assert "ATATT-wrong-token" not in str(caught.value)


def test_jira_wrong_token_message_in_polish(fake_jira: FakeJira) -> None:
    config = fake_jira.config(api_token="ATATT-wrong-token-000000000000")

    with translation.override("pl"), pytest.raises(PermanentExternalError) as caught:
        jira_test_connection(config)

    assert caught.value.message == (
        "Jira: witryna odrzuciła adres e-mail manager@example.com z tym tokenem API; sprawdź oba "
        "i upewnij się, że token nie wygasł ani nie został unieważniony."
    )
    assert "ATATT-wrong-token" not in str(caught.value)


def test_jira_unknown_project(fake_jira: FakeJira) -> None:
    with pytest.raises(PermanentExternalError) as caught:
        jira_test_connection(fake_jira.config(project_key="XYZ"))

    assert str(caught.value) == "Jira: project XYZ not found or not visible to this account."


def test_jira_test_connection_checks_issue_type(fake_jira: FakeJira) -> None:
    with pytest.raises(PermanentExternalError) as caught:
        jira_test_connection(fake_jira.config(issue_type="Epic"))

    assert str(caught.value) == ('Jira: project ABC has no issue type "Epic"; available: Task, Bug.')


def test_jira_field_errors_are_spelled_out(fake_jira: FakeJira) -> None:
    with pytest.raises(PermanentExternalError) as caught:
        _create_jira(fake_jira.config(issue_type="Epic"), title="   ")

    message = str(caught.value)
    assert message.startswith("Jira refused the issue: ")
    assert "summary: You must specify a summary of the issue." in message
    assert "issuetype: Specify a valid issue type" in message
    assert fake_jira.created_issues == []


def test_jira_unknown_project_on_create_is_a_field_error(fake_jira: FakeJira) -> None:
    with pytest.raises(PermanentExternalError, match="project: Specify a valid project ID or key"):
        _create_jira(fake_jira.config(project_key="NOPE"))


def test_jira_invalid_site_url_is_permanent() -> None:
    config = JiraConfig(
        site_url="not a url",
        email="a@example.com",
        api_token="t0ken-abcdef",
        project_key="ABC",
    )

    with pytest.raises(PermanentExternalError, match="not a valid web address"):
        jira_test_connection(config)


def test_jira_unreachable_site_is_transient() -> None:
    config = JiraConfig(
        site_url=f"http://127.0.0.1:{_free_port()}",
        email="a@example.com",
        api_token="t0ken-abcdef",
        project_key="ABC",
    )

    with pytest.raises(TransientExternalError) as caught:
        _create_jira(config)

    assert caught.value.message == (
        "Jira could not be reached (network problem or wrong address); it will be tried again later."
    )
    assert caught.value.retry_after is None


# ================================================================================================
# Trello: success paths
# ================================================================================================


def test_trello_base_url_defaults_to_public_api() -> None:
    config = TrelloConfig(api_key="k" * 32, token="t" * 64, board_id="b" * 24)

    assert config.base_url == TRELLO_API_URL == "https://api.trello.com"


def test_trello_test_connection_names_member_board_and_list(
    fake_trello: FakeTrello,
) -> None:
    sentence = trello_test_connection(fake_trello.config())

    assert sentence == 'Connected to Trello as Dana Manager; board "Support", list "Inbox" is reachable.'
    paths = [r.path for r in fake_trello.requests]
    assert paths[:2] == ["/1/members/me", "/1/boards/5f0000000000000000000001"]


def test_trello_test_connection_without_list(fake_trello: FakeTrello) -> None:
    sentence = trello_test_connection(fake_trello.config(list_id=""))

    assert sentence == 'Connected to Trello as Dana Manager; board "Support" is reachable.'


def test_trello_board_lists_returns_open_lists_in_order(
    fake_trello: FakeTrello,
) -> None:
    lists = trello_board_lists(fake_trello.config())

    assert lists == [
        ("5f00000000000000000000a1", "Inbox"),
        ("5f00000000000000000000a2", "Doing"),
    ]


def test_trello_create_card_appends_creator_and_returns_short_url(
    fake_trello: FakeTrello,
) -> None:
    issue = _create_trello(fake_trello.config(), title="Printer\non fire", description="It smokes.\r\n")

    card = fake_trello.created_cards[0]
    assert issue == ExternalIssue(external_id=card["id"], url=card["shortUrl"])
    assert card["idList"] == "5f00000000000000000000a1"
    assert card["name"] == "Printer on fire"
    assert card["desc"] == f"It smokes.\n\nReported by: {CREATOR}"


def test_trello_sends_key_and_token_in_authorization_header_only(
    fake_trello: FakeTrello,
) -> None:
    config = fake_trello.config()
    trello_test_connection(config)
    _create_trello(config)

    expected = f'OAuth oauth_consumer_key="{fake_trello.api_key}", oauth_token="{fake_trello.token}"'
    for request in fake_trello.requests:
        assert request.headers["authorization"] == expected
        assert "token" not in request.query and "key" not in request.query
        assert fake_trello.token not in request.path


def test_trello_card_url_falls_back_to_url_without_short_url() -> None:
    class NoShortUrl(FakeTrello):
        def _create_card(self, request: Any) -> Reply:
            reply = super()._create_card(request)
            card = json.loads(reply.body)
            del card["shortUrl"]
            return Reply.json(reply.status, card)

    with NoShortUrl() as fake:
        issue = _create_trello(fake.config())

    assert issue.url == fake.created_cards[0]["url"]


def test_trello_description_keeps_reporter_line_when_truncated() -> None:
    desc = trello_card_description("y" * 20000, creator_email=CREATOR)

    assert len(desc) <= 16384
    assert desc.endswith(f"…\n\nReported by: {CREATOR}")
    assert trello_card_description("", creator_email=CREATOR) == f"Reported by: {CREATOR}"


def test_trello_long_description_accepted_by_fake(fake_trello: FakeTrello) -> None:
    _create_trello(fake_trello.config(), description="z" * 20000)

    assert fake_trello.created_cards[0]["desc"].endswith(f"Reported by: {CREATOR}")


# ================================================================================================
# Trello: failures in plain words
# ================================================================================================


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"token": "ATTA-wrong-token-1111111111"},
            "Trello refused the API key and token",
        ),
        ({"api_key": "f" * 32}, "Trello refused the API key and token"),
    ],
)
def test_trello_wrong_credentials(fake_trello: FakeTrello, overrides: dict[str, str], expected: str) -> None:
    with pytest.raises(PermanentExternalError) as caught:
        trello_test_connection(fake_trello.config(**overrides))

    assert caught.value.message.startswith(expected)
    assert "ATTA-wrong-token" not in str(caught.value)


@pytest.mark.parametrize("board_id", ["5f00000000000000000000ff", "not-an-id"])
def test_trello_unknown_board(fake_trello: FakeTrello, board_id: str) -> None:
    with pytest.raises(PermanentExternalError) as caught:
        trello_test_connection(fake_trello.config(board_id=board_id))

    assert str(caught.value) == (f"Trello: board {board_id} not found or not visible to this account.")


def test_trello_test_connection_rejects_list_of_another_board(
    fake_trello: FakeTrello,
) -> None:
    with pytest.raises(PermanentExternalError, match="chosen list is not an open list"):
        trello_test_connection(fake_trello.config(list_id="5f00000000000000000000a3"))


def test_trello_create_card_on_vanished_list(fake_trello: FakeTrello) -> None:
    with pytest.raises(PermanentExternalError) as caught:
        _create_trello(fake_trello.config(list_id="5f00000000000000000000ee"))

    assert str(caught.value) == ("Trello: the chosen list does not exist any more; choose the list again.")


def test_trello_create_card_without_list_makes_no_request(
    fake_trello: FakeTrello,
) -> None:
    with pytest.raises(PermanentExternalError, match="no list is chosen"):
        _create_trello(fake_trello.config(list_id=""))

    assert fake_trello.requests == []


def test_trello_empty_title_is_refused_in_words(fake_trello: FakeTrello) -> None:
    with pytest.raises(PermanentExternalError) as caught:
        _create_trello(fake_trello.config(), title=" \n ")

    assert str(caught.value) == "Trello refused the request: invalid value for name."


# ================================================================================================
# Both platforms: scripted failures map to the right exception class
# ================================================================================================

Scenario = Callable[[Any], object]

PLATFORMS: dict[str, tuple[type, Scenario]] = {
    "jira-test": (FakeJira, lambda fake: jira_test_connection(fake.config())),
    "jira-create": (FakeJira, lambda fake: _create_jira(fake.config())),
    "trello-test": (FakeTrello, lambda fake: trello_test_connection(fake.config())),
    "trello-lists": (FakeTrello, lambda fake: trello_board_lists(fake.config())),
    "trello-create": (FakeTrello, lambda fake: _create_trello(fake.config())),
}


@pytest.fixture(params=sorted(PLATFORMS))
def platform_call(request: pytest.FixtureRequest) -> Any:
    fake_class, call = PLATFORMS[request.param]
    with fake_class() as fake:
        yield fake, call


@pytest.mark.parametrize(
    ("status", "retry_after", "exc_class", "expected_retry_after", "words"),
    [
        (429, 7, TransientExternalError, 7.0, "limiting the number of requests"),
        (429, None, TransientExternalError, None, "limiting the number of requests"),
        (500, None, TransientExternalError, None, "temporary problem (HTTP 500)"),
        (503, "2.5", TransientExternalError, 2.5, "temporary problem (HTTP 503)"),
        (401, None, PermanentExternalError, None, "refused"),
        (403, None, PermanentExternalError, None, "not allowed"),
        # The first call of a connection test goes to /myself or /members/me, where a 404 means
        # the address is not the platform's API at all.
        (
            404,
            None,
            PermanentExternalError,
            None,
            "not found|not like the|not look like",
        ),
        (302, None, PermanentExternalError, None, "redirects elsewhere"),
        (409, None, PermanentExternalError, None, "refused the request (HTTP 409)"),
    ],
)
def test_scripted_status_maps_to_exception(
    platform_call: Any,
    status: int,
    retry_after: Any,
    exc_class: type[ExternalError],
    expected_retry_after: float | None,
    words: str,
) -> None:
    fake, call = platform_call
    fake.fail_next(status, retry_after=retry_after)

    with pytest.raises(exc_class) as caught:
        call(fake)

    error = caught.value
    assert any(fragment in error.message for fragment in words.split("|"))
    assert error.message.startswith(("Jira", "Trello"))
    if isinstance(error, TransientExternalError):
        assert error.retry_after == expected_retry_after
        assert "tried again later" in error.message


def test_404_on_the_card_list_and_the_project_are_named(fake_jira: FakeJira, fake_trello: FakeTrello) -> None:
    fake_jira.fail_next(404)
    fake_trello.fail_next(404)

    with pytest.raises(PermanentExternalError) as jira_error:
        _create_jira(fake_jira.config())
    with pytest.raises(PermanentExternalError) as trello_error:
        _create_trello(fake_trello.config())

    assert str(jira_error.value) == "Jira: project ABC not found or not visible to this account."
    assert "the chosen list was not found" in str(trello_error.value)


def test_retry_after_http_date_is_honoured(fake_jira: FakeJira) -> None:
    fake_jira.fail_next(429, retry_after=email.utils.formatdate(time.time() + 30, usegmt=True))

    with pytest.raises(TransientExternalError) as caught:
        _create_jira(fake_jira.config())

    assert caught.value.retry_after is not None
    assert 25 <= caught.value.retry_after <= 31


def test_the_call_after_a_scripted_failure_succeeds(fake_trello: FakeTrello) -> None:
    fake_trello.fail_next(429, times=2, retry_after=1)
    config = fake_trello.config()

    for _ in range(2):
        with pytest.raises(TransientExternalError):
            _create_trello(config)
    issue = _create_trello(config)

    assert issue.url == fake_trello.created_cards[0]["shortUrl"]


@pytest.mark.parametrize("platform", ["jira", "trello"])
def test_hang_longer_than_timeout_is_transient(platform: str, fake_jira: FakeJira, fake_trello: FakeTrello) -> None:
    fake = fake_jira if platform == "jira" else fake_trello
    fake.hang_next(seconds=1.5)
    started = time.monotonic()

    with pytest.raises(TransientExternalError) as caught:
        if platform == "jira":
            jira_create_issue(
                fake_jira.config(),
                title="t",
                description="d",
                creator_email=CREATOR,
                timeout=0.2,
            )
        else:
            trello_create_card(
                fake_trello.config(),
                title="t",
                description="d",
                creator_email=CREATOR,
                timeout=0.2,
            )

    assert time.monotonic() - started < 1.0
    name = "Jira" if platform == "jira" else "Trello"
    assert caught.value.message == (f"{name} did not answer within 0.2 seconds; it will be tried again later.")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("120", 120.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: retry now
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date_in_future() -> None:
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 90, usegmt=True)

    assert parse_retry_after(header, now=now) == 90.0


def test_transient_error_survives_pickling() -> None:
    error = TransientExternalError("Jira had a temporary problem", retry_after=4.0)

    copy = pickle.loads(pickle.dumps(error))

    assert (copy.message, copy.retry_after, str(copy)) == (
        "Jira had a temporary problem",
        4.0,
        "Jira had a temporary problem",
    )


# ================================================================================================
# Secrets never leak into exceptions or logs
# ================================================================================================


def _exception_texts(error: BaseException) -> str:
    return "\n".join(
        [
            str(error),
            repr(error),
            repr(error.args),
            "".join(traceback.format_exception(error)),  # includes the chained requests error
        ]
    )


def _secret_forms(email_address: str, token: str) -> list[str]:
    basic = base64.b64encode(f"{email_address}:{token}".encode()).decode()
    return [token, basic]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500, None])
def test_jira_token_never_in_exceptions_or_logs(
    fake_jira: FakeJira, caplog: pytest.LogCaptureFixture, status: int | None
) -> None:
    caplog.set_level(logging.DEBUG)  # includes urllib3's request lines
    config = fake_jira.config()
    if status is None:
        fake_jira.hang_next(seconds=1)
    else:
        fake_jira.fail_next(status, retry_after=3)

    with pytest.raises(ExternalError) as caught:
        if status is None:
            jira_create_issue(config, title="t", description="d", creator_email=CREATOR, timeout=0.2)
        else:
            _create_jira(config)

    jira_create_issue(config, title="ok", description="", creator_email=CREATOR)  # success logs too
    texts = _exception_texts(caught.value) + caplog.text + repr(config)
    for secret in _secret_forms(config.email, config.api_token):
        assert secret not in texts
    # The capture must include urllib3's request lines, where a query-string token would show.
    assert any(record.name.startswith("urllib3") for record in caplog.records)
    assert any(record.name.startswith("boards.external") for record in caplog.records)


def test_jira_token_echoed_by_server_is_hidden(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class EchoingJira(FakeJira):
        def route(self, request: Any) -> Reply:
            return Reply.json(400, {"errorMessages": [f"bad token {self.api_token}"], "errors": {}})

    caplog.set_level(logging.DEBUG)
    with EchoingJira() as fake, pytest.raises(PermanentExternalError) as caught:
        _create_jira(fake.config())

    assert fake.api_token not in _exception_texts(caught.value) + caplog.text
    assert "bad token [hidden]" in str(caught.value)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500, None])
def test_trello_token_never_in_exceptions_or_logs(
    fake_trello: FakeTrello, caplog: pytest.LogCaptureFixture, status: int | None
) -> None:
    caplog.set_level(logging.DEBUG)
    config = fake_trello.config()
    if status is None:
        fake_trello.hang_next(seconds=1)
    else:
        fake_trello.fail_next(status, retry_after=3)

    with pytest.raises(ExternalError) as caught:
        if status is None:
            trello_create_card(config, title="t", description="d", creator_email=CREATOR, timeout=0.2)
        else:
            _create_trello(config)

    trello_test_connection(config)
    trello_board_lists(config)
    _create_trello(config)
    texts = _exception_texts(caught.value) + caplog.text + repr(config)
    assert config.token not in texts
    # The capture must include urllib3's request lines, where a query-string token would show.
    assert any(record.name.startswith("urllib3") for record in caplog.records)
    assert any(record.name.startswith("boards.external") for record in caplog.records)


def test_unreachable_trello_does_not_leak_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    config = TrelloConfig(
        api_key="0123456789abcdef0123456789abcdef",
        token="ATTA-unreachable-secret-42424242",
        board_id="5f0000000000000000000001",
        list_id="5f00000000000000000000a1",
        base_url=f"http://127.0.0.1:{_free_port()}",
    )

    with pytest.raises(TransientExternalError) as caught:
        _create_trello(config)

    assert config.token not in _exception_texts(caught.value) + caplog.text
