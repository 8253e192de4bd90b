"""Receipts: what became of a message, `queued -> submitted -> received -> answered` (or `expired`/`dead`).

`queued` is read from the outbox itself (the record's `created_at`); the later states
are appended, fsync'd, to the session's `receipts.log` by whoever proved them:

  submitted  a delivery whose submission was confirmed (screen or hook), or a
             hand-over to a reader (`drain --print`, a Stop hook's block, MCP `inbox`)
  received   only from the session's own evidence (record.py): its own prompt hook (the
             hook's agent process is the session's PID) saw the framed message, its own
             bound record (transcript / rollout / chat log) shows it, or its own MCP
             `inbox` handed it over -- and only for a message termbridge submitted or
             handed over to that session. An id seen anywhere else changes nothing.
  answered   a question's answer (answers.py): the final message of the turn that received
             it, from the session's own turn-end hook; the entry carries the `answer` text.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable
from pathlib import Path

from termbridge import paths
from termbridge.errors import UnknownSession

STATES = ("queued", "submitted", "received", "answered", "expired", "dead")
_RANK = {"queued": 0, "submitted": 1, "received": 2, "answered": 3}
_MAX_LINES = 20000  # receipts.log is cut to the newest half past this


class UnknownMessage(UnknownSession):
    """No message with that id is known (exit 3)."""


def log_path(home: Path, name: str) -> Path:
    from termbridge.registry import session_dir

    return session_dir(home, name) / "receipts.log"


def record(home: Path, name: str, records: Iterable[dict | str], state: str, via: str) -> None:
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
    paths.ensure_dir(path.parent)
    paths.append_durable(path, "".join(lines).encode())
    _trim(path)


def record_answer(home: Path, name: str, msg_id: str, answer: str, via: str) -> None:
    """Append `answered` for MSG_ID with its ANSWER text, fsync'd (answers.answer calls it once)."""
    entry = {"id": msg_id, "state": "answered", "t": round(time.time(), 6), "via": via, "answer": answer}
    path = log_path(home, name)
    paths.ensure_dir(path.parent)
    paths.append_durable(path, (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode())
    _trim(path)


def _trim(path: Path) -> None:
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


def _entries(home: Path, name: str) -> list[dict]:
    """The valid receipt entries of NAME (a torn or garbage line is skipped)."""
    lines = (paths.read_bytes(log_path(home, name)) or b"").split(b"\n")
    return [e for e in map(parse_entry, lines) if e is not None]


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _session_names(home: Path) -> list[str]:
    from termbridge.registry import sessions_dir

    return [n for n in paths.list_dir(sessions_dir(home)) if paths.NAME_RE.fullmatch(n)]


def _outbox_state(home: Path, name: str, msg_id: str) -> dict | None:
    """Where MSG_ID sits in NAME's outbox right now: queued (pending or claimed), dead or expired."""
    from termbridge.outbox import Outbox

    box = Outbox(home, name)
    for rec in box.queued_records():
        if rec.get("id") == msg_id:
            return {"state": "queued", "at": {"queued": rec.get("created_at")}, "via": "outbox"}
    for e in box.dead_letters():
        if e.get("id") == msg_id:
            dead = e.get("record")
            created = dead.get("created_at") if isinstance(dead, dict) else None
            state = "expired" if str(e.get("reason", "")).startswith("expired") else "dead"
            at = {state: e.get("dead_at")}
            if isinstance(created, (int, float)):
                at["queued"] = created
            return {"state": state, "at": at, "via": "outbox", "reason": e.get("reason")}
    if msg_id in box.delivered_ids():
        return {"state": "submitted", "at": {}, "via": "ledger"}
    return None


def lookup(home: Path, msg_id: str, scan_transcripts: bool = True, session: str | None = None) -> dict:
    """`{"id","session","state","at": {state: time},"via"}` for MSG_ID; UnknownMessage (exit 3) if none.
    SESSION, when the caller knows it, spares looking through every other session's state."""
    for name in [session] if session else _session_names(home):
        mine = [e for e in _entries(home, name) if e["id"] == msg_id]
        if not mine:
            found = _outbox_state(home, name, msg_id)
            if found is None:
                continue
            return {"id": msg_id, "session": name, **found}
        at: dict = {}
        for e in mine:
            if isinstance(e.get("queued_at"), (int, float)):
                at.setdefault("queued", e["queued_at"])
            at.setdefault(e["state"], e["t"])
        best = max(mine, key=lambda e: (_RANK.get(e["state"], -1), e["t"]))
        result = {"id": msg_id, "session": name, "state": best["state"], "at": at, "via": best["via"]}
        if best["state"] == "answered":
            result["answer"] = best["answer"]
        if best["state"] == "submitted":
            back = _outbox_state(home, name, msg_id)  # re-queued after a later failure? (never counted twice)
            if back and back["state"] in ("dead", "expired"):
                result.update(state=back["state"], via="outbox")
                result["at"].update(back["at"])
            elif scan_transcripts and record_shows(home, name, msg_id):
                record(home, name, [msg_id], "received", "record")
                return lookup(home, msg_id, scan_transcripts=False, session=name)
        return result
    raise UnknownMessage(f"unknown message id {msg_id!r}")


def wait_for_state(
    home: Path, msg_id: str, until: str, seconds: float, poll: float = 0.1, session: str | None = None
) -> str:
    """Poll MSG_ID's receipt (in SESSION, when known) until it reaches UNTIL (or later) or SECONDS pass;
    returns the last state."""
    deadline = time.monotonic() + seconds
    last_scan = 0.0
    while True:
        scan = time.monotonic() - last_scan > 1.0  # transcripts are read at most once a second
        if scan:
            last_scan = time.monotonic()
        state = lookup(home, msg_id, scan_transcripts=scan and until == "received", session=session)["state"]
        if _RANK.get(state, -1) >= _RANK[until] or state in ("expired", "dead"):
            return state
        if time.monotonic() >= deadline:
            return state
        time.sleep(poll)


def received_ids(home: Path, name: str, ids: list[str]) -> set[str]:
    """Which of IDS NAME's agent is known to have received: a receipt from its own evidence, or its
    own bound record showing them. Nothing else counts (record.py)."""
    want = set(ids)
    got = {e["id"] for e in _entries(home, name) if e["state"] == "received" and e["id"] in want}
    if want - got:
        from termbridge import record, registry

        try:
            sess = registry.lookup(home, name)
            got |= record.shows(home, sess, sorted(want - got))
        except Exception:  # noqa: BLE001 - no session, no record: nothing more is known
            pass
    return got


def counts(home: Path, name: str) -> dict[str, int]:
    """How many of NAME's messages reached each later state (by their newest receipt)."""
    best: dict[str, str] = {}
    for e in _entries(home, name):
        if _RANK.get(e["state"], -1) >= _RANK.get(best.get(e["id"], ""), -1):
            best[e["id"]] = e["state"]
    out = {"submitted": 0, "received": 0, "answered": 0}
    for state in best.values():
        if state in out:
            out[state] += 1
    return out


def record_shows(home: Path, name: str, msg_id: str) -> bool:
    """Whether NAME's agent's own bound record (never another file) shows MSG_ID delivered to it."""
    from termbridge import record, registry

    try:
        sess = registry.lookup(home, name)
    except Exception:  # noqa: BLE001 - an unregistered or corrupt session has no record to read
        return False
    return msg_id in record.shows(home, sess, [msg_id])
