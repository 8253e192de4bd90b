"""`send` as one library call: validate, commit durably, make the one delivery attempt, optionally
wait for a receipt. The click command and the hot-path entry both call `send_message` and
print with `report`, so they behave identically."""

from __future__ import annotations

import json
from collections.abc import Callable

from termbridge.outcome import Outcome

TYPE_CHECKING = False  # no `typing` at run time on send's hot path (kinds.py)
if TYPE_CHECKING:  # annotations only: `send`'s start-up imports these when it needs them
    from typing import Literal

    from termbridge.context import SessionContext
    from termbridge.paths import StrPath
    from termbridge.wake import WakeOutcome

UNTIL = ("submitted", "received")
_RANK = {"queued": 0, "submitted": 1, "received": 2}


class Sent(Outcome):
    """What `send` did: the message id, the delivery attempt's outcome, and the waited-for state
    (exit 4 and a note when the wait ran out)."""

    __slots__ = ("id", "session", "wake", "state")

    def __init__(self, id: str, session: str, wake: str | None):
        super().__init__()
        self.id, self.session, self.wake = id, session, wake
        self.state: str | None = None  # set when waited


def send_message(
    home: StrPath,
    name: str,
    message: str | bytes,
    sender: str | None = None,
    reply_to: str | None = None,
    key: str | None = None,
    ttl: float | None = None,
    wake: bool = True,
    wait_s: float | None = None,
    until: str = "submitted",
) -> Sent:
    """Validate everything first (BadInput, nothing written), append fsync'd, then one delivery
    attempt (an outcome, never an error) and, with WAIT_S, wait for UNTIL."""
    from termbridge import validate
    from termbridge.context import SessionContext
    from termbridge.errors import BadInput

    host = None
    if "@" in name:  # NAME@HOST: the local forward queue of HOST (forward.py)
        from termbridge.ssh import split_target

        name, host = split_target(name)
    ctx = SessionContext(home, name)  # validates NAME
    cfg = ctx.cfg
    validate.token(sender, "--from")
    validate.token(reply_to, "--reply-to")
    validate.token(key, "--key")
    if ttl is not None and not (0 < ttl < 10**9):
        raise BadInput("--ttl must be a positive number of seconds")
    if wait_s is not None and not (0 <= wait_s <= 86400):
        raise BadInput("--wait must be from 0 to 86400 seconds")
    if until not in UNTIL:
        raise BadInput(f"--until must be one of {', '.join(UNTIL)}")
    body = validate.body_text(message, cfg["max_body_bytes"])
    if host is not None:
        return _send_remote(home, name, host, body, sender, reply_to, key, ttl, wait_s, until)
    sess = ctx.session
    if wait_s is not None and until == "received":
        require_evidence(home, sess)
    rec = ctx.outbox.append(body, sender, reply_to, key, ttl)
    sent = Sent(rec["id"], name, None)
    if wake:
        sent.wake = attempt_after_send(ctx)
    if wait_s is not None:
        from termbridge.receipts import wait_for_state

        sent.state = wait_for_state(home, rec["id"], until, wait_s, session=name)
        if _RANK.get(sent.state, -1) < _RANK[until]:
            fate = "; it stays queued" if sent.state == "queued" else ""
            sent.fail(4, f"{rec['id']} is {sent.state} after {wait_s:g}s, not {until}{fate}")
    return sent


def attempt_after_send(ctx: SessionContext) -> WakeOutcome | Literal["failed"]:
    """The one delivery attempt `send` makes; an outcome, never an error.

    push: the pending messages are drained, framed, into an idle target ("sent");
    pull and shells: the wake nudge. When the target is not idle (or the Enter could
    not be confirmed), the session's idle waiter is started to deliver once it is.
    """
    from termbridge import events, waiter, wake
    from termbridge.delivery import drain_to_target
    from termbridge.errors import NoTarget, TermbridgeError

    home, name = ctx.home, ctx.name
    outcome: WakeOutcome
    try:
        sess = ctx.session
        if sess.nudge_only():
            outcome = wake.wake_session(ctx)
        else:
            try:
                done = drain_to_target(ctx)
                outcome = "sent" if done.count or done.note else "skipped_empty"
            except NoTarget as e:
                events.log_event(home, "wake_outcome", name, outcome="skipped_no_target", reason=str(e)[:200])
                return "skipped_no_target"
            except TermbridgeError as e:  # busy, typed but unconfirmed, a terminal that failed: the waiter retries
                outcome = "skipped_busy"
                events.log_event(home, "wake_outcome", name, outcome=outcome, reason=str(e)[:200])
            else:
                events.log_event(home, "wake_outcome", name, outcome=outcome, mode="push")
        push = not sess.nudge_only()
        if outcome in ("skipped_busy", "skipped_debounced") or (push and ctx.outbox.has_pending()):
            waiter.start_waiter(home, name)  # e.g. Enter went on earlier text: the rest follows at idle
        return outcome
    except Exception as e:  # noqa: BLE001 - the message is already durable; the attempt is a bonus
        events.log_event(home, "wake_outcome", name, outcome="failed", error=str(e)[:200])
        return "failed"


def _send_remote(home: StrPath, name: str, host: str, body: str, sender, reply_to, key, ttl, wait_s, until) -> Sent:
    """NAME@HOST: durable in HOST's forward queue here (the forwarder takes it on), then, with WAIT_S,
    HOST's receipt reaching UNTIL."""
    import time

    from termbridge import forward

    rec = forward.send_remote(home, name, host, body, sender, reply_to, key, ttl)
    sent = Sent(rec["id"], f"{name}@{host}", "forwarding")
    if wait_s is not None:
        deadline = time.monotonic() + wait_s
        while True:
            r = forward.lookup_receipt(home, rec["id"]) or {}
            sent.state = r.get("state", "queued")
            if _RANK.get(sent.state or "", -1) >= _RANK[until] or sent.state in ("dead", "expired"):
                break
            if time.monotonic() >= deadline:
                fate = "; it stays queued here" if sent.state == "queued" else ""
                sent.fail(4, f"{rec['id']} is {sent.state} after {wait_s:g}s, not {until}{fate}")
                break
            time.sleep(0.5)
    return sent


def require_evidence(home: StrPath, sess) -> None:
    """`received` needs evidence from the session itself: its own record (bound by its hooks or found
    from its PID), or the MCP `inbox` of a pull session. Without either, receipts stop at
    `submitted`: waiting for `received` would only time out, so it is refused at once (exit 2)."""
    from termbridge import record
    from termbridge.errors import BadInput

    if sess.delivery == "pull" or record.bound(home, sess) is not None:
        return
    raise BadInput(
        f"{sess.name} has no record of its own bound (no hooks reported its transcript, none found from pid "
        f"{sess.pid}): receipts stop at submitted; wait with --until submitted, or install its hooks"
    )


def read_body(stream, limit: int) -> bytes:
    """MESSAGE '-': at most LIMIT+1 bytes of stdin (one more than allowed, so oversize is seen)."""
    return stream.read(limit + 1)


def report(sent: Sent, as_json: bool, out: Callable[[str], None], err: Callable[[str], None]) -> int:
    """Print SENT as docs/commands.md says (id, or JSON; the outcome and any note on stderr); the exit code."""
    if as_json:
        row: dict = {"id": sent.id, "session": sent.session, "wake": sent.wake}
        if sent.state is not None:
            row["state"] = sent.state
        out(json.dumps(row, ensure_ascii=False))
    else:
        out(sent.id)
        if sent.wake:
            err(f"termbridge: wake: {sent.wake}")
    return sent.report(err)
