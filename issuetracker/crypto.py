"""AES-256-GCM for secrets at rest (INB-2): mailbox passwords and platform API tokens.

A stored value is ``v1:<base64(nonce || ciphertext+tag)>``. Decryption tries ENCRYPTION_KEY,
then ENCRYPTION_KEY_PREVIOUS, so keys can be rotated without a flag day.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_PREFIX = "v1:"
_NONCE_BYTES = 12
_TAG_BYTES = 16


class DecryptionError(Exception):
    """The value was not encrypted under any configured key, or was tampered with."""


def _key_from_setting(value: str) -> bytes:
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured("ENCRYPTION_KEY must be 32 bytes encoded as base64.") from exc
    if len(key) != 32:
        raise ImproperlyConfigured("ENCRYPTION_KEY must be 32 bytes encoded as base64 (AES-256).")
    return key


def _keys() -> list[bytes]:
    keys = [_key_from_setting(settings.ENCRYPTION_KEY)]
    if settings.ENCRYPTION_KEY_PREVIOUS:
        keys.append(_key_from_setting(settings.ENCRYPTION_KEY_PREVIOUS))
    return keys


def encrypt(plaintext: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_keys()[0]).encrypt(nonce, plaintext.encode(), None)
    return _PREFIX + base64.b64encode(nonce + sealed).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    if not token.startswith(_PREFIX):
        raise DecryptionError("Unknown secret format.")
    try:
        blob = base64.b64decode(token[len(_PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("Secret is not valid base64.") from exc
    if len(blob) < _NONCE_BYTES + _TAG_BYTES:
        # AESGCM would raise ValueError on a short nonce: a truncated value is just undecryptable.
        raise DecryptionError("Secret is truncated.")
    nonce, sealed = blob[:_NONCE_BYTES], blob[_NONCE_BYTES:]
    for key in _keys():
        try:
            return AESGCM(key).decrypt(nonce, sealed, None).decode()
        except InvalidTag:
            continue
    raise DecryptionError("Secret cannot be decrypted with the configured keys.")


def needs_reencryption(token: str) -> bool:
    """True when the value decrypts only under the previous key."""
    if not token:
        return False
    nonce_and_sealed = base64.b64decode(token[len(_PREFIX) :])
    try:
        AESGCM(_keys()[0]).decrypt(nonce_and_sealed[:_NONCE_BYTES], nonce_and_sealed[_NONCE_BYTES:], None)
    except InvalidTag:
        return True
    return False
