"""`termbridge rpc`: what another machine's termbridge talks to over ssh.

JSON lines on stdio: one request a line in, one answer a line out (`{"ok": true, …}` or
`{"ok": false, "error", "exit"}` with the exit code the CLI would give). It serves only the
requests on its own stdin, from a fixed table of operations; it validates every field as the
CLI does; and it never runs a command a request names -- peer text is data, stored in the
outbox or typed by the ordinary (surface-checked) delivery, never executed.

Operations: hello · take (messages into outboxes, each id taken once; with `ask`, a question
as `termbridge ask` puts one) · receipt (with a question's answer, or `blocked`) · status ·
submit · drain.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from termbridge import paths, validate
from termbridge.errors import BadInput, TermbridgeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath

PROTOCOL = 1
MAX_LINE = 8 << 20  # one request line: a batch of messages, each within max_body_bytes
_TAKEN_KEEP = 100000  # ids remembered per session beyond the outbox's own ledger


def serve(home: StrPath, lines: Iterable[bytes], write: Callable[[str], None]) -> None:
    """Answer each request line of LINES with one line through WRITE; then start the idle waiters of
    the sessions that took messages (their own rules deliver them)."""
    woken: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        answer = handle(home, line, woken)
        write(json.dumps(answer, ensure_ascii=False, separators=(",", ":")) + "\n")
    _wake(home, woken)


def handle(home: StrPath, line: bytes, woken: list[str] | None = None) -> dict:
    """One request line -> its answer; never raises."""
    try:
        if len(line) > MAX_LINE:
            raise BadInput(f"request line over {MAX_LINE} bytes")
        try:
            req = json.loads(line)
        except ValueError:
            raise BadInput("request is not JSON") from None
        if not isinstance(req, dict) or not isinstance(req.get("op"), str):
            raise BadInput('request must be a JSON object with "op"')
        op = _OPS.get(req["op"])
        if op is None:
            raise BadInput(f"unknown op {req['op']!r}: use one of {', '.join(sorted(_OPS))}")
        return {"ok": True, **op(home, req, woken if woken is not None else [])}
    except TermbridgeError as e:
        return {"ok": False, "error": str(e), "exit": e.exit_code}
    except Exception as e:  # noqa: BLE001 - one answer per request, whatever happened
        return {"ok": False, "error": f"{type(e).__name__}: {e}", "exit": 1}


def _hello(home: StrPath, req: dict, woken: list[str]) -> dict:
    import termbridge

    return {"version": termbridge.__version__, "protocol": PROTOCOL}


def _str_or_none(req: dict, key: str) -> str | None:
    v = req.get(key)
    if v is not None and not isinstance(v, str):
        raise BadInput(f"field {key!r} must be a string or null")
    return v


def _take(home: StrPath, req: dict, woken: list[str]) -> dict:
    """Put each message into its session's outbox here, under the id it came with, exactly once."""
    msgs = req.get("messages")
    if not isinstance(msgs, list):
        raise BadInput('"messages" must be a list')
    results = []
    for m in msgs:
        mid = m.get("id") if isinstance(m, dict) else None
        try:
            if not isinstance(m, dict):
                raise BadInput("each message must be a JSON object")
            results.append(_take_one(home, m))
            if m["session"] not in woken:
                woken.append(m["session"])
        except TermbridgeError as e:
            results.append({"id": mid if isinstance(mid, str) else None, "error": str(e), "exit": e.exit_code})
    return {"results": results}


def _take_one(home: StrPath, m: dict) -> dict:
    from termbridge import registry
    from termbridge.config import load_config
    from termbridge.outbox import Outbox
    from termbridge.session_files import SessionFiles

    cfg = load_config()
    mid = validate.token(_str_or_none(m, "id"), "message id")
    if mid is None:
        raise BadInput("a message needs an id")
    name = paths.validate_name(_str_or_none(m, "session") or "")
    sender = validate.token(_str_or_none(m, "from"), "--from")
    reply_to = validate.token(_str_or_none(m, "reply_to"), "--reply-to")
    key = validate.token(_str_or_none(m, "key"), "--key")
    ttl = m.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0 < ttl < 10**9):
        raise BadInput("--ttl must be a positive number of seconds")
    body = validate.body_text(_str_or_none(m, "body") or "", cfg["max_body_bytes"])
    ask = m.get("ask", False)
    if not isinstance(ask, bool):
        raise BadInput("field 'ask' must be true or false")
    sess = registry.lookup(home, name)  # unknown here -> exit 3, nothing written
    if ask:
        from termbridge import answers

        answers.require_turn_ends(home, sess)  # as `ask` here refuses it: no hook of its own would answer
    files = SessionFiles.of(home, name)
    paths.ensure_dir(files.dir)
    taken_log = files.forwarded_in
    with paths.state_lock(files.forwarded_in_lock, timeout=cfg["lock_timeout_s"]):
        box = Outbox(home, name, cfg)
        if _already_taken(taken_log, box, mid):
            return {"id": mid, "taken": False}  # a batch sent again: it is here once already
        if ask:
            _append_question(home, box, name, mid, body, sender, ttl)
        else:
            box.append(body, sender, reply_to, key, ttl, msg_id=mid)
        paths.append_durable(taken_log, (mid + "\n").encode())
        _trim(taken_log)
    return {"id": mid, "taken": True}


