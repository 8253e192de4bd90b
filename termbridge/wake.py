"""Wake nudges: one fixed line into an idle target when messages wait, debounced across processes."""

from __future__ import annotations

import json
import time
from pathlib import Path

from termbridge import events, paths, registry
from termbridge.config import load_config
from termbridge.errors import BackendError, NoTarget
from termbridge.outbox import Outbox
from termbridge.sanitize import sanitize_text

OUTCOMES = ("sent", "skipped_debounced", "skipped_busy", "skipped_no_target", "skipped_empty")
# Outcomes a waiter may adopt from an evaluation that finished after it started waiting:
# the state they describe was observed later than the waiter's own request.
_ADOPTABLE = ("skipped_busy", "skipped_no_target")


def _state_path(home: Path, name: str) -> Path:
    return registry.session_dir(home, name) / "wake.json"


def read_state(home: Path, name: str) -> dict:
    """The shared wake state: last nudge time, last outcome, when it was evaluated."""
    return paths.read_json(_state_path(home, name), {})


def nudge_text(name: str, cfg: dict) -> str:
    """The fixed nudge: configurable, one line, only the session name filled in -- never peer text."""
    return sanitize_text(cfg["nudge_text"].format(session=name)).replace("\n", " ")


def wake_session(home: Path, name: str) -> str:
    """Try one nudge; returns exactly one outcome from OUTCOMES (and logs it)."""
    cfg = load_config()
    sess = registry.lookup(home, name)
    asked = time.time()
    d = paths.ensure_dir(registry.session_dir(home, name))
    extra: dict = {}
    # One evaluation at a time per session, machine-wide: the lock makes the debounce exact.
    with paths.state_lock(d / "wake.lock", timeout=cfg["lock_timeout_s"]):
        state = read_state(home, name)
        outcome = None
        if state.get("last_eval_end", 0) > asked and state.get("last_outcome") in _ADOPTABLE:
            outcome, extra = state["last_outcome"], {"coalesced": True}
        elif not Outbox(home, name, cfg).has_pending():
            outcome = "skipped_empty"
        elif (time.time() - state.get("last_sent", 0)) * 1000 < cfg["debounce_ms"]:
            outcome = "skipped_debounced"
        else:
            outcome, extra = _try_nudge(home, sess, cfg)
        state.update(last_outcome=outcome, last_eval_end=time.time())
        if outcome == "sent":
            state["last_sent"] = time.time()
        paths.atomic_write(_state_path(home, name), json.dumps(state).encode())
    events.log_event(home, "wake_outcome", name, outcome=outcome, **extra)
    return outcome


def _try_nudge(home: Path, sess: registry.Session, cfg: dict) -> tuple[str, dict]:
    from termbridge import idle, submit, targets

    try:
        tgt = targets.resolve_session(home, sess)
    except NoTarget as e:
        return "skipped_no_target", {"reason": str(e)}
    try:
        verdict = idle.judge(home, sess, tgt, cfg=cfg)
        if not verdict.idle:
            return "skipped_busy", {"reason": verdict.reason}
        from termbridge.framing import for_kind

        submit.deliver_text(tgt, for_kind(nudge_text(sess.name, cfg), sess.kind), True, cfg["gap_ms"], submit.target_tty(sess, tgt))
    except BackendError as e:  # the terminal went away between resolve and typing
        return "skipped_no_target", {"reason": str(e)}
    return "sent", {"target": tgt.target}
