"""Test support, never part of the product or its image: real servers started on free local
ports (Dovecot, SMTP, S3, fake Jira and Trello), headless Chromium, and the production-shape runner.

The root ``conftest.py`` loads the fixture modules as pytest plugins.
"""

from __future__ import annotations

import pytest

# Its fixtures are loaded as a pytest plugin, possibly after a test module imported it; asking
# for rewriting here (before the first import) keeps its asserts informative and pytest quiet.
pytest.register_assert_rewrite("testsupport.mailservers")
