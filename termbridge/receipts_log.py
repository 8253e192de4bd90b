"""The receipts log: `submitted`, `received` and `answered` appended, fsync'd, to a session's `receipts.log`.

Written below the outbox (a commit records `submitted`) and by the session's own evidence
(`received`, see receipts.py); read above it by receipts.py, which adds what the outbox
itself says (`queued`, `expired`, `dead`). One JSON object a line:
`{"id", "state", "t", "via"[, "queued_at"]}`; an `answered` entry also has `"answer"` (answers.py).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable

from termbridge import paths
from termbridge.session_files import SessionFiles

TYPE_CHECKING = False  # no `typing` (nor pathlib) at run time on send's hot path (kinds.py)
if TYPE_CHECKING:
    from typing import Literal

    from termbridge.paths import StrPath

    ReceiptState = Literal["queued", "submitted", "received", "answered", "expired", "dead"]
STATES: tuple[ReceiptState, ...] = ("queued", "submitted", "received", "answered", "expired", "dead")
_MAX_LINES = 20000  # receipts.log is cut to the newest half past this


def log_path(home: StrPath, name: str) -> str:
    return SessionFiles.of(home, name).receipts


def record(home: StrPath, name: str, records: Iterable[dict | str], state: ReceiptState, via: str) -> None:
    """Append STATE for RECORDS (dicts with `id` and `created_at`, or bare ids), fsync'd."""
    if state not in STATES:
        raise ValueError(f"unknown receipt state {state!r}")
    now = round(time.time(), 6)
    lines = []
    for r in records:
        rid, queued = (r, None) if isinstance(r, str) else (r["id"], r.get("created_at"))
        entry = {"id": rid, "state": state, "t": now, "via": via}
        if isinstance(queued, (int, float)):
            entry["queued_at"] = queued
        lines.append(json.dumps(entry, separators=(",", ":")) + "\n")
    if not lines:
        return
    path = log_path(home, name)
    paths.ensure_dir(os.path.dirname(path))
    paths.append_durable(path, "".join(lines).encode())
    _trim(path)


def record_answer(home: StrPath, name: str, msg_id: str, answer: str, via: str) -> None:
    """Append `answered` for MSG_ID with its ANSWER text, fsync'd (answers.answer calls it once)."""
    entry = {"id": msg_id, "state": "answered", "t": round(time.time(), 6), "via": via, "answer": answer}
    path = log_path(home, name)
    paths.ensure_dir(os.path.dirname(path))
    paths.append_durable(path, (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode())
    _trim(path)


def _trim(path: str) -> None:
    # Every entry is over 64 bytes (a 26-character id alone takes 36 of them), so a file smaller
    # than that many entries cannot be over the line limit: no need to read it on every commit.
    try:
        if os.stat(path).st_size <= _MAX_LINES * 64:
            return
    except FileNotFoundError:
        return
    data = paths.read_bytes(path) or b""
    if data.count(b"\n") > _MAX_LINES:
        keep = data.split(b"\n")[-(_MAX_LINES // 2) - 1 :]
        paths.atomic_write(path, b"\n".join(keep))


def parse_entry(line: bytes) -> dict | None:
    """One receipts.log line as its entry, or None for a torn or garbage line."""
    try:
        e = json.loads(line)
    except ValueError:
        return None
    if not (
        isinstance(e, dict)
        and isinstance(e.get("id"), str)
        and e.get("state") in STATES
        and _finite(e.get("t"))
        and isinstance(e.get("via"), str)
    ):
        return None
    if "queued_at" in e and not _finite(e["queued_at"]):
        del e["queued_at"]
    if e["state"] == "answered" and not isinstance(e.get("answer"), str):
        return None
    return e


def entries(home: StrPath, name: str) -> list[dict]:
    """The valid receipt entries of NAME (a torn or garbage line is skipped)."""
    lines = (paths.read_bytes(log_path(home, name)) or b"").split(b"\n")
    return [e for e in map(parse_entry, lines) if e is not None]


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
