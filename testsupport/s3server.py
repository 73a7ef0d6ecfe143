"""A local S3-compatible server for integration tests: moto's server, in a thread of the test
process, on a free port of 127.0.0.1, state in memory.

Fixtures: ``s3_server`` (session) and ``s3_storage`` (function: a fresh bucket, and STORAGES'
default pointed at it through our own backend, attachments.storage.PrivateS3Storage).

When the server cannot start, the fixtures fail under ``CI=true`` and skip elsewhere, like the
mail servers (testsupport.mailservers).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from django.conf import settings
from django.test import override_settings

from testsupport.mailservers import LOCALHOST, fail_or_skip

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
REGION = "eu-central-1"


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )


@dataclass(frozen=True)
class S3Bucket:
    server: S3Server
    name: str

    def keys(self) -> list[str]:
        listed = self.server.client().list_objects_v2(Bucket=self.name)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def storage_options(self) -> dict[str, str]:
        """What STORAGES' OPTIONS say for this bucket (issuetracker/settings.py, from S3_*)."""
        return {
            "bucket_name": self.name,
            "endpoint_url": self.server.endpoint_url,
            "region_name": REGION,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "addressing_style": "path",
        }

    def object_url(self, key: str) -> str:
        return f"{self.server.endpoint_url}/{self.name}/{key}"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - requirements-dev.txt pins moto[server]
        fail_or_skip(f"moto[server] is not installed: {exc}")
    # Its request log would fill every failing test's captured output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Port 0: the operating system picks a free port and the server binds it at once.
    server = ThreadedMotoServer(ip_address=LOCALHOST, port=0, verbose=False)
    try:
        server.start()
        host, port = server.get_host_and_port()
        s3 = S3Server(endpoint_url=f"http://{host}:{port}")
        s3.client().list_buckets()
    except Exception as exc:
        fail_or_skip(f"the local S3 server (moto) did not start: {exc!r}")
    try:
        yield s3
    finally:
        server.stop()


@pytest.fixture
def s3_storage(s3_server: S3Server) -> Iterator[S3Bucket]:
    """A fresh bucket per test; default_storage is the S3 backend on it while the test runs."""
    bucket = S3Bucket(server=s3_server, name=f"attachments-{uuid.uuid4().hex[:12]}")
    s3_server.client().create_bucket(Bucket=bucket.name, CreateBucketConfiguration={"LocationConstraint": REGION})
    backend = {"BACKEND": "attachments.storage.PrivateS3Storage", "OPTIONS": bucket.storage_options()}
    # Django's setting_changed handler resets default_storage on the way in and out.
    with override_settings(STORAGES={**settings.STORAGES, "default": backend}):
        yield bucket
