"""The S3 backend as production runs it (ATT-4): the settings read S3_* from the environment,
and a virtualenv holding requirements.txt alone (as the image does) stores, streams and removes
files in the bucket of the local S3 server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from testsupport.image import REPO_ROOT, requirements_venv
from testsupport.s3server import ACCESS_KEY, REGION, SECRET_KEY, S3Bucket

pytestmark = pytest.mark.production

# Run by the requirements-only interpreter against the real settings; prints what it saw.
SCRIPT = """
import json
from datetime import timedelta

from django.core.files.storage import default_storage
from django.utils import timezone

from attachments.services import stored_file_put, stored_files_remove_orphans

stored = stored_file_put(content=[b"first chunk, ", b"second chunk"])
with default_storage.open(stored.storage_name, "rb") as opened:
    read = b"".join(opened.chunks(4))
seen = {"backend": type(default_storage._wrapped).__name__, "read": read.decode()}
seen["keys"] = [item.key for item in default_storage.bucket.objects.all()]
seen["name"] = stored.storage_name
seen["removed"] = stored_files_remove_orphans(now=timezone.now() + timedelta(hours=2))
seen["exists_after"] = default_storage.exists(stored.storage_name)
print(json.dumps(seen))
"""


def test_requirements_txt_alone_stores_files_in_the_bucket(s3_storage: S3Bucket, tmp_path: Path) -> None:
    python = requirements_venv() / "bin" / "python"
    env = {
        "PATH": f"{python.parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DEBUG": "true",  # development secrets, SQLite under VAR_DIR: only the storage matters
        "VAR_DIR": str(tmp_path / "var"),
        "S3_BUCKET": s3_storage.name,
        "S3_ENDPOINT_URL": s3_storage.server.endpoint_url,
        "S3_REGION": REGION,
        "S3_ACCESS_KEY_ID": ACCESS_KEY,
        "S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "S3_ADDRESSING_STYLE": "path",
        "S3_PREFIX": "tracker/",
    }

    def manage(*args: str) -> str:
        result = subprocess.run(
            [str(python), "manage.py", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    manage("migrate", "--noinput")
    seen = json.loads(manage("shell", "-c", SCRIPT).strip().splitlines()[-1])
    assert seen["backend"] == "PrivateS3Storage"
    assert seen["read"] == "first chunk, second chunk"
    assert seen["keys"] == [f"tracker/{seen['name']}"]
    assert seen["removed"] == 1 and seen["exists_after"] is False
    assert s3_storage.keys() == []
