"""What waiting for idle ends in, whoever waits (the tmux server watcher, a per-session waiter).

`ended` says why a session needs no more waiting (nothing pending, gone, dead, out of time);
`deliver` is the one delivery attempt made once its target reads idle: push sessions get a
confirmed drain (which re-resolves the target and takes its own two samples, so it never types
into a draft, a dialog or `unknown`, and honours the back-off and dead-lettering like any
drain); pull sessions and shells get the wake nudge.
"""

from __future__ import annotations

import time

from termbridge.context import SessionContext


def ended(ctx: SessionContext, since: float) -> str | None:
    """Why NAME needs no more waiting (re-reading its registry entry), or None while it does.

    SINCE: when the wait began (time.time()), against `idle_wait_max_s`."""
    from termbridge import surface
    from termbridge.errors import UnknownSession

    try:
        sess = ctx.refresh()  # it may have been unregistered or re-registered meanwhile
    except UnknownSession:
        return "session unregistered"
    if not sess.alive():
        return "session died"
    # A push session's own unsubmitted text still needs its Enter (a drain gives it, or settles it).
    if not ctx.outbox.has_pending() and (sess.nudge_only() or surface.read_typed(ctx.home, ctx.name) is None):
        return "nothing pending"
    limit = ctx.cfg["idle_wait_max_s"]
    if time.time() - since > limit:
        return f"gave up after idle_wait_max_s ({limit} s)"
    return None


def backing_off(ctx: SessionContext) -> float:
    """Seconds until the session's delivery back-off lets a delivery try again (0: now)."""
    return max(ctx.read_backoff().get("next_at", 0) - time.time(), 0.0)


def deliver(ctx: SessionContext) -> str:
    """One delivery attempt by the session's mode; 'nudged' when a pull session was told."""
    if ctx.session.nudge_only():
        from termbridge.wake import wake_session

        return "nudged" if wake_session(ctx) == "sent" else "waiting"
    from termbridge.delivery import drain_to_target

    drain_to_target(ctx)
    return "delivered"


NUDGED = "nudged (pull): the agent fetches its messages"
