"""Pure helpers about files (ATT-4, ATT-5): what a file's bytes say it is, what we dare serve it
as, and file names safe to show and to put in a header. No database, no storage."""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from urllib.parse import quote

# Shown in the browser: images only, and only when their bytes say so (never SVG: it is a
# document that runs script).
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

# What a download may be labelled as; anything else is application/octet-stream. No HTML, no
# SVG, no XML, no JavaScript: with any of those a file could run script on our origin.
SERVED_TYPES = INLINE_TYPES | frozenset(
    {
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/zip",
        "application/gzip",
        "application/json",
        "message/rfc822",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "audio/mpeg",
        "video/mp4",
    }
)
FALLBACK_TYPE = "application/octet-stream"

# Leading bytes of the types we recognise; a file's own claim (its name, the browser's header)
# never makes it inline.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
)
SNIFF_BYTES = 16

MAX_NAME_LENGTH = 255
_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ASCII_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()+-]")


def sniff_content_type(head: bytes) -> str:
    """The type the first bytes prove, or "" when they prove nothing we rely on."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return content_type
    return ""


def normalised_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()[:100]


def served_type(*, sniffed: str, declared: str, name: str) -> str:
    """The Content-Type a download is served with: what the bytes prove, else what the sender
    said or the name suggests, if it is on the allow-list; else octet-stream."""
    for candidate in (sniffed, normalised_type(declared), mimetypes.guess_type(name)[0] or ""):
        if candidate:
            # An image only by its bytes: a "photo.png" holding anything else is just a file.
            trusted = candidate in SERVED_TYPES and (candidate not in INLINE_TYPES or candidate == sniffed)
            return candidate if trusted else FALLBACK_TYPE
    return FALLBACK_TYPE


def shown_inline(*, sniffed: str) -> bool:
    return sniffed in INLINE_TYPES


def display_name(name: str) -> str:
    """A name as given, made safe to show: no directories, no control or direction-changing
    characters (which can disguise "exe.pdf" as "fdp.exe"), never empty."""
    base = re.split(r"[\\/]", name)[-1]
    cleaned = " ".join(_UNSAFE_NAME_CHARS.sub("", base).split()).strip(" .")
    return cleaned[:MAX_NAME_LENGTH] or "file"


def ascii_name(name: str) -> str:
    """An ASCII stand-in for clients that do not read RFC 5987 (accents dropped, the rest "_")."""
    decomposed = unicodedata.normalize("NFKD", display_name(name))
    letters = "".join(char for char in decomposed if not unicodedata.combining(char))
    cleaned = _ASCII_UNSAFE.sub("_", letters).strip(" .")
    return cleaned or "file"


def content_disposition(*, name: str, inline: bool) -> str:
    """`attachment` (or `inline`) with an ASCII fallback name and the real one per RFC 5987."""
    shown = display_name(name)
    return (
        f'{"inline" if inline else "attachment"}; filename="{ascii_name(shown)}"; '
        f"filename*=UTF-8''{quote(shown, safe='')}"
    )
