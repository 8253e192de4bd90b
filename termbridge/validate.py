"""Checks for user-supplied values that end up in state or in framed text."""

from __future__ import annotations

import re

from termbridge.errors import BadInput

_TOKEN = re.compile(r"[A-Za-z0-9._:/@-]{1,128}")


def token(value: str | None, what: str) -> str | None:
    """VALUE if it is a safe one-line token (ids, keys, senders), else BadInput."""
    if value is None:
        return None
    if not _TOKEN.fullmatch(value):
        raise BadInput(f"invalid {what} {value!r}: use 1-128 of A-Z a-z 0-9 . _ : / @ -")
    return value


def body_text(raw: bytes | str, limit: int) -> str:
    """A message body as str: valid UTF-8, non-empty, at most LIMIT bytes."""
    if isinstance(raw, str):
        try:
            data = raw.encode("utf-8")  # argv bytes that were not UTF-8 arrive as lone surrogates
        except UnicodeEncodeError:
            raise BadInput("message is not valid UTF-8") from None
    else:
        data = raw
    if len(data) > limit:
        raise BadInput(f"message body is {len(data)} bytes; the limit is {limit}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput("message is not valid UTF-8") from None
    if not text.strip():
        raise BadInput("message is empty")
    return text
