"""The S3-compatible storage of attachments (ATT-4): django-storages' backend, kept private, and
read as a stream.

Settings choose it when S3_BUCKET is set (issuetracker/settings.py); the filesystem stays the
default. What differs from the plain ``storages.backends.s3.S3Storage``:

- Objects are private: no ACL is ever sent (the bucket's own, private by default, applies), and
  ``url()`` refuses, so no object URL, signed or not, ever reaches a browser. Files leave only
  through our views, which check who asks (ATT-5).
- Reading streams the object's body in the sizes the caller asks for. django-storages' own file
  first downloads the whole object into a spooled temporary file, which stays in memory unless
  AWS_S3_MAX_MEMORY_SIZE is set: a 50 MB attachment would be 50 MB of a web worker's memory.
- Names are content-addressed (attachments.services), so the same name always holds the same
  bytes: two uploads racing to store one file may both write it (``file_overwrite``), and
  nobody ever gets a renamed copy.
"""

from __future__ import annotations

import io
from typing import Any

from botocore.exceptions import ClientError
from django.core.files import File
from storages.backends.s3 import S3Storage
from storages.utils import clean_name


class _ObjectBody(io.RawIOBase):
    """An S3 object's body as a read-only, unseekable file: each read asks the open HTTP
    response for at most the bytes requested, nothing is buffered here."""

    def __init__(self, body: Any, size: int) -> None:
        self._body = body
        self.size = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class PrivateS3Storage(S3Storage):
    """django-storages' S3Storage, private and streamed (see the module's docstring)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # Whatever AWS_DEFAULT_ACL or the options say: an object never becomes public-read.
        self.default_acl = None
        self.object_parameters = {key: value for key, value in self.object_parameters.items() if key != "ACL"}
        # A name is its content's hash: writing it again writes the same bytes, never a renamed copy.
        self.file_overwrite = True

    def url(self, name: str | None, parameters: Any = None, expire: Any = None, http_method: Any = None) -> str:
        raise NotImplementedError("Attachments have no URL of their own: they are served by the views (ATT-5).")

    def _open(self, name: str, mode: str = "rb") -> File:
        if mode != "rb":
            return super()._open(name, mode)
        key = self._normalize_name(clean_name(name))
        try:
            response = self.bucket.Object(key).get()
        except ClientError as err:
            if err.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
                raise FileNotFoundError(f"File does not exist: {name}") from err
            raise
        return File(_ObjectBody(response["Body"], int(response["ContentLength"])), name=name)
