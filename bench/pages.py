"""The measured pages: what each one is, its target share of the ceiling, and its URL for wrk."""

from __future__ import annotations

from dataclasses import dataclass

from . import load

MANAGER_PAGE_TARGET = 0.10
PUBLIC_GET_TARGET = 0.25


@dataclass(frozen=True)
class PageSpec:
    key: str
    label: str
    manager_page: bool
    target: float | None


PAGES = [
    PageSpec("dashboard", "dashboard `/`", True, MANAGER_PAGE_TARGET),
    PageSpec("board_list", "board list `/boards/`", True, MANAGER_PAGE_TARGET),
    PageSpec("kanban", "kanban `/boards/<id>/`", True, MANAGER_PAGE_TARGET),
    PageSpec("ticket_list", "ticket list, 2 states, by title, page 3", True, MANAGER_PAGE_TARGET),
    PageSpec("ticket_detail", "ticket detail", True, MANAGER_PAGE_TARGET),
    PageSpec("ticket_thread", "ticket page, 200-entry thread", True, MANAGER_PAGE_TARGET),
    PageSpec("form_get", "public form GET `/board/<name>`", False, PUBLIC_GET_TARGET),
    PageSpec("form_post", "public form POST (report filed, 302)", False, None),
]

# bench/urls.py of every commit serves the ceiling here; not imported from there, because that
# module needs Django's settings.
CEILING_PATH = "/bench/ceiling"


def ceiling_target() -> load.Target:
    return load.Target(key="ceiling", label="ceiling (minimal view)", path=CEILING_PATH, marker="ok")


def page_targets(
    base_url: str,
    *,
    board_id: int,
    detail_id: int,
    thread_id: int,
    cookies: tuple[str, ...],
    measured_board: str,
    web_form_board: str,
) -> dict[str, load.Target]:
    """The URL of each page in ``PAGES`` on the seeded data; the POST gets a fresh CSRF pair."""
    post_cookie, post_body = load.public_form_post(base_url, web_form_board)
    return {
        "dashboard": load.Target("dashboard", "dashboard", "/", cookies=cookies, marker="Customer portal"),
        "board_list": load.Target("board_list", "board list", "/boards/", cookies=cookies, marker="Customer portal"),
        "kanban": load.Target("kanban", "kanban", f"/boards/{board_id}/", cookies=cookies, marker="Customer portal"),
        "ticket_list": load.Target(
            "ticket_list",
            "ticket list (filtered, sorted, p. 3)",
            f"/boards/{board_id}/tickets/?state=new&state=in_progress&sort=title&direction=asc&page=3",
            cookies=cookies,
            marker="Customer portal",
        ),
        "ticket_detail": load.Target(
            "ticket_detail",
            "ticket detail",
            f"/boards/{board_id}/tickets/{detail_id}/",
            cookies=cookies,
            marker="Closed",
        ),
        "ticket_thread": load.Target(
            "ticket_thread",
            "ticket page, 200-entry thread",
            f"/boards/{board_id}/tickets/{thread_id}/",
            cookies=cookies,
            # On both a thread page and, for an older commit, the detail page standing in for it.
            marker="In progress",
        ),
        "form_get": load.Target(
            "form_get", "public form GET", f"/board/{measured_board}", marker="csrfmiddlewaretoken"
        ),
        "form_post": load.Target(
            "form_post",
            "public form POST",
            f"/board/{web_form_board}",
            method="POST",
            body=post_body,
            cookies=(post_cookie,),
            expect_status=302,
        ),
    }
