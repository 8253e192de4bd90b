"""Drains: take what is queued for a session and deliver it, exactly once per completed delivery."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from termbridge import framing
from termbridge.outbox import Outbox


def drain_print(
    home: Path,
    name: str,
    write: Callable[[str], None],
    as_json: bool = False,
    flush: Callable[[], None] | None = None,
    via: str = "print",
) -> int:
    """Claim every pending message, write it framed (or as JSON lines), then commit; returns the count.

    If WRITE fails the claim is released untouched, so nothing is lost; if the process
    dies after writing but before committing, the next drain delivers the messages again
    (at-least-once at that one instant, exactly-once once a drain completes).
    """
    with Outbox(home, name).delivering() as d:
        if d is None:
            return 0
        if as_json:
            for r in d.records:
                write(json.dumps(framing.message_json(r), ensure_ascii=False) + "\n")
        else:
            for line in framing.iter_lines(d.records):  # streamed: no copy of the whole text
                write(line + "\n")
        if flush:
            flush()  # out of our buffers before the commit, or a crash could lose committed output
        d.commit(via)
        return len(d.records)


# ---------------------------------------------------------------- into the target
def _backoff_path(home: Path, name: str) -> Path:
    from termbridge.registry import session_dir

    return session_dir(home, name) / "delivery.json"


def read_backoff(home: Path, name: str) -> dict:
    """The session's delivery back-off state ({} when none)."""
    from termbridge import paths

    state = paths.read_json(_backoff_path(home, name), {})
    ok = (
        isinstance(state.get("failures", 0), int)
        and not isinstance(state.get("failures", 0), bool)
        and isinstance(state.get("next_at", 0), (int, float))
        and math.isfinite(state.get("next_at", 0))
    )
    return state if ok else {}  # a damaged back-off file means no back-off, never a crash


def _record_outcome(home: Path, name: str, ok: bool, error: str = "") -> dict:
    import time

    from termbridge import paths
    from termbridge.config import load_config

    if ok:
        state: dict = {}
    else:
        cfg = load_config()
        failures = int(read_backoff(home, name).get("failures", 0)) + 1
        delay = min(cfg["backoff_base_ms"] * 2 ** (failures - 1), cfg["backoff_max_ms"]) / 1000.0
        state = {"failures": failures, "next_at": time.time() + delay, "last_error": error[:300]}
    paths.atomic_write(_backoff_path(home, name), json.dumps(state).encode())
    return state


def _note_failure(home: Path, name: str, target: str, error: Exception, **extra) -> None:
    """Count a failed delivery attempt toward the back-off and log it."""
    from termbridge import events

    st = _record_outcome(home, name, ok=False, error=str(error))
    events.log_event(home, "delivery_failed", name, target=target, error=str(error), failures=st["failures"], **extra)


@dataclass
class Drained:
    """What a drain into the target did: messages delivered, and a note for the person (or '')."""

    count: int
    note: str = ""


def delivery_lock(home: Path, name: str, cfg: dict):
    """Held from reading the surface to confirming the Enter, so two deliveries never interleave keys."""
    from termbridge import paths
    from termbridge.registry import session_dir

    d = paths.ensure_dir(session_dir(home, name))
    return paths.state_lock(d / "deliver.lock", timeout=cfg["lock_timeout_s"])


def drain_to_target(home: Path, name: str, force: bool = False) -> Drained:
    """Submit every pending message, framed, into NAME's verified target as one confirmed submission.

    Only into an idle surface (TargetBusy, exit 4, otherwise: nothing typed, nothing
    claimed); --force overrides `working` only, never a draft, a dialog, a pane mode or
    `unknown`. Termbridge's own unsubmitted text (`ours`) gets Enter only. A message
    counts as delivered only once the submission is confirmed; an unconfirmed one stays
    queued (Unconfirmed, exit 1). A failed one stays queued, the session backs off
    exponentially, and after dead_letter_attempts it is dead-lettered. Shells and `pull`
    sessions get only the fixed nudge: their messages are read with `drain --print`/MCP.
    An agent with its own channel into the running session (termbridge/lanes: Claude Code's
    socket, `codex queue`) gets them through it first, busy or not, its composer untouched;
    a channel that is gone or refuses leaves them to the terminal lane under the rules above.
    """
    import time

    from termbridge import registry, surface
    from termbridge.config import load_config
    from termbridge.errors import TargetBusy

    cfg = load_config()
    sess = registry.require_alive(registry.lookup(home, name))
    if sess.nudge_only():
        return _nudge_instead(home, sess, force and not sess.is_shell())  # a shell's command never gets keys
    box = Outbox(home, name, cfg)
    typed = surface.read_typed(home, name)
    if not box.has_pending() and typed is None:
        return Drained(0)
    backoff = read_backoff(home, name)
    wait = backoff.get("next_at", 0) - time.time()
    if wait > 0 and not force:
        raise TargetBusy(
            f"{name}: backing off after {backoff.get('failures')} failed deliveries; "
            f"next attempt in {wait:.0f}s (or --force)"
        )
    with delivery_lock(home, name, cfg):
        return _drain_locked(home, sess, box, backoff, force, cfg)


