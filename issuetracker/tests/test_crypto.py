"""Secrets at rest: AES-256-GCM with key rotation (INB-2)."""

from __future__ import annotations

import base64
import os

import pytest
from django.core.exceptions import ImproperlyConfigured

from issuetracker import crypto


def _new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def keys(settings):  # type: ignore[no-untyped-def]
    settings.ENCRYPTION_KEY = _new_key()
    settings.ENCRYPTION_KEY_PREVIOUS = ""
    return settings


@pytest.mark.parametrize("plaintext", ["hunter2", "", "zażółć gęślą jaźń 🔑", "x" * 10_000])
def test_roundtrip(keys, plaintext):
    token = crypto.encrypt(plaintext)
    assert token.startswith("v1:")
    assert crypto.decrypt(token) == plaintext
    if plaintext:
        assert plaintext not in token


def test_same_plaintext_encrypts_differently_each_time(keys):
    assert crypto.encrypt("same") != crypto.encrypt("same")


def test_tampered_ciphertext_is_refused(keys):
    token = crypto.encrypt("mailbox-password")
    blob = bytearray(base64.b64decode(token[3:]))
    blob[-1] ^= 0x01
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt("v1:" + base64.b64encode(bytes(blob)).decode())


@pytest.mark.parametrize(
    "token", ["plain-text", "v2:AAAA", "v1:not base64!", "v1:" + base64.b64encode(b"short").decode()]
)
def test_malformed_tokens_are_refused(keys, token):
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)


def test_a_different_key_cannot_decrypt(keys):
    token = crypto.encrypt("secret")
    keys.ENCRYPTION_KEY = _new_key()
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)


def test_rotation_decrypts_with_the_previous_key(keys):
    old_key = keys.ENCRYPTION_KEY
    token = crypto.encrypt("api-token")
    assert not crypto.needs_reencryption(token)

    keys.ENCRYPTION_KEY = _new_key()
    keys.ENCRYPTION_KEY_PREVIOUS = old_key
    assert crypto.decrypt(token) == "api-token"
    assert crypto.needs_reencryption(token)

    fresh = crypto.encrypt("api-token")
    assert not crypto.needs_reencryption(fresh)
    # Once rotation is over, the old key goes and only new tokens remain readable.
    keys.ENCRYPTION_KEY_PREVIOUS = ""
    assert crypto.decrypt(fresh) == "api-token"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)


def test_empty_token_means_no_secret(keys):
    assert crypto.decrypt("") == ""
    assert crypto.needs_reencryption("") is False


@pytest.mark.parametrize(
    "bad_key",
    ["", "not base64!", base64.b64encode(b"16-byte-key-only").decode(), base64.b64encode(os.urandom(33)).decode()],
    ids=["empty", "not-base64", "too-short", "too-long"],
)
def test_bad_key_configuration_is_improperly_configured(settings, bad_key):
    settings.ENCRYPTION_KEY = bad_key
    with pytest.raises(ImproperlyConfigured):
        crypto.encrypt("x")


def test_bad_previous_key_is_improperly_configured(keys):
    token = crypto.encrypt("x")
    keys.ENCRYPTION_KEY_PREVIOUS = "garbage"
    with pytest.raises(ImproperlyConfigured):
        crypto.decrypt(token)
