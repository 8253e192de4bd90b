"""Drains: take what is queued for a session and deliver it, exactly once per completed delivery."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from termbridge import framing
from termbridge.outbox import Outbox


def drain_print(home: Path, name: str, write: Callable[[str], None], as_json: bool = False,
                flush: Callable[[], None] | None = None, via: str = "print") -> int:
    """Claim every pending message, write it framed (or as JSON lines), then commit; returns the count.

    If WRITE fails the claim is released untouched, so nothing is lost; if the process
    dies after writing but before committing, the next drain delivers the messages again
    (at-least-once at that one instant, exactly-once once a drain completes).
    """
    box = Outbox(home, name)
    claim = box.claim()
    if claim is None:
        return 0
    try:
        if as_json:
            for r in claim.records:
                write(json.dumps(framing.message_json(r), ensure_ascii=False) + "\n")
        else:
            for line in framing.iter_lines(claim.records):  # streamed: no copy of the whole text
                write(line + "\n")
        if flush:
            flush()  # out of our buffers before the commit, or a crash could lose committed output
    except BaseException:
        box.release(claim, "output failed", count_attempt=False)
        raise
    box.commit(claim, via=via)
    return len(claim.records)


# ---------------------------------------------------------------- into the target
def _backoff_path(home: Path, name: str) -> Path:
    from termbridge.registry import session_dir

    return session_dir(home, name) / "delivery.json"


def read_backoff(home: Path, name: str) -> dict:
    """The session's delivery back-off state ({} when none)."""
    from termbridge import paths

    return paths.read_json(_backoff_path(home, name), {})


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


def drain_to_target(home: Path, name: str, force: bool = False) -> int:
    """Submit every pending message, framed, into NAME's verified target as one submission.

    Only when the target is idle (TargetBusy, exit 4, otherwise -- nothing typed, nothing
    claimed); --force skips the idle check but never the draft check. A message counts as
    delivered only after its submission went through; a failed one stays queued, the
    session backs off exponentially, and after dead_letter_attempts it is dead-lettered.
    """
    import time

    from termbridge import events, idle, registry, submit, targets
    from termbridge.config import load_config
    from termbridge.errors import BackendError, TargetBusy

    cfg = load_config()
    sess = registry.require_alive(registry.lookup(home, name))
    box = Outbox(home, name, cfg)
    if not box.has_pending():
        return 0
    backoff = read_backoff(home, name)
    wait = backoff.get("next_at", 0) - time.time()
    if wait > 0 and not force:
        raise TargetBusy(f"{name}: backing off after {backoff.get('failures')} failed deliveries; "
                         f"next attempt in {wait:.0f}s (or --force)")
    tgt = targets.resolve_session(home, sess)
    try:
        verdict = idle.judge(home, sess, tgt, draft_only=force, cfg=cfg)
    except BackendError as e:  # the terminal stopped answering: a failed delivery attempt
        _note_failure(home, name, tgt.target, e)
        raise
    if not verdict.idle:
        events.log_event(home, "drain_deferred", name, target=tgt.target, reason=verdict.reason)
        raise TargetBusy(f"{name} is busy ({verdict.reason}); messages stay queued")
    claim = box.claim()
    if claim is None:
        return 0
    text = framing.for_kind(framing.render_messages(claim.records), sess.kind)
    try:
        submit.check_canonical(sess, tgt, text)
    except Exception:
        box.release(claim, "refused by the target's terminal mode", count_attempt=False)
        raise
    try:
        submit.deliver_text(tgt, text, True, cfg["gap_ms"], submit.target_tty(sess, tgt))
    except Exception as e:
        dead = box.release(claim, str(e))
        _note_failure(home, name, tgt.target, e, dead_lettered=dead)
        fate = f"{len(dead)} dead-lettered after repeated failures, the rest stay queued" if dead else "messages stay queued"
        raise BackendError(f"delivery to {tgt.target} failed ({e}); {fate}") from None
    box.commit(claim)
    if backoff:
        _record_outcome(home, name, ok=True)
    events.log_event(home, "submit", name, backend=tgt.backend, target=tgt.target, chars=len(text),
                     messages=len(claim.records))
    return len(claim.records)


def session_for_target(home: Path, spec: str) -> str | None:
    """The registered session whose verified target is SPEC ('%3', 'tmux:%3', 'kitty:…:7', 'pty:NAME'), if any."""
    from termbridge import registry, targets
    from termbridge.errors import NoTarget

    want = targets.normalize_target(spec)
    hosts = targets.all_hosts(home)
    for sess in registry.all_sessions(home):
        if not sess.alive():
            continue
        try:
            tgt = targets.nearest_host(sess.pid, hosts)
        except NoTarget:
            continue
        if tgt.target == want:
            return sess.name
    return None