def _drain_locked(home: Path, sess, box: Outbox, backoff: dict, force: bool, cfg: dict) -> Drained:
    from termbridge import events, submit, surface, targets
    from termbridge.errors import BackendError, TargetBusy

    name = sess.name
    typed = surface.read_typed(home, name)
    if typed is None:  # (termbridge's own text in the composer is settled by the terminal lane)
        from termbridge import lanes

        if lanes.wanted(sess):  # the agent's own channel first: nothing typed, the composer untouched
            settle_received(home, name, box)
            sent = lanes.deliver(home, sess, box, cfg)
            if sent is not None:
                if backoff and sent:
                    _record_outcome(home, name, ok=True)
                return Drained(sent)
    tgt = targets.resolve_session(home, sess)
    try:
        s = surface.read_surface(home, sess, tgt, sample=True, cfg=cfg)
    except BackendError as e:  # the terminal stopped answering: a failed delivery attempt
        _note_failure(home, name, tgt.target, e)
        raise
    if s.kind == "ours" and not surface.auto_enter(s.typed):
        events.log_event(home, "drain_deferred", name, target=tgt.target, surface=s.kind, reason="staged text")
        raise TargetBusy(
            f"{name} is busy (ours: text `termbridge submit` typed waits in the composer; press Enter on it with "
            "`submit --enter-only` or clear it); messages stay queued"
        )
    if s.kind == "ours":
        out, n, dead = submit.enter_over_ours(home, sess, tgt, s.typed or {}, cfg)
        if not out.confirmed:
            raise unconfirmed(home, sess, tgt.target, dead, out.enter_presses)
        return Drained(n, "pressed Enter on termbridge's own unsubmitted text")
    if typed is not None and s.kind in ("idle", "working"):
        _settle_vanished(home, name, typed, box)
    settle_received(home, name, box)
    if not box.has_pending():
        return Drained(0)
    forced = force and s.kind == "working" and not s.reason.startswith("pane is in")
    if s.kind != "idle" and not forced:
        events.log_event(home, "drain_deferred", name, target=tgt.target, surface=s.kind, reason=s.reason)
        raise TargetBusy(f"{name} is busy ({s.kind}: {s.reason}); messages stay queued")
    with box.delivering() as d:
        if d is None:
            return Drained(0)
        text = framing.render_messages(d.records)
        submit.check_canonical(sess, tgt, text)  # refused: released untouched, no attempt counted
        left = enter_presses_left(d.records, cfg)
        try:
            out = submit.type_and_confirm(
                home, sess, tgt, text, d.ids, "messages", cfg["gap_ms"], cfg, max_presses=left
            )
        except Exception as e:
            dead = d.release(str(e))
            _note_failure(home, name, tgt.target, e, dead_lettered=dead)
            fate = (
                f"{len(dead)} dead-lettered after repeated failures, the rest stay queued"
                if dead
                else "messages stay queued"
            )
            raise BackendError(f"delivery to {tgt.target} failed ({e}); {fate}") from None
        if not out.confirmed:
            dead = d.release("typed but not submitted", count_attempt=False, enter_presses=out.enter_presses)
            raise unconfirmed(home, sess, tgt.target, dead, out.enter_presses)
        d.commit(out.confirmed)
        count = len(d.records)
    if backoff:
        _record_outcome(home, name, ok=True)
    events.log_event(
        home,
        "submit",
        name,
        backend=tgt.backend,
        target=tgt.target,
        chars=len(text),
        messages=count,
        confirmed=out.confirmed,
        enter_presses=out.enter_presses,
    )
    return Drained(count)


def enter_presses_left(records: list[dict], cfg: dict) -> int:
    """How many more Enter presses these messages may get (max_enter_presses in all, per message)."""
    used = max((int(r.get("enter_presses") or 0) for r in records), default=0)
    return max(1, cfg["max_enter_presses"] - used)


