"""The idle waiter: one detached process per session that delivers as soon as the target goes idle.

`send` starts it (at most one per session: it holds `waiter.lock` for its whole life)
when a message could not be delivered at once. It watches the surface with one cheap
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
import subprocess
import sys
import time
from pathlib import Path

from termbridge import events, paths, proctree
from termbridge.context import SessionContext
from termbridge.session_files import SessionFiles

POLL_S = 0.5  # one screen sample per poll: well under 1% of a core while waiting
RESOLVE_EVERY_S = 5.0  # re-verify the target at least this often (and before every delivery)


def _files(home: Path, name: str) -> SessionFiles:
    return SessionFiles.of(home, name)


def live_waiter(home: Path, name: str) -> dict | None:
    """{"pid", "since"} of NAME's running waiter, or None."""
    info = paths.read_json(_files(home, name).waiter)
    if not isinstance(info, dict) or not isinstance(info.get("pid"), int):
        return None
    if not proctree.is_alive(info["pid"], info.get("start")):
        return None
    return {"pid": info["pid"], "since": info.get("since")}


def start_waiter(home: Path, name: str) -> bool:
    """Start NAME's waiter, detached, unless one runs; True when one was started."""
    if live_waiter(home, name):
        return False
    env = dict(os.environ, TERMBRIDGE_HOME=str(home))
    subprocess.Popen(
        [sys.executable, "-m", "termbridge", "waiter", name],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        env=env,
        cwd="/",
    )
    return True


def run_waiter(home: Path, name: str) -> str:
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
    from termbridge import surface, targets
    from termbridge.errors import NoTarget, TermbridgeError, UnknownSession

    home, name, cfg, box = ctx.home, ctx.name, ctx.cfg, ctx.outbox
    deadline = time.monotonic() + cfg["idle_wait_max_s"]
    tgt, resolved_at = None, 0.0
    while True:
        try:
            sess = ctx.refresh()  # every poll: it may have been unregistered or re-registered meanwhile
        except UnknownSession:
            return "session unregistered"
        if not sess.alive():
            return "session died"
        # A push session's own unsubmitted text still needs its Enter (a drain gives it, or settles it).
        if not box.has_pending() and (sess.nudge_only() or surface.read_typed(home, name) is None):
            return "nothing pending"
        if time.monotonic() > deadline:
            return f"gave up after idle_wait_max_s ({cfg['idle_wait_max_s']} s)"
        wait = ctx.read_backoff().get("next_at", 0) - time.time()
        if wait > 0:
            time.sleep(min(wait, 5.0))
            continue
        try:
            if tgt is None or time.monotonic() - resolved_at > RESOLVE_EVERY_S:
                tgt, resolved_at = targets.resolve_session(home, sess, log_failure=False), time.monotonic()
            s = surface.read_surface(home, sess, tgt, sample=False, cfg=cfg)  # one cheap sample per poll
            if s.kind in ("idle", "ours") and _deliver(ctx) == "nudged":
                return "nudged (pull): the agent fetches its messages"
        except NoTarget:
            tgt = None
        except TermbridgeError:
            tgt = None  # busy, unconfirmed, a terminal that stopped answering: look again
        time.sleep(POLL_S)


def _deliver(ctx: SessionContext) -> str:
    """One delivery attempt by the session's mode; 'nudged' when a pull session was told."""
    if ctx.session.nudge_only():
        from termbridge.wake import wake_session

        return "nudged" if wake_session(ctx) == "sent" else "waiting"
    from termbridge.delivery import drain_to_target

    drain_to_target(ctx)
    return "delivered"
