"""ATT-5 in headless Chromium: an uploaded HTML file is a download, never a page that runs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from boards.tests.factories import BoardFactory
from tickets.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Were it rendered, it would rename the tab, set a global and navigate away.
HOSTILE_HTML = (
    b"<!doctype html><title>pwned</title><script>window.attachmentRan = true;"
    b"document.title = 'pwned'; top.location = 'about:blank#pwned';</script><p>hostile</p>"
)


def test_an_uploaded_html_file_downloads_and_runs_no_script(live_server, browser_page, manager, tmp_path):
    board = BoardFactory(manager=manager, name="Web Help", unique_name="web-help")
    page = browser_page
    page.goto(f"{live_server.url}/board/{board.unique_name}")
    page.get_by_label("Your email address").fill("reporter@example.org")
    page.get_by_label("Title").fill("The page looks wrong")
    page.get_by_label("Description").fill("Saved page attached.")
    page.locator("input[name=files]").set_input_files(
        files=[{"name": "saved-page.html", "mimeType": "text/html", "buffer": HOSTILE_HTML}]
    )
    page.get_by_role("button", name="Send report").click()
    page.wait_for_url(f"**/board/{board.unique_name}/submitted")
    ticket = Ticket.objects.get()
    page.goto(f"{live_server.url}/ticket/{ticket.uuid}")  # the mailed link names SITE_URL
    title = page.title()

    link = page.get_by_role("link", name="saved-page.html")
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    saved = Path(tmp_path / "saved-page.html")
    download.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == hashlib.sha256(HOSTILE_HTML).hexdigest()
    assert download.suggested_filename == "saved-page.html"

    # Still the secret page, untouched: the file was saved, not rendered.
    assert page.url.endswith(f"/ticket/{ticket.uuid}")
    assert page.title() == title != "pwned"
    assert page.evaluate("window.attachmentRan") is None

    # Opened directly in a tab of its own, it is a download too, never a document.
    direct = page.context.new_page()
    with direct.expect_download() as direct_download:
        try:
            direct.goto(f"{live_server.url}{link.get_attribute('href')}")
        except Exception as exc:  # Chromium aborts a navigation that turns into a download
            assert "Download is starting" in str(exc) or "ERR_ABORTED" in str(exc), exc
    assert direct_download.value.suggested_filename == "saved-page.html"
    assert direct.evaluate("window.attachmentRan") is None and direct.title() != "pwned"