def unconfirmed(home: Path, sess, target: str, dead: list[str], presses: int) -> Exception:
    """A delivery whose Enter was not confirmed (its messages went back to the queue with the
    presses they got, DEAD those past max_enter_presses): the session backs off as after any failed
    delivery; the error to raise."""
    from termbridge import submit, surface

    what = submit.not_submitted(sess.name)
    _note_failure(home, sess.name, target, submit.Unconfirmed(what), enter_presses=presses, dead_lettered=dead)
    if dead:
        # The text stays in the composer for the person to see (a draft from now on): nothing
        # presses Enter on it again.
        surface.forget_typed(home, sess.name)
        return submit.Unconfirmed(
            f"{what}; the agent never accepted Enter: {len(dead)} message(s) dead-lettered "
            "(see `termbridge dead-letter`), the text is left in the composer"
        )
    return submit.Unconfirmed(what + "; its messages stay queued (the next drain presses Enter only)")


def settle_received(home: Path, name: str, box: Outbox) -> None:
    """Queued messages that the session's own evidence shows it received already (a delivery that was
    released after its text reached the agent) are delivered: no drain or hand-over sends them again."""
    from termbridge import receipts

    again = [r["id"] for r in box.pending_records() if r.get("last_error")]  # only released ones can be
    _commit_received(box, receipts.received_ids(home, name, again) if again else set())


def _commit_received(box: Outbox, got: set[str]) -> None:
    """Count GOT (shown received by the session's own evidence) delivered: never sent again."""
    if got:
        with box.delivering(only=got) as d:
            if d is not None:
                d.commit("record")


def _nudge_instead(home: Path, sess, force: bool = False) -> Drained:
    """Shells and pull sessions never get peer text typed: a drain gives them the wake nudge
    (debounced like every nudge, so focus drains do not repeat it), and the messages stay
    queued for `drain --print` or MCP `inbox`."""
    from termbridge import wake
    from termbridge.errors import NoTarget, TargetBusy

    why: dict = {}
    outcome = wake.wake_session(home, sess.name, why, force=force)
    what = "shell" if sess.is_shell() else "pull session"
    how = "drain --print" if sess.is_shell() else "MCP inbox or drain --print"
    if outcome == "skipped_busy":
        reason = f"{why['surface']}: {why['reason']}" if "surface" in why else why.get("reason", "busy")
        raise TargetBusy(f"{sess.name} is busy ({reason}); messages stay queued")
    if outcome == "skipped_no_target":
        raise NoTarget(f"{sess.name}: {why.get('reason', 'no verified target')}")
    if outcome == "sent":
        return Drained(0, f"{sess.name} is a {what}: nudged; its messages stay queued for {how}")
    if outcome == "skipped_debounced":
        return Drained(0, f"{sess.name} is a {what}: nudged moments ago; its messages stay queued for {how}")
    return Drained(0)


def _settle_vanished(home: Path, name: str, typed: dict, box: Outbox) -> None:
    """Termbridge's unconfirmed text left the composer after all (submitted late, or cleared by a
    person). Messages the session's own record shows it received are counted delivered, not sent
    twice; the rest stay queued and are delivered again (never lost)."""
    from termbridge import receipts, surface

    ids = [i for i in typed.get("ids") or [] if isinstance(i, str)]
    _commit_received(box, receipts.received_ids(home, name, ids) if ids else set())
    surface.forget_typed(home, name)


def session_for_target(home: Path, spec: str) -> str | None:
    """The registered session whose verified target is SPEC ('%3', 'tmux:%3', 'kitty:…:7', 'pty:NAME'), if any."""
    from termbridge import targets

    return targets.session_at(home, spec)  # a bare %N is a pane of the caller's own tmux server


# ---------------------------------------------------------------- after `send`
def attempt_after_send(home: Path, name: str) -> str:
    """The one delivery attempt `send` makes; an outcome, never an error.

    push: the pending messages are drained, framed, into an idle target ("sent");
    pull and shells: the wake nudge. When the target is not idle (or the Enter could
    not be confirmed), the session's idle waiter is started to deliver once it is.
    """
    from termbridge import events, registry, waiter, wake
    from termbridge.errors import NoTarget, TermbridgeError

    try:
        sess = registry.lookup(home, name)
        if sess.nudge_only():
            outcome = wake.wake_session(home, name)
        else:
            try:
                done = drain_to_target(home, name)
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
        if outcome in ("skipped_busy", "skipped_debounced") or (push and Outbox(home, name).has_pending()):
            waiter.start_waiter(home, name)  # e.g. Enter went on earlier text: the rest follows at idle
        return outcome
    except Exception as e:  # noqa: BLE001 - the message is already durable; the attempt is a bonus
        events.log_event(home, "wake_outcome", name, outcome="failed", error=str(e)[:200])
        return "failed"
