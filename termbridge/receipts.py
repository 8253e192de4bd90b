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

import time

from termbridge import paths
from termbridge.errors import UnknownMessage
from termbridge.receipts_log import entries, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath

_RANK = {"queued": 0, "submitted": 1, "received": 2, "answered": 3}


def _session_names(home: StrPath) -> list[str]:
    from termbridge.registry import sessions_dir

    return [n for n in paths.list_dir(sessions_dir(home)) if paths.NAME_RE.fullmatch(n)]


def _outbox_state(home: StrPath, name: str, msg_id: str) -> dict | None:
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


def lookup(home: StrPath, msg_id: str, scan_transcripts: bool = True, session: str | None = None) -> dict:
    """`{"id","session","state","at": {state: time},"via"}` for MSG_ID; UnknownMessage (exit 3) if none.
    SESSION, when the caller knows it, spares looking through every other session's state."""
    for name in [session] if session else _session_names(home):
        mine = [e for e in entries(home, name) if e["id"] == msg_id]
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
    home: StrPath, msg_id: str, until: str, seconds: float, poll: float = 0.1, session: str | None = None
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


def held_ids(home: StrPath, name: str, ids: list[str]) -> set[str]:
    """Which of IDS NAME's agent is known to have (never to be sent again): a receipt from its own
    evidence, or its own bound record showing them, given to its model or held in its own queue
    (Claude Code records a message it queued; Codex keeps one in its queue database until it runs
    it). Nothing else counts (record.py)."""
    want = set(ids)
    got = {e["id"] for e in entries(home, name) if e["state"] == "received" and e["id"] in want}
    if want - got:
        from termbridge import record, registry

        try:
            sess = registry.lookup(home, name)
            if sess.kind == "codex":  # stored by a `codex queue` that did not finish?
                from termbridge.lanes import codex_queue

                # Its queue before its record: a message leaves the one for the other as it runs.
                heads = {i: record.framed_header(i).decode() for i in want - got}
                got |= codex_queue.holding(sess.pid, record.bound(home, sess), heads)
            got |= record.shows(home, sess, sorted(want - got), held=True)
        except Exception:  # noqa: BLE001 - no session, no record: nothing more is known
            pass
    return got


def counts(home: StrPath, name: str) -> dict[str, int]:
    """How many of NAME's messages reached each later state (by their newest receipt)."""
    best: dict[str, str] = {}
    for e in entries(home, name):
        if _RANK.get(e["state"], -1) >= _RANK.get(best.get(e["id"], ""), -1):
            best[e["id"]] = e["state"]
    out = {"submitted": 0, "received": 0, "answered": 0}
    for state in best.values():
        if state in out:
            out[state] += 1
    return out


def record_shows(home: StrPath, name: str, msg_id: str) -> bool:
    """Whether NAME's agent's own bound record (never another file) shows MSG_ID delivered to it."""
    from termbridge import record, registry

    try:
        sess = registry.lookup(home, name)
    except Exception:  # noqa: BLE001 - an unregistered or corrupt session has no record to read
        return False
    return msg_id in record.shows(home, sess, [msg_id])
