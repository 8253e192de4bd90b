"""Answers: `termbridge ask` puts a question, and the answer comes from the agent's own record.

A question is a message whose outbox record carries `"ask": true` (its framing says a reply is
expected) plus a small file in the target session's `questions/` directory:

  questions/<id>.json   {"id", "asker", "from", "asked_at", "waiter": {"pid", "start"} | null,
                         "answer"?, "answer_via"?, "late_id"?, "answered_at"?}

(`answer` and `late_id` are written ahead of the receipt and the late message, `answered_at`
last, with a `<id>.unfinished` mark meanwhile: see `answer`. Files are removed a week after they
were asked. `turn_questions.json`: `{"turn": the agent's own turn id or null, "ids": [...]}`.)

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

from termbridge import paths
from termbridge.errors import AskRefused, BadInput, TermbridgeError
from termbridge.outcome import Outcome
from termbridge.session_files import SessionFiles

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath

ASKS_LOG = "asks.log"  # in the state home
ASKS_LOCK = "asks.lock"  # check and count as one step
PAIR_WINDOW_S = 600.0
MAX_ANSWER_CHARS = 64 * 1024
DEFAULT_TIMEOUT_S = 300.0
MCP_MAX_TIMEOUT_S = 50.0  # under the agents' tool-call limits
KEEP_QUESTION_S = 7 * 24 * 3600.0  # a question file is removed a week after it was asked

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
def question_path(home: StrPath, name: str, qid: str) -> str:
    """QID's file in NAME's questions; BadInput for an id that is no plain name (a forwarded id
    with `/` or `..` would name a file outside them)."""
    if not paths.NAME_RE.fullmatch(qid) or qid in (".", ".."):
        raise BadInput(f"invalid question id {qid!r}: use 1-64 of A-Z a-z 0-9 . _ -")
    return os.path.join(SessionFiles.of(home, name).questions, f"{qid}.json")


def _lock(home: StrPath, name: str):
    d = paths.ensure_dir(SessionFiles.of(home, name).questions)
    return paths.state_lock(os.path.join(d, ".lock"), timeout=10.0)


def read_question(home: StrPath, name: str, qid: str) -> dict | None:
    """The question file of QID in NAME (None when QID is no question of NAME's, or it is unreadable)."""
    if not paths.NAME_RE.fullmatch(qid):
        return None
    try:
        q = paths.read_json(question_path(home, name, qid), None)
    except (OSError, TermbridgeError):
        return None
    return q if isinstance(q, dict) and q.get("id") == qid else None


def _write_question(home: StrPath, name: str, q: dict) -> None:
    path = question_path(home, name, q["id"])
    paths.ensure_dir(os.path.dirname(path))
    paths.atomic_write(path, json.dumps(q, ensure_ascii=False, separators=(",", ":")).encode())


def take_question(home: StrPath, name: str, qid: str, sender: str | None) -> None:
    """A question another machine's `ask NAME@HOST` forwarded (rpc `take` with `ask`): its file
    here, before its message. No one here waits and no session here asked: its answer goes back
    only through its receipt, which the asking machine polls."""
    _write_question(home, name, {"id": qid, "asker": None, "from": sender, "asked_at": round(time.time(), 6)})


def drop_question(home: StrPath, name: str, qid: str) -> None:
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
def asker_of(home: StrPath, sender: str | None) -> str | None:
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


def _asks(home: StrPath, now: float) -> list[dict]:
    out = []
    for line in (paths.read_bytes(os.path.join(home, ASKS_LOG)) or b"").split(b"\n"):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if isinstance(e, dict) and isinstance(e.get("t"), (int, float)) and now - e["t"] < PAIR_WINDOW_S:
            out.append(e)
    return out


def check_pair(home: StrPath, asker: str, target: str, limit: int, now: float | None = None) -> None:
    """Refuse (exit 4) a question past LIMIT between ASKER and TARGET, either way, in 10 minutes."""
    now = time.time() if now is None else now
    pair = {asker, target}
    n = sum(1 for e in _asks(home, now) if {e.get("from"), e.get("to")} == pair)
    if n >= limit:
        raise AskRefused(
            f"{asker} and {target} asked each other {n} questions in the last {PAIR_WINDOW_S / 60:g} minutes "
            f"(ask_pair_limit {limit}): not asking again; answer with `termbridge send` instead"
        )


def reserve_pair(home: StrPath, asker: str, target: str, limit: int, qid: str) -> None:
    """check_pair and note_asked as one step (asks started at once cannot all pass the limit):
    QID counts from now on, even when its question then fails to be queued."""
    with paths.state_lock(os.path.join(home, ASKS_LOCK), timeout=10.0):
        check_pair(home, asker, target, limit)
        note_asked(home, asker, target, qid)


def note_asked(home: StrPath, asker: str, target: str, qid: str) -> None:
    """Count QID for ASKER and TARGET (under ASKS_LOCK: reserve_pair)."""
    now = time.time()
    path = os.path.join(home, ASKS_LOG)
    line = json.dumps({"t": round(now, 3), "from": asker, "to": target, "id": qid}, separators=(",", ":"))
    paths.append_durable(path, (line + "\n").encode())
    if len(paths.read_bytes(path) or b"") > 256 * 1024:  # keep only the window
        keep = [json.dumps(e, separators=(",", ":")) + "\n" for e in _asks(home, now)]
        paths.atomic_write(path, "".join(keep).encode())


# ---------------------------------------------------------------- the turn that received a question
def _turn_path(home: StrPath, name: str) -> str:
    return SessionFiles.of(home, name).turn_questions


def _read_turn(home: StrPath, name: str) -> list[str]:
    return _read_turn_file(home, name)[1]


def _read_turn_file(home: StrPath, name: str) -> tuple[str | None, list[str]]:
    """The current turn's key (the agent's own id of the turn, when its hooks give one) and the
    questions it received (an older file holds the list alone)."""
    try:
        data = paths.read_json(_turn_path(home, name))  # a mapping now, a list before 0.3's turn keys
    except (OSError, TermbridgeError):
        return None, []
    turn, ids = (data.get("turn"), data.get("ids")) if isinstance(data, dict) else (None, data)
    turn = turn if isinstance(turn, str) else None
    return turn, [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []


def turn_key(data: Mapping) -> str | None:
    """The agent's own id of the turn a hook runs in: Claude Code's `prompt_id` (a message folded
    into a running turn, as one a dialog held, carries the turn's own), Codex's `turn_id`."""
    for k in ("prompt_id", "turn_id"):
        v = data.get(k)
        if isinstance(v, str) and 0 < len(v) <= 200:
            return v
    return None


def join_turn(home: StrPath, name: str, ids: list[str], new_turn: bool = False, turn: str | None = None) -> list[str]:
    """The questions among IDS join NAME's current turn (they were received in it); returns them.

    NEW_TURN (the agent's own prompt hook: a prompt starts a turn) first forgets the questions of
    an earlier turn that ended with no turn-end hook (Claude Code and Codex run none on an
    interrupt): a later turn never received them, so it never answers them. A prompt hook whose
    TURN (turn_key) is the current turn's own is no new turn: Claude Code folds a message that
    arrives while a dialog holds the turn into that turn, and runs the prompt hook for it."""
    if new_turn:
        _finish_quietly(home, name)  # a turn-end hook killed half-way: its answers are finished first
    qs = [i for i in ids if read_question(home, name, i) is not None]
    path = _turn_path(home, name)
    if not qs and not (new_turn and os.path.lexists(path)):
        return []
    with _lock(home, name):
        current, now = _read_turn_file(home, name)
        if new_turn and not (turn is not None and turn == current):
            current, now = turn, []
        current = current or turn
        merged = list(dict.fromkeys(now + qs))
        if merged:
            paths.atomic_write(path, json.dumps({"turn": current, "ids": merged}).encode())
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


def end_turn(home: StrPath, name: str, agent: str, data: Mapping) -> list[str]:
    """NAME's agent ended a turn (its own Stop/AfterAgent hook): answer the turn's questions with
    its final message. Returns the ids answered. An interrupted turn answers nothing.

    The answers are written ahead into the question files before the turn is forgotten, in one
    step under the lock: a hook killed after that leaves them to `finish_answers`; one killed
    before it answers nothing, and the next prompt starts a new turn (never a wrong answer). A
    turn-end hook whose turn key (turn_key: Claude's and Codex's Stop carry their turn's own) is
    not the stored turn's answers nothing: those questions were an earlier turn's."""
    if not os.path.lexists(_turn_path(home, name)):
        return []  # the hot path of most Stops: no question in this turn
    text = answer_text(agent, data)
    via = f"hook:{agent}"
    key = turn_key(data)
    with _lock(home, name):
        current, ids = _read_turn_file(home, name)
        if key is not None and current is not None and key != current:
            ids = []  # an earlier turn's (it ended with no turn-end hook): this turn never received them
        if text is not None:
            ids = [qid for qid in ids if _write_ahead(home, name, qid, text, via)]
        paths.unlink_durable(_turn_path(home, name))
    return [qid for qid in ids if text is not None and answer(home, name, qid, text, via)]


def answer(home: StrPath, name: str, qid: str, text: str, via: str) -> bool:
    """Record TEXT as QID's answer (once); send it to the asker when no one waits any more.

    Crash-safe in three steps under the question's lock: the answer (and, for an answer no one
    waits for, the id of its message to the asker) written ahead into the question file; the
    receipt and that message (appended under its id, so never twice); `answered_at` last. Anyone
    who finds a question written ahead but not answered finishes it (`finish_answers`) with the
    text written first."""
    from termbridge import events, receipts_log

    with _lock(home, name):
        if not _write_ahead(home, name, qid, text, via):
            return False
        q = read_question(home, name, qid)
        if q is None:
            return False
        text, via = q["answer"], str(q.get("answer_via") or via)
        receipts_log.record_answer(home, name, qid, text, via)
        late = q.get("late_id")
        queued = isinstance(late, str) and _queue_late(home, name, q, text)
        q["answered_at"] = round(time.time(), 6)
        _write_question(home, name, q)
        _discard(_unfinished(home, name, qid))
    events.log_event(home, "answered", name, id=qid, via=via, chars=len(text), waiting=not isinstance(late, str))
    if queued:
        try:
            from termbridge import waiter

            waiter.start_waiter(home, q["asker"])
        except Exception as e:  # noqa: BLE001 - the message is queued: the next send or drain carries it
            events.log_event(home, "late_answer_failed", q["asker"], question=qid, error=f"waiter: {e}"[:200])
    return True


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _unfinished(home: StrPath, name: str, qid: str) -> str:
    """The mark of an answer written ahead and not yet complete: `finish_answers` looks only at these."""
    return os.path.join(SessionFiles.of(home, name).questions, f"{qid}.unfinished")


def _write_ahead(home: StrPath, name: str, qid: str, text: str, via: str) -> bool:
    """(Under the lock.) QID's answer TEXT into its question file, unless it holds one already (a
    resumed answer keeps the first text), with the id of the late message when no one waits any
    more. False when QID is no open question of NAME's."""
    from termbridge.sanitize import sanitize_text

    q = read_question(home, name, qid)
    if q is None or q.get("answered_at"):
        return False
    changed = False
    if not isinstance(q.get("answer"), str):
        q["answer"], q["answer_via"] = sanitize_text(text)[:MAX_ANSWER_CHARS], via
        paths.atomic_write(_unfinished(home, name, qid), b"")  # before the answer: the sweep finds it
        changed = True
    if not isinstance(q.get("late_id"), str) and isinstance(q.get("asker"), str) and not _waiting(q):
        from termbridge.ids import new_id

        q["late_id"] = new_id()
        changed = True
    if changed:
        _write_question(home, name, q)
    return True


def finish_answers(home: StrPath, name: str) -> list[str]:
    """Finish every question of NAME whose answer was written ahead but never completed (its hook
    was killed half-way: its `.unfinished` mark stays): the receipt and the late message, once.
    Returns the ids finished. Costs one directory listing when there is none."""
    done = []
    for fn in paths.list_dir(SessionFiles.of(home, name).questions):
        if not fn.endswith(".unfinished"):
            continue
        qid = fn[: -len(".unfinished")]
        q = read_question(home, name, qid)
        if q is not None and isinstance(q.get("answer"), str) and not q.get("answered_at"):
            if answer(home, name, qid, q["answer"], str(q.get("answer_via") or "hook")):
                done.append(qid)
        elif paths.NAME_RE.fullmatch(qid):
            with _lock(home, name):
                _discard(_unfinished(home, name, qid))
    return done


def _finish_quietly(home: StrPath, name: str) -> None:
    """finish_answers for a prompt hook: its own question must still join the turn if this fails."""
    if not os.path.isdir(SessionFiles.of(home, name).questions):
        return
    try:
        finish_answers(home, name)
    except Exception as e:  # noqa: BLE001 - logged; the half-done answer waits for the next chance
        from termbridge import events

        events.log_event(home, "hook_error", name, hook="finish-answers", error=str(e)[:200])


def prune_questions(home: StrPath, name: str, now: float | None = None) -> None:
    """Question files of NAME asked more than a week ago go (their receipts stay), but not one
    whose answer is still to be finished."""
    now = time.time() if now is None else now
    for fn in paths.list_dir(SessionFiles.of(home, name).questions):
        if not fn.endswith(".json"):
            continue
        q = read_question(home, name, fn[: -len(".json")])
        if q is None or not isinstance(q.get("asked_at"), (int, float)) or now - q["asked_at"] <= KEEP_QUESTION_S:
            continue
        if isinstance(q.get("answer"), str) and not q.get("answered_at"):
            continue
        with _lock(home, name):
            paths.unlink_durable(question_path(home, name, q["id"]))


def _queue_late(home: StrPath, name: str, q: dict, text: str) -> bool:
    """(Under the question's lock.) The answer to the asking session as a message, `reply_to` the
    question, under the id written ahead: appended once however often this runs. True when it is
    in the asker's queue (now or before)."""
    from termbridge import events
    from termbridge.context import SessionContext

    asker, qid, late_id = q["asker"], q["id"], q["late_id"]
    try:
        ctx = SessionContext(home, asker)
        ctx.session  # noqa: B018 - the asker must still be a registered session (UnknownSession)
        box = ctx.outbox
        if box.holds(late_id):
            return True
        head = f"{name} answered your question {qid}"
        body = f"{head}:\n{text}"
        limit = ctx.cfg["max_body_bytes"]
        if len(body.encode()) > limit:  # one message at most: the receipt keeps it whole
            head = f"{head} (cut: `termbridge receipt {qid}` has it whole):\n"
            room = max(limit - len(head.encode()), 0)
            body = head + text.encode()[:room].decode("utf-8", "ignore")
        box.append(body, name, qid, None, None, msg_id=late_id)
        events.log_event(home, "late_answer", asker, id=late_id, question=qid, answered_by=name)
        return True
    except Exception as e:  # noqa: BLE001 - the answer is in the receipt either way
        events.log_event(home, "late_answer_failed", asker, question=qid, error=str(e)[:200])
        return False


def _release(home: StrPath, name: str, qid: str) -> dict | None:
    """The asker stops waiting: from now on an answer goes to it as a message. Returns the question."""
    with _lock(home, name):
        q = read_question(home, name, qid)
        if q is not None and not q.get("answered_at"):
            q["waiter"] = None
            _write_question(home, name, q)
    return q


# ---------------------------------------------------------------- blocked
def blocked_reason(home: StrPath, name: str) -> str | None:
    """The dialog NAME's agent shows (it waits for its person), or None. One screen sample."""
    from termbridge import registry, targets
    from termbridge.surface import read_surface

    try:
        sess = registry.lookup(home, name)
        s = read_surface(home, sess, targets.resolve_session(home, sess), sample=False)
    except Exception:  # noqa: BLE001 - no target, no screen: nothing known to block it
        return None
    return s.reason if s.kind == "dialog" else None


def receipt_of(home: StrPath, qid: str, found: dict, with_screen: bool = True) -> dict:
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
    home: StrPath,
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
    prune_questions(home, name)
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
            if r["state"] != "answered" and (scan or now >= deadline) and _finish_own(home, name, qid):
                r = lookup(home, qid, scan_transcripts=False, session=name)
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


def _finish_own(home: StrPath, name: str, qid: str) -> bool:
    """The waiting `ask` finishes its question's answer when a hook killed half-way wrote it ahead."""
    q = read_question(home, name, qid)
    if q and isinstance(q.get("answer"), str) and not q.get("answered_at"):
        return answer(home, name, qid, q["answer"], str(q.get("answer_via") or "hook"))
    return False


def require_turn_ends(home: StrPath, sess) -> None:
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
