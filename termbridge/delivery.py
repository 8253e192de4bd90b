"""Drains: take what is queued for a session and deliver it, exactly once per completed delivery."""

from __future__ import annotations

import json
from collections.abc import Callable

from termbridge import framing
from termbridge.context import SessionContext
from termbridge.outbox import Outbox
from termbridge.outcome import Outcome

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath


def drain_print(
    ctx: SessionContext,
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
    with ctx.outbox.delivering() as d:
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
def _note_failure(ctx: SessionContext, target: str, error: Exception, **extra) -> None:
    """Count a failed delivery attempt toward the back-off and log it."""
    from termbridge import events

    st = ctx.record_outcome(ok=False, error=str(error))
    events.log_event(
        ctx.home, "delivery_failed", ctx.name, target=target, error=str(error), failures=st["failures"], **extra
    )


class Drained(Outcome):
    """What a drain into the target did: messages delivered, and a note for the person (exit 0;
    a drain that could not deliver raises instead: TargetBusy, exit 4)."""

    __slots__ = ("count",)

    def __init__(self, count: int, note: str | None = None):
        super().__init__(note)
        self.count = count


def drain_to_target(ctx: SessionContext, force: bool = False) -> Drained:
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
    from termbridge.errors import TargetBusy

    home, name = ctx.home, ctx.name
    sess = registry.require_alive(ctx.session)
    if sess.nudge_only():
        return _nudge_instead(ctx, force and not sess.is_shell())  # a shell's command never gets keys
    box = ctx.outbox
    typed = surface.read_typed(home, name)
    if not box.has_pending() and typed is None:
        return Drained(0)
    backoff = ctx.read_backoff()
    wait = backoff.get("next_at", 0) - time.time()
    if wait > 0 and not force:
        raise TargetBusy(
            f"{name}: backing off after {backoff.get('failures')} failed deliveries; "
            f"next attempt in {wait:.0f}s (or --force)"
        )
    with ctx.delivery_lock():
        return _drain_locked(ctx, backoff, force)


def _drain_locked(ctx: SessionContext, backoff: dict, force: bool) -> Drained:
    from termbridge import events, submit, surface, targets
    from termbridge.errors import BackendError, TargetBusy

    home, name, sess, box, cfg = ctx.home, ctx.name, ctx.session, ctx.outbox, ctx.cfg
    typed = surface.read_typed(home, name)
    if typed is None:  # (termbridge's own text in the composer is settled by the terminal lane)
        from termbridge import lanes

        if lanes.wanted(sess):  # the agent's own channel first: nothing typed, the composer untouched
            settle_received(ctx)
            sent = lanes.deliver(home, sess, box, cfg)
            if sent is not None:
                if backoff and sent:
                    ctx.record_outcome(ok=True)
                return Drained(sent)
    tgt = targets.resolve_session(home, sess)
    try:
        s = surface.read_surface(home, sess, tgt, sample=True, cfg=cfg)
    except BackendError as e:  # the terminal stopped answering: a failed delivery attempt
        _note_failure(ctx, tgt.target, e)
        raise
    if s.kind == "ours" and not surface.auto_enter(s.typed):
        events.log_event(home, "drain_deferred", name, target=tgt.target, surface=s.kind, reason="staged text")
        raise TargetBusy(
            f"{name} is busy (ours: text `termbridge submit` typed waits in the composer; press Enter on it with "
            "`submit --enter-only` or clear it); messages stay queued"
        )
    if s.kind == "ours":
        out, n, dead = submit.enter_over_ours(ctx, tgt, s.typed or {})
        if not out.confirmed:
            raise unconfirmed(ctx, tgt.target, dead, out.enter_presses)
        return Drained(n, "pressed Enter on termbridge's own unsubmitted text")
    if typed is not None and s.kind in ("idle", "working"):
        _settle_vanished(ctx, typed)
    settle_received(ctx)
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
            _note_failure(ctx, tgt.target, e, dead_lettered=dead)
            fate = (
                f"{len(dead)} dead-lettered after repeated failures, the rest stay queued"
                if dead
                else "messages stay queued"
            )
            raise BackendError(f"delivery to {tgt.target} failed ({e}); {fate}") from None
        if not out.confirmed:
            dead = d.release("typed but not submitted", count_attempt=False, enter_presses=out.enter_presses)
            raise unconfirmed(ctx, tgt.target, dead, out.enter_presses)
        d.commit(out.confirmed)
        count = len(d.records)
    if backoff:
        ctx.record_outcome(ok=True)
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


def unconfirmed(ctx: SessionContext, target: str, dead: list[str], presses: int) -> Exception:
    """A delivery whose Enter was not confirmed (its messages went back to the queue with the
    presses they got, DEAD those past max_enter_presses): the session backs off as after any failed
    delivery; the error to raise."""
    from termbridge import submit, surface
    from termbridge.errors import Unconfirmed

    what = submit.not_submitted(ctx.name)
    _note_failure(ctx, target, Unconfirmed(what), enter_presses=presses, dead_lettered=dead)
    if dead:
        # The text stays in the composer for the person to see (a draft from now on): nothing
        # presses Enter on it again.
        surface.forget_typed(ctx.home, ctx.name)
        return Unconfirmed(
            f"{what}; the agent never accepted Enter: {len(dead)} message(s) dead-lettered "
            "(see `termbridge dead-letter`), the text is left in the composer"
        )
    return Unconfirmed(what + "; its messages stay queued (the next drain presses Enter only)")


def settle_received(ctx: SessionContext, box: Outbox | None = None) -> None:
    """Queued messages that the session's own evidence shows it received already (a delivery that was
    released after its text reached the agent) are delivered: no drain or hand-over sends them again."""
    from termbridge import receipts

    box = ctx.outbox if box is None else box
    again = [r["id"] for r in box.pending_records() if r.get("last_error")]  # only released ones can be
    _commit_held(box, receipts.held_ids(ctx.home, ctx.name, again) if again else set())


def _commit_held(box: Outbox, got: set[str]) -> None:
    """Count GOT (held by the agent, by its own evidence) delivered, `submitted`: never sent again."""
    if got:
        with box.delivering(only=got) as d:
            if d is not None:
                d.commit("record")


def _nudge_instead(ctx: SessionContext, force: bool = False) -> Drained:
    """Shells and pull sessions never get peer text typed: a drain gives them the wake nudge
    (debounced like every nudge, so focus drains do not repeat it), and the messages stay
    queued for `drain --print` or MCP `inbox`."""
    from termbridge import wake
    from termbridge.errors import NoTarget, TargetBusy

    sess = ctx.session
    why: dict = {}
    outcome = wake.wake_session(ctx, why, force=force)
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


def _settle_vanished(ctx: SessionContext, typed: dict) -> None:
    """Termbridge's unconfirmed text left the composer after all (submitted late, or cleared by a
    person). Messages the session's own record shows it received are counted delivered, not sent
    twice; the rest stay queued and are delivered again (never lost)."""
    from termbridge import receipts, surface

    ids = [i for i in typed.get("ids") or [] if isinstance(i, str)]
    _commit_held(ctx.outbox, receipts.held_ids(ctx.home, ctx.name, ids) if ids else set())
    surface.forget_typed(ctx.home, ctx.name)


def session_for_target(home: StrPath, spec: str) -> str | None:
    """The registered session whose verified target is SPEC ('%3', 'tmux:%3', 'kitty:…:7', 'pty:NAME'), if any."""
    from termbridge import targets

    return targets.session_at(home, spec)  # a bare %N is a pane of the caller's own tmux server