def _append_question(home: StrPath, box, name: str, mid: str, body: str, sender, ttl) -> None:
    """A forwarded question: answers.py's question file first (the session's hooks know it as one),
    then its message, framed as a question (a reply is expected)."""
    from termbridge import answers

    answers.take_question(home, name, mid, sender)
    try:
        box.append(body, sender, None, None, ttl, ask=True, msg_id=mid)
    except BaseException:
        answers.drop_question(home, name, mid)
        raise


def _already_taken(taken_log: str, box, mid: str) -> bool:
    data = paths.read_bytes(taken_log) or b""
    if mid.encode() in data.split():
        return True
    # Appended to the outbox but killed before the id was noted: the outbox itself knows it.
    if any(r.get("id") == mid for r in box.queued_records()) or mid in box.delivered_ids():
        return True
    return any(e.get("id") == mid for e in box.dead_letters())


def _trim(path: str) -> None:
    data = paths.read_bytes(path) or b""
    if data.count(b"\n") > 2 * _TAKEN_KEEP:
        paths.atomic_write(path, b"\n".join(data.split(b"\n")[-_TAKEN_KEEP - 1 :]))


def _wake(home: StrPath, names: list[str]) -> None:
    """Each session that took messages gets its idle waiter (started detached: the answer is out)."""
    from termbridge import waiter

    for name in names:
        try:
            waiter.start_waiter(home, name)
        except Exception:  # noqa: BLE001 - the messages are durable; the next hook or focus delivers
            pass


def _receipt(home: StrPath, req: dict, woken: list[str]) -> dict:
    from termbridge import receipts

    mid = validate.token(_str_or_none(req, "id"), "message id")
    if mid is None:
        raise BadInput("receipt needs an id")
    from termbridge import answers

    session = _str_or_none(req, "session")
    if session is not None:
        paths.validate_name(session)
    # A question's receipt says `answered` (with the text) or `blocked` (a dialog), as `receipt` does here.
    return {"receipt": answers.receipt_of(home, mid, receipts.lookup(home, mid, session=session))}


def _status(home: StrPath, req: dict, woken: list[str]) -> dict:
    from termbridge import status

    return {"sessions": status.collect_status(home)}


def _submit(home: StrPath, req: dict, woken: list[str]) -> dict:
    from termbridge import submit as sub
    from termbridge.config import load_config

    name = paths.validate_name(_str_or_none(req, "session") or "")
    enter_only = req.get("enter_only") is True
    no_enter = req.get("no_enter") is True
    gap = req.get("gap_ms")
    if gap is not None:
        if isinstance(gap, bool) or not isinstance(gap, int):
            raise BadInput("--gap-ms must be an integer")
        sub.check_gap(gap)
    text = None
    if enter_only:
        if no_enter or req.get("text") is not None:
            raise BadInput("--enter-only presses Enter alone: give no TEXT and no --no-enter")
    else:
        text = validate.body_text(_str_or_none(req, "text") or "", load_config()["max_body_bytes"])
    res = sub.submit_text(home, name, text, enter=not no_enter, gap_ms=gap, enter_only=enter_only)
    return {"result": res.result, "note": [res.note, res.exit_code] if res.note else None}


def _drain(home: StrPath, req: dict, woken: list[str]) -> dict:
    from termbridge import delivery
    from termbridge.context import SessionContext

    ctx = SessionContext(home, paths.validate_name(_str_or_none(req, "session") or ""))
    if req.get("print") is True or req.get("json") is True:
        ctx.session  # noqa: B018 - an unknown session is an error (exit 3), not an empty queue
        out: list[str] = []
        delivery.drain_print(ctx, out.append, as_json=req.get("json") is True)
        return {"printed": "".join(out)}
    done = delivery.drain_to_target(ctx, force=req.get("force") is True)
    return {"count": done.count, "note": done.note or ""}


_OPS: dict[str, Callable[[StrPath, dict, list[str]], dict]] = {
    "hello": _hello,
    "take": _take,
    "receipt": _receipt,
    "status": _status,
    "submit": _submit,
    "drain": _drain,
}
