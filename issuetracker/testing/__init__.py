"""Helpers for tests: real servers started on free local ports."""

from __future__ import annotations

import pytest

# Its fixtures are loaded as a pytest plugin, possibly after a test module imported it; asking
# for rewriting here (before the first import) keeps its asserts informative and pytest quiet.
pytest.register_assert_rewrite("issuetracker.testing.mailservers")
