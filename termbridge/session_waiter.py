"""The per-session idle waiter: one detached process per session that delivers as soon as the target goes idle.

Sessions on a tmux server or in a kitty are waited for by that terminal's watcher (watcher.py);
this waiter serves the others -- the PTY wrapper, a terminal of its own -- and is what waiting was before 0.3
(bench/scale.py compares the two). waiter.py starts it (at most one per session: it holds
`waiter.lock` for its whole life) when a message could not be delivered at once. It watches the surface with one cheap
screen sample per poll, and when that sample reads idle it runs the ordinary delivery
(push: a confirmed drain; pull and shells: the wake nudge), which re-resolves the target
and takes its own two samples -- so it never types into a draft, a dialog or `unknown`,
and honours the back-off and dead-lettering like any drain. It exits when nothing is
pending, the session is gone, or after `idle_wait_max_s`. A waiter killed at any instant
loses nothing: messages stay in the outbox, whose claims already make every delivery
exactly-once, and the next `send`, hook or focus carries on.
"""

from __future__ import annotations

import json
import os
import sys
import time

from termbridge import background, events, paths, proctree
from termbridge.context import SessionContext
from termbridge.session_files import SessionFiles

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath

POLL_S = 0.5  # one screen sample per poll: well under 1% of a core while waiting
RESOLVE_EVERY_S = 5.0  # re-verify the target at least this often (and before every delivery)


def _files(home: StrPath, name: str) -> SessionFiles:
    return SessionFiles.of(home, name)


def live_waiter(home: StrPath, name: str) -> dict | None:
    """{"pid", "since"} of NAME's running waiter, or None."""
    info = background.live(_files(home, name).waiter)
    return {"pid": info["pid"], "since": info.get("since")} if info else None


def start_waiter(home: StrPath, name: str) -> bool:
    """Start NAME's waiter, detached, unless one runs; True when one was started."""
    if live_waiter(home, name):
        return False
    background.spawn(home, ["-m", "termbridge.session_waiter", name])
    return True


def run_waiter(home: StrPath, name: str) -> str:
    """Wait for NAME's target to go idle and deliver; returns why it stopped."""
    ctx = SessionContext(home, name)
    files = ctx.files
    paths.ensure_dir(files.dir)
    lock = paths.state_lock(files.waiter_lock, timeout=0.05)
    try:
        lock.acquire()
    except Exception:  # noqa: BLE001 - another waiter holds it: that one does the job
        return "another waiter runs"
    me = os.getpid()
    try:
        paths.atomic_write(
            files.waiter, json.dumps({"pid": me, "start": proctree.start_time(me), "since": time.time()}).encode()
        )
        events.log_event(home, "waiter_started", name, pid=me)
        reason = "crashed"
        try:
            reason = _wait_and_deliver(ctx)
        finally:
            paths.unlink_durable(files.waiter)
            events.log_event(home, "waiter_exit", name, pid=me, reason=reason)
        return reason
    finally:
        lock.release()


def _wait_and_deliver(ctx: SessionContext) -> str:
    from termbridge import idle_delivery, surface, targets
    from termbridge.errors import NoTarget, TermbridgeError

    home, cfg = ctx.home, ctx.cfg
    since = time.time()
    tgt, resolved_at = None, 0.0
    while True:
        why = idle_delivery.ended(ctx, since)  # every poll: it may have been unregistered or re-registered meanwhile
        if why:
            return why
        wait = idle_delivery.backing_off(ctx)
        if wait > 0:
            time.sleep(min(wait, 5.0))
            continue
        try:
            if tgt is None or time.monotonic() - resolved_at > RESOLVE_EVERY_S:
                tgt, resolved_at = targets.resolve_session(home, ctx.session, log_failure=False), time.monotonic()
            s = surface.read_surface(home, ctx.session, tgt, sample=False, cfg=cfg)  # one cheap sample per poll
            if s.kind in ("idle", "ours") and idle_delivery.deliver(ctx) == "nudged":
                return idle_delivery.NUDGED
        except NoTarget:
            tgt = None
        except TermbridgeError:
            tgt = None  # busy, unconfirmed, a terminal that stopped answering: look again
        time.sleep(POLL_S)


def main(argv: list[str] | None = None) -> int:
    """`python -m termbridge.session_waiter NAME` (what start_waiter runs, detached)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        return 2
    run_waiter(paths.state_home(), args[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
