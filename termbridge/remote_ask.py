"""`termbridge ask` wherever the session is: NAME here (answers.py), or NAME@HOST on another machine.

`ask NAME@HOST` commits the question to HOST's forward queue here first (durable, like `send
NAME@HOST`; the record says it is a question), and HOST's forwarder takes it on; HOST's rpc
`take` makes it a question of its own exactly once (answers.py's question file and a framed
`ask` message), answered there by the target's own turn-end hook. Here `ask` waits, polling
the receipt through the forward queue (HOST's `receipt` over the shared connection, about once a
second), until HOST says `answered`, and prints the answer. Time up: exit 4 and one line; the
question stays queued here or in flight there, and `receipt ID` shows a later answer -- which
goes to the asking session as a message when there is one (remote_questions.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from termbridge import answers, forward, paths, remote_questions, validate
from termbridge.answers import Asked
from termbridge.errors import BadInput

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath

REMOTE_POLL_S = 1.0  # between two receipt calls to HOST while a question is there
LOCAL_POLL_S = 0.3  # between two looks at the forward queue here while it waits to be forwarded


def ask(
    home: StrPath,
    target: str,
    question: str | bytes,
    sender: str | None = None,
    timeout_s: float = answers.DEFAULT_TIMEOUT_S,
    asker: str | None = None,
    on_id: Callable[[str], None] | None = None,
) -> Asked:
    """Ask TARGET (NAME or NAME@HOST) QUESTION and wait up to TIMEOUT_S for the answer."""
    from termbridge.ssh import split_target

    name, host = split_target(target)
    if host is None:
        return answers.ask(home, name, question, sender, timeout_s, asker=asker, on_id=on_id)
    return ask_remote(home, name, host, question, sender, timeout_s, asker, on_id)


def ask_remote(
    home: StrPath,
    name: str,
    host: str,
    question: str | bytes,
    sender: str | None = None,
    timeout_s: float = answers.DEFAULT_TIMEOUT_S,
    asker: str | None = None,
    on_id: Callable[[str], None] | None = None,
) -> Asked:
    """`ask NAME@HOST`: durable in HOST's forward queue here, then the wait for HOST's answer."""
    from termbridge import ids
    from termbridge.config import load_config

    cfg = load_config()
    paths.validate_name(name)
    validate.token(sender, "--from")
    if not (0 < timeout_s <= 86400):
        raise BadInput("--timeout must be from 0 to 86400 seconds")
    body = validate.body_text(question, cfg["max_body_bytes"])
    target = f"{name}@{host}"
    asker = asker or answers.asker_of(home, sender)
    q = forward.ForwardQueue(home, host)
    qid = ids.new_id()
    if asker:
        answers.reserve_pair(home, asker, target, cfg["ask_pair_limit"], qid)
    mine = {"id": qid, "session": target, "asker": asker, "from": sender or asker}
    remote_questions.write(q.dir, {**mine, "asked_at": round(time.time(), 6), "waiter": remote_questions.me()})
    try:
        forward.send_remote(home, name, host, body, sender or asker, None, None, None, ask=True, msg_id=qid)
    except BaseException:
        remote_questions.remove(q.dir, qid)
        raise
    if on_id is not None:
        on_id(qid)
    try:
        return _wait(home, q, qid, target, asker, timeout_s)
    except BaseException:
        _give_up(home, q, qid, asker)  # interrupted: a later answer goes to the asker
        raise


def _wait(home: StrPath, q: forward.ForwardQueue, qid: str, target: str, asker: str | None, timeout_s: float) -> Asked:
    got = Asked(qid, target)
    deadline = time.monotonic() + timeout_s
    r: dict = {}
    while True:
        r = forward.lookup_receipt(home, qid) or {"state": "queued", "at": {}}
        state = r.get("state")
        if state == "answered" and isinstance(r.get("answer"), str):
            return _answered(got, r)
        if state in ("dead", "expired"):
            remote_questions.close(q.dir, qid, str(r.get("reason") or state))
            got.state, got.at = state, r.get("at", {})
            got.fail(4, f"question {qid} is {state}: {r.get('reason') or 'not delivered'}")
            return got
        now = time.monotonic()
        if now >= deadline:
            break
        pause = REMOTE_POLL_S if state not in ("queued", None) else LOCAL_POLL_S
        time.sleep(max(0.0, min(pause, deadline - now)))
    q2 = _give_up(home, q, qid, asker)
    if q2 is not None and q2.get("answered_at"):  # seen answered just now (a `receipt`): ours, not a late message
        last = forward.lookup_receipt(home, qid, ask=False) or {}
        if isinstance(last.get("answer"), str):
            return _answered(got, last)
    state = r.get("state") or "queued"
    got.state, got.at = state, r.get("at", {})
    why = f"; it waits for its person there: {r.get('reason')}" if state == "blocked" else ""
    where = "; it stays queued here until the host takes it" if state == "queued" else ""
    later = f"; a later answer goes to {asker} as a message" if asker else f"; `termbridge receipt {qid}` shows it"
    got.fail(4, f"no answer from {target} within {timeout_s:g}s: question {qid} is {state}{why}{where}{later}")
    return got


def _give_up(home: StrPath, q: forward.ForwardQueue, qid: str, asker: str | None) -> dict | None:
    """No one waits here any more. Under the queue lock, so HOST's forwarder either sees the question
    as one to look for answers to, or is gone -- and then, with an asker, the next one is started."""
    with q.lock():
        found = remote_questions.release(q.dir, qid)
    if asker and found is not None and not found.get("answered_at"):
        try:
            forward.start_forwarder(home, q.host)
        except OSError:
            pass  # `status`, `receipt ID` or the next send look for the answer then
    return found


def _answered(got: Asked, r: dict) -> Asked:
    got.state, got.answer, got.at = "answered", r.get("answer"), r.get("at", {})
    return got
