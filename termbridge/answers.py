"""Answers: `termbridge ask` puts a question, and the answer comes from the agent's own record.

A question is a message whose outbox record carries `"ask": true` (its framing says a reply is
expected) plus a small file in the target session's `questions/` directory:

  questions/<id>.json   {"id", "asker", "from", "asked_at", "waiter": {"pid", "start"} | null,
                         "answered_at"?}

The answer is the final assistant message of the first turn of the target's agent that received
the question, taken from that agent's own turn-end hook input (Claude Code's and Codex's `Stop`
`last_assistant_message`, Gemini CLI's `AfterAgent` `prompt_response`), never from the screen:

- the session's own prompt hook (and its MCP `inbox`) adds the questions it received to the
  session's current turn (`turn_questions.json`); a Stop hook that hands questions over adds them
  to the turn it continues;
- the session's own turn-end hook answers every question of that turn with its final message
  (receipt `answered`, with the text), and the turn starts empty again. An interrupted turn
  (Gemini's `[no response text]`) answers nothing: its questions stay `received`.

Whoever waits (`ask`) is named in the question file while it waits. An answer that arrives when
no one waits any more goes to the asker as a message (`reply_to` = the question), when the asker
is a registered session. The question file's lock makes that exactly one of the two.

Between the same two sessions at most `ask_pair_limit` questions in any 10 minutes (`asks.log`
in the state home, either direction): two agents cannot ask each other forever.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from termbridge import paths
from termbridge.errors import AskRefused, BadInput, TermbridgeError
from termbridge.outcome import Outcome
from termbridge.session_files import SessionFiles

ASKS_LOG = "asks.log"  # in the state home
ASKS_LOCK = "asks.lock"  # check and count as one step
PAIR_WINDOW_S = 600.0
MAX_ANSWER_CHARS = 64 * 1024
DEFAULT_TIMEOUT_S = 300.0
MCP_MAX_TIMEOUT_S = 50.0  # under the agents' tool-call limits

# Gemini CLI's AfterAgent response on an interrupt (Esc): the turn ended with no answer.
_NO_RESPONSE = "[no response text]"


class Asked(Outcome):
    """What `ask` got: the question id, its final receipt state and the answer (or None); exit 4
    and a note when no answer came."""

    __slots__ = ("id", "session", "state", "answer", "at")

    def __init__(self, id: str, session: str):
        super().__init__()
        self.id, self.session = id, session
        self.state = "queued"
        self.answer: str | None = None
        self.at: dict = {}

    def as_json(self) -> dict:
        return {"id": self.id, "session": self.session, "state": self.state, "answer": self.answer, "at": self.at}


# ---------------------------------------------------------------- files
def question_path(home: Path, name: str, qid: str) -> Path:
    """QID's file in NAME's questions; BadInput for an id that is no plain name (a forwarded id
    with `/` or `..` would name a file outside them)."""
    if not paths.NAME_RE.fullmatch(qid) or qid in (".", ".."):
        raise BadInput(f"invalid question id {qid!r}: use 1-64 of A-Z a-z 0-9 . _ -")
    return SessionFiles.of(home, name).questions / f"{qid}.json"


def _lock(home: Path, name: str):
    d = paths.ensure_dir(SessionFiles.of(home, name).questions)
    return paths.state_lock(d / ".lock", timeout=10.0)


def read_question(home: Path, name: str, qid: str) -> dict | None:
    """The question file of QID in NAME (None when QID is no question of NAME's, or it is unreadable)."""
    if not paths.NAME_RE.fullmatch(qid):
        return None
    try:
        q = paths.read_json(question_path(home, name, qid), None)
    except (OSError, TermbridgeError):
        return None
    return q if isinstance(q, dict) and q.get("id") == qid else None


def _write_question(home: Path, name: str, q: dict) -> None:
    path = question_path(home, name, q["id"])
    paths.ensure_dir(path.parent)
    paths.atomic_write(path, json.dumps(q, ensure_ascii=False, separators=(",", ":")).encode())


def take_question(home: Path, name: str, qid: str, sender: str | None) -> None:
    """A question another machine's `ask NAME@HOST` forwarded (rpc `take` with `ask`): its file
    here, before its message. No one here waits and no session here asked: its answer goes back
    only through its receipt, which the asking machine polls."""
    _write_question(home, name, {"id": qid, "asker": None, "from": sender, "asked_at": round(time.time(), 6)})


def drop_question(home: Path, name: str, qid: str) -> None:
    """The question file of a message that was never queued (its append failed)."""
    paths.unlink_durable(question_path(home, name, qid))


def _me() -> dict:
    from termbridge import proctree

    return {"pid": os.getpid(), "start": proctree.start_time(os.getpid())}


def _waiting(q: dict) -> bool:
    """Someone (an `ask`) still waits for Q's answer."""
    from termbridge import proctree

    w = q.get("waiter")
    if not isinstance(w, dict) or not isinstance(w.get("pid"), int) or isinstance(w.get("pid"), bool):
        return False
    start = w.get("start")
    return proctree.is_alive(w["pid"], start if isinstance(start, str) else None)


# ---------------------------------------------------------------- who asks, and how often
def asker_of(home: Path, sender: str | None) -> str | None:
    """The registered session that asks: SENDER when it names one, else the agent that runs this
    command (a registered session whose live PID is among the caller's ancestors), else None.
    A SENDER that names no session never hides the agent that runs this command (its pair limit)."""
    from termbridge import proctree, registry

    if sender:
        try:
            registry.lookup(home, sender)
            return sender
        except TermbridgeError:
            pass
    chain = set(proctree.ancestor_chain(os.getpid()))
    for s in registry.all_sessions(home):
        if s.pid in chain and s.alive():
            return s.name
    return None


def _asks(home: Path, now: float) -> list[dict]:
    out = []
    for line in (paths.read_bytes(home / ASKS_LOG) or b"").split(b"\n"):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if isinstance(e, dict) and isinstance(e.get("t"), (int, float)) and now - e["t"] < PAIR_WINDOW_S:
            out.append(e)
    return out


def check_pair(home: Path, asker: str, target: str, limit: int, now: float | None = None) -> None:
    """Refuse (exit 4) a question past LIMIT between ASKER and TARGET, either way, in 10 minutes."""
    now = time.time() if now is None else now
    pair = {asker, target}
    n = sum(1 for e in _asks(home, now) if {e.get("from"), e.get("to")} == pair)
    if n >= limit:
        raise AskRefused(
            f"{asker} and {target} asked each other {n} questions in the last {PAIR_WINDOW_S / 60:g} minutes "
            f"(ask_pair_limit {limit}): not asking again; answer with `termbridge send` instead"
        )


def reserve_pair(home: Path, asker: str, target: str, limit: int, qid: str) -> None:
    """check_pair and note_asked as one step (asks started at once cannot all pass the limit):
    QID counts from now on, even when its question then fails to be queued."""
    with paths.state_lock(home / ASKS_LOCK, timeout=10.0):
        check_pair(home, asker, target, limit)
        note_asked(home, asker, target, qid)


def note_asked(home: Path, asker: str, target: str, qid: str) -> None:
    """Count QID for ASKER and TARGET (under ASKS_LOCK: reserve_pair)."""
    now = time.time()
    path = home / ASKS_LOG
    line = json.dumps({"t": round(now, 3), "from": asker, "to": target, "id": qid}, separators=(",", ":"))
    paths.append_durable(path, (line + "\n").encode())
    if len(paths.read_bytes(path) or b"") > 256 * 1024:  # keep only the window
        keep = [json.dumps(e, separators=(",", ":")) + "\n" for e in _asks(home, now)]
        paths.atomic_write(path, "".join(keep).encode())


# ---------------------------------------------------------------- the turn that received a question
def _turn_path(home: Path, name: str) -> Path:
    return SessionFiles.of(home, name).turn_questions


def _read_turn(home: Path, name: str) -> list[str]:
    try:
        ids = paths.read_json(_turn_path(home, name), [])
    except (OSError, TermbridgeError):
        return []
    return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []


def join_turn(home: Path, name: str, ids: list[str], new_turn: bool = False) -> list[str]:
    """The questions among IDS join NAME's current turn (they were received in it); returns them.

    NEW_TURN (the agent's own prompt hook: a prompt starts a turn) first forgets the questions of
    an earlier turn that ended with no turn-end hook (Claude Code and Codex run none on an
    interrupt): a later turn never received them, so it never answers them."""
    qs = [i for i in ids if read_question(home, name, i) is not None]
    path = _turn_path(home, name)
    if not qs and not (new_turn and os.path.lexists(path)):
        return []
    with _lock(home, name):
        now = [] if new_turn else _read_turn(home, name)
        merged = list(dict.fromkeys(now + qs))
        if merged:
            paths.atomic_write(path, json.dumps(merged).encode())
        elif os.path.lexists(path):
            paths.unlink_durable(path)
    return qs


def answer_text(agent: str, data: Mapping) -> str | None:
    """The final assistant message in a turn-end hook's input (None: there is none)."""
    key = "prompt_response" if agent == "gemini" else "last_assistant_message"
    text = data.get(key)
    if not isinstance(text, str) or not text.strip() or (agent == "gemini" and text == _NO_RESPONSE):
        return None
    return text


def end_turn(home: Path, name: str, agent: str, data: Mapping) -> list[str]:
    """NAME's agent ended a turn (its own Stop/AfterAgent hook): answer the turn's questions with
    its final message. Returns the ids answered. An interrupted turn answers nothing."""
    if not os.path.lexists(_turn_path(home, name)):
        return []  # the hot path of most Stops: no question in this turn
    text = answer_text(agent, data)
    with _lock(home, name):
        ids = _read_turn(home, name)
        paths.unlink_durable(_turn_path(home, name))
    if text is None or not ids:
        return []
    done = []
    for qid in ids:
        if answer(home, name, qid, text, via=f"hook:{agent}"):
            done.append(qid)
    return done


def answer(home: Path, name: str, qid: str, text: str, via: str) -> bool:
    """Record TEXT as QID's answer (once); send it to the asker when no one waits any more."""
    from termbridge import events, receipts_log
    from termbridge.sanitize import sanitize_text

    text = sanitize_text(text)[:MAX_ANSWER_CHARS]
    with _lock(home, name):
        q = read_question(home, name, qid)
        if q is None or q.get("answered_at"):
            return False
        receipts_log.record_answer(home, name, qid, text, via)
        q["answered_at"] = round(time.time(), 6)
        waiting = _waiting(q)
        _write_question(home, name, q)
    events.log_event(home, "answered", name, id=qid, via=via, chars=len(text), waiting=waiting)
    if not waiting and isinstance(q.get("asker"), str):
        _send_late(home, name, q["asker"], qid, text)
    return True


def _send_late(home: Path, name: str, asker: str, qid: str, text: str) -> None:
    """An answer no `ask` waits for any more goes to the asking session as a message."""
    from termbridge import events, waiter
    from termbridge.config import load_config
    from termbridge.sending import send_message

    try:
        head = f"{name} answered your question {qid}"
        body = f"{head}:\n{text}"
        limit = load_config()["max_body_bytes"]
        if len(body.encode()) > limit:  # one message at most: the receipt keeps it whole
            head = f"{head} (cut: `termbridge receipt {qid}` has it whole):\n"
            room = max(limit - len(head.encode()), 0)
            body = head + text.encode()[:room].decode("utf-8", "ignore")
        sent = send_message(home, asker, body, sender=name, reply_to=qid, wake=False)
        waiter.start_waiter(home, asker)
        events.log_event(home, "late_answer", asker, id=sent.id, question=qid, answered_by=name)
    except Exception as e:  # noqa: BLE001 - the answer is in the receipt either way
        events.log_event(home, "late_answer_failed", asker, question=qid, error=str(e)[:200])


def _release(home: Path, name: str, qid: str) -> dict | None:
    """The asker stops waiting: from now on an answer goes to it as a message. Returns the question."""
    with _lock(home, name):
        q = read_question(home, name, qid)
        if q is not None and not q.get("answered_at"):
            q["waiter"] = None
            _write_question(home, name, q)
    return q


# ---------------------------------------------------------------- blocked
def blocked_reason(home: Path, name: str) -> str | None:
    """The dialog NAME's agent shows (it waits for its person), or None. One screen sample."""
    from termbridge import registry, targets
    from termbridge.surface import read_surface

    try:
        sess = registry.lookup(home, name)
        s = read_surface(home, sess, targets.resolve_session(home, sess), sample=False)
    except Exception:  # noqa: BLE001 - no target, no screen: nothing known to block it
        return None
    return s.reason if s.kind == "dialog" else None


def receipt_of(home: Path, qid: str, found: dict, with_screen: bool = True) -> dict:
    """FOUND (a receipts.lookup result) with `answer`, and `blocked` while a question waits on a dialog."""
    found.setdefault("answer", None)
    name = found.get("session")
    if (
        with_screen
        and isinstance(name, str)
        and found.get("state") in ("queued", "submitted", "received")
        and read_question(home, name, qid) is not None
    ):
        reason = blocked_reason(home, name)
        if reason is not None:
            found.update(state="blocked", reason=reason)
    return found


# ---------------------------------------------------------------- ask
def ask(
    home: Path,
    name: str,
    question: str | bytes,
    sender: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll: float = 0.2,
    asker: str | None = None,
    on_id: Callable[[str], None] | None = None,
) -> Asked:
    """Queue QUESTION for NAME (durable first, framed as a question), deliver it by NAME's lane,
    and wait up to TIMEOUT_S for its answer. ASKER (default: from SENDER or the caller's process
    chain) is the session a late answer goes to."""
    from termbridge import ids, registry, validate
    from termbridge.config import load_config
    from termbridge.context import SessionContext
    from termbridge.outbox import Outbox
    from termbridge.receipts import lookup
    from termbridge.sending import attempt_after_send, require_evidence

    cfg = load_config()
    paths.validate_name(name)
    validate.token(sender, "--from")
    if not (0 < timeout_s <= 86400):
        raise BadInput("--timeout must be from 0 to 86400 seconds")
    body = validate.body_text(question, cfg["max_body_bytes"])
    sess = registry.lookup(home, name)
    require_evidence(home, sess)
    require_turn_ends(home, sess)
    asker = asker or asker_of(home, sender)
    if asker == name:
        raise BadInput(f"{name} cannot ask itself")
    qid = ids.new_id()
    if asker:
        reserve_pair(home, asker, name, cfg["ask_pair_limit"], qid)
    q = {"id": qid, "asker": asker, "from": sender or asker, "asked_at": round(time.time(), 6), "waiter": _me()}
    _write_question(home, name, q)  # before the message exists: its hooks know it as a question
    try:
        Outbox(home, name, cfg).append(body, sender or asker, None, None, None, ask=True, msg_id=qid)
    except BaseException:
        paths.unlink_durable(question_path(home, name, qid))
        raise
    if on_id is not None:
        on_id(qid)
    got = Asked(qid, name)
    attempt_after_send(SessionContext(home, name))
    deadline = time.monotonic() + timeout_s
    last_scan = last_screen = 0.0
    blocked: str | None = None
    try:
        while True:
            now = time.monotonic()
            scan = now - last_scan > 1.0
            if scan:
                last_scan = now
            r = lookup(home, qid, scan_transcripts=scan, session=name)
            if r["state"] == "answered":
                return _answered(got, r)
            if r["state"] in ("dead", "expired"):
                _release(home, name, qid)
                got.state, got.at = r["state"], r.get("at", {})
                got.fail(4, f"question {qid} is {r['state']}: {r.get('reason') or 'not delivered'}")
                return got
            if now - last_screen > 2.0:
                last_screen = now
                blocked = blocked_reason(home, name)
            if now >= deadline:
                q2 = _release(home, name, qid)
                if q2 is not None and q2.get("answered_at"):  # answered just now: ours, not a late message
                    return _answered(got, lookup(home, qid, scan_transcripts=False, session=name))
                got.state, got.at = ("blocked" if blocked else r["state"]), r.get("at", {})
                why = f"; it waits for its person: {blocked}" if blocked else ""
                later = f"; a later answer goes to {asker} as a message" if asker else f"; `termbridge receipt {qid}`"
                got.fail(4, f"no answer from {name} within {timeout_s:g}s: question {qid} is {r['state']}{why}{later}")
                return got
            time.sleep(poll)
    except BaseException:
        _release(home, name, qid)  # interrupted: a later answer goes to the asker
        raise


def require_turn_ends(home: Path, sess) -> None:
    """An answer comes only from the session's own turn-end hook: a session whose record no hook of
    its own reported (found from its PID alone, or MCP with no hooks) would never answer, so asking
    it is refused at once (exit 2)."""
    from termbridge import record

    bound = record.bound(home, sess)
    if bound is None or not str(bound.get("via", "")).startswith("hook:"):
        raise BadInput(
            f"{sess.name} runs no termbridge hooks of its own (none reported its turns): an answer comes only "
            f"from its Stop hook; install them with `termbridge hooks install --agent {sess.kind}`"
        )


def _answered(got: Asked, r: dict) -> Asked:
    got.state, got.answer, got.at = "answered", r.get("answer"), r.get("at", {})
    return got
