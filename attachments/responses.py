"""The one way a stored file leaves the site over HTTP (ATT-5). The views that decide who may
have which file live with the pages they belong to (tickets.views, tickets.public_views)."""

from __future__ import annotations

from django.http import FileResponse

from .files import content_disposition, served_type, shown_inline
from .models import Attachment
from .selectors import attachment_open

# Each read of the stored file asks for this much (Django's default is 4 KiB): from a bucket,
# every read is a read on an open HTTP response.
BLOCK_SIZE = 64 * 1024


def attachment_response(attachment: Attachment) -> FileResponse:
    """Streamed from storage; labelled only with an allow-listed type, shown inline only when the
    bytes are a plain image, and sandboxed so that even a mislabelled file runs no script.

    ``attachment`` comes with its stored_file (the selectors select it).
    """
    stored = attachment.stored_file
    response = FileResponse(
        attachment_open(attachment),
        content_type=served_type(sniffed=stored.content_type, declared=attachment.content_type, name=attachment.name),
    )
    response.block_size = BLOCK_SIZE
    # A stream from a bucket has no length of its own to tell; the row knows it.
    if "Content-Length" not in response:
        response["Content-Length"] = str(stored.size)
    response["Content-Disposition"] = content_disposition(
        name=attachment.name, inline=shown_inline(sniffed=stored.content_type)
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Set here, the CSP middleware leaves it alone: the file runs in a unique origin, no script.
    response["Content-Security-Policy"] = "sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
