"""Questions asked of another host (`ask NAME@HOST`), as this machine knows them.

HOST makes each forwarded question one of its own (rpc `take` with `ask`: answers.py's question
file there, answered by the target's own turn-end hook); here a small file says who asked and
who still waits:

  hosts/<host key>/questions/<id>.json
      {"id", "session" (NAME@HOST), "asker", "from", "asked_at", "waiter": {"pid", "start"} | null,
       "answered_at"?, "late_id"?, "closed"?}

The `ask` that waits is named in `waiter`. Whoever sees HOST's receipt say `answered` first (the
`ask` itself, a `receipt ID`, or the forwarder's pass over the questions no one waits for)
calls `seen_answer`: while the `ask` waits it takes the answer itself; when it gave up and the
asker is a session here, the answer is queued to that session as a message (`reply_to` = the
question) -- exactly once: under the questions lock, the message's id is written first and the
asker's outbox is checked for it before appending.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from termbridge import events, paths, proctree
from termbridge.errors import TermbridgeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath

LATE_POLL_S = 5.0  # the forwarder asks HOST about questions no one waits for at most this often
LATE_WINDOW_S = 24 * 3600.0  # ...for this long after they were asked (then `receipt ID` only)
_KEEP_S = 7 * 24 * 3600.0  # answered or closed question files are removed after this


def questions_dir(host_dir: Path) -> Path:
    return Path(host_dir) / "questions"


def _path(host_dir: Path, qid: str) -> Path:
    return questions_dir(host_dir) / f"{qid}.json"


def lock(host_dir: Path) -> paths.StateLock:
    d = paths.ensure_dir(questions_dir(host_dir))
    return paths.state_lock(d / ".lock", timeout=10.0)


def read(host_dir: Path, qid: str) -> dict | None:
    if not paths.NAME_RE.fullmatch(qid):
        return None
    try:
        q = paths.read_json(_path(host_dir, qid), None)
    except (OSError, TermbridgeError):
        return None
    return q if isinstance(q, dict) and q.get("id") == qid else None


def write(host_dir: Path, q: dict) -> None:
    paths.ensure_dir(questions_dir(host_dir))
    paths.atomic_write(_path(host_dir, q["id"]), json.dumps(q, ensure_ascii=False, separators=(",", ":")).encode())


def remove(host_dir: Path, qid: str) -> None:
    paths.unlink_durable(_path(host_dir, qid))


def me() -> dict:
    return {"pid": os.getpid(), "start": proctree.start_time(os.getpid())}


def waiting(q: dict) -> bool:
    """An `ask` still waits for Q's answer (its process lives)."""
    w = q.get("waiter")
    if not isinstance(w, dict) or not isinstance(w.get("pid"), int) or isinstance(w.get("pid"), bool):
        return False
    start = w.get("start")
    return proctree.is_alive(w["pid"], start if isinstance(start, str) else None)


def release(host_dir: Path, qid: str) -> dict | None:
    """The `ask` stops waiting (call under the host's queue lock: the forwarder then sees it, or is
    gone and the caller starts the next one). Returns the question."""
    with lock(host_dir):
        q = read(host_dir, qid)
        if q is not None and not q.get("answered_at"):
            q["waiter"] = None
            write(host_dir, q)
    return q


def close(host_dir: Path, qid: str, why: str) -> None:
    """No answer will come (HOST refused or expired the question): stop looking for one."""
    with lock(host_dir):
        q = read(host_dir, qid)
        if q is not None and not q.get("answered_at") and not q.get("closed"):
            q["closed"] = why[:300]
            q["waiter"] = None
            write(host_dir, q)


def seen_answer(home: StrPath, host_dir: Path, qid: str, text) -> str | None:
    """HOST's receipt says QID is answered with TEXT. Returns "waiting" (the `ask` takes it), "late"
    (queued to the asker here as a message, once), or None (no question of ours, or already done)."""
    if not isinstance(text, str):
        return None
    with lock(host_dir):
        q = read(host_dir, qid)
        if q is None or q.get("answered_at"):
            return None
        if waiting(q):
            q["answered_at"] = round(time.time(), 6)
            write(host_dir, q)
            return "waiting"
        outcome = None
        if isinstance(q.get("asker"), str) and not q.get("closed"):
            if not isinstance(q.get("late_id"), str):
                from termbridge.ids import new_id

                q["late_id"] = new_id()
                write(host_dir, q)  # the id first: a writer killed after the append appends nothing twice
            outcome = _queue_late(home, q, text)
        q["answered_at"] = round(time.time(), 6)
        write(host_dir, q)
    return outcome


def _queue_late(home: StrPath, q: dict, text: str) -> str | None:
    """The answer to the asking session as a message with reply_to = the question (under the lock)."""
    from termbridge import waiter
    from termbridge.context import SessionContext
    from termbridge.sanitize import sanitize_text

    asker, target, late_id = q["asker"], str(q.get("session") or "?"), q["late_id"]
    try:
        ctx = SessionContext(home, asker)
        ctx.session  # noqa: B018 - the asker must still be a registered session (UnknownSession)
        box = ctx.outbox
        if not box.holds(late_id):
            head = f"{target} answered your question {q['id']}:\n"
            room = ctx.cfg["max_body_bytes"] - len(head.encode())
            answer = sanitize_text(text).encode()[: max(room, 0)].decode("utf-8", "ignore") or "(empty)"
            box.append(head + answer, target, q["id"], None, None, msg_id=late_id)
        waiter.start_waiter(home, asker)
        events.log_event(home, "late_answer", asker, id=late_id, question=q["id"], answered_by=target)
        return "late"
    except Exception as e:  # noqa: BLE001 - the answer is in `receipt ID` either way
        events.log_event(home, "late_answer_failed", asker, question=q["id"], error=str(e)[:200])
        return None


def open_late(host_dir: Path, now: float | None = None) -> list[dict]:
    """Questions whose `ask` gave up, asked by a session here, not answered nor closed, asked within
    LATE_WINDOW_S: the forwarder looks for their answers. Files older than a week are removed."""
    now = time.time() if now is None else now
    out = []
    for fn in paths.list_dir(questions_dir(host_dir)):
        if not fn.endswith(".json"):
            continue
        q = read(host_dir, fn[: -len(".json")])
        if q is None:
            continue
        t = q.get("asked_at")
        asked = float(t) if isinstance(t, (int, float)) else 0.0
        if now - asked > _KEEP_S:
            remove(host_dir, q["id"])
            continue
        if q.get("answered_at") or q.get("closed"):
            continue
        if isinstance(q.get("asker"), str) and now - asked < LATE_WINDOW_S and not waiting(q):
            out.append(q)
    return out
