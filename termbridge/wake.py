"""Wake nudges: one fixed line into an idle target when messages wait, debounced across processes."""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING, Literal, get_args

from termbridge import events, paths, registry
from termbridge.config import NUDGE_TEXT, PULL_NUDGE_TEXT
from termbridge.context import SessionContext
from termbridge.errors import BackendError, NoTarget
from termbridge.sanitize import sanitize_text
from termbridge.session_files import SessionFiles

if TYPE_CHECKING:
    from termbridge.paths import StrPath

WakeOutcome = Literal["sent", "skipped_debounced", "skipped_busy", "skipped_no_target", "skipped_empty"]
OUTCOMES: tuple[WakeOutcome, ...] = get_args(WakeOutcome)
# Outcomes a waiter may adopt from an evaluation that finished after it started waiting:
# the state they describe was observed later than the waiter's own request.
_ADOPTABLE = ("skipped_busy", "skipped_no_target")


def _state_path(home: StrPath, name: str) -> str:
    return SessionFiles.of(home, name).wake


def read_state(home: StrPath, name: str) -> dict:
    """The shared wake state: last nudge time, last outcome, when it was evaluated."""
    state = paths.read_json(_state_path(home, name), {})
    # A damaged stamp must never break `wake` (which always exits 0): keep only well-typed fields.
    return {
        k: v
        for k, v in state.items()
        if (
            k in ("last_sent", "last_eval_end")
            and isinstance(v, (int, float))
            and not isinstance(v, bool)
            and math.isfinite(v)
        )
        or (k == "last_outcome" and isinstance(v, str))
    }


SHELL_NUDGE = "termbridge: peer messages wait for {session}. Read them with: termbridge drain {session} --print"


def nudge_text(name: str, cfg: dict) -> str:
    """The fixed nudge: configurable, one line, only the session name filled in -- never peer text."""
    return sanitize_text(cfg["nudge_text"].format(session=name)).replace("\n", " ")


def nudge_line(sess: registry.Session, cfg: dict) -> str:
    """The nudge as typed into SESS: for a shell, made inert in bash, zsh, fish and dash."""
    from termbridge.framing import inert_for_shells

    if sess.is_shell():  # a person at a prompt: say where the messages are, as an inert command
        return inert_for_shells(SHELL_NUDGE.format(session=sess.name))
    if sess.delivery == "pull" and cfg["nudge_text"] == NUDGE_TEXT:  # the default says messages arrive by themselves
        return sanitize_text(PULL_NUDGE_TEXT.format(session=sess.name))
    return nudge_text(sess.name, cfg)


def wake_session(ctx: SessionContext, details: dict | None = None, force: bool = False) -> WakeOutcome:
    """Try one nudge; returns exactly one outcome from OUTCOMES (and logs it; DETAILS gets the why).
    FORCE (`drain --force`) nudges a `working` target too -- never a draft, a dialog, a pane mode."""
    home, name, cfg = ctx.home, ctx.name, ctx.cfg
    sess = ctx.session  # an unknown session fails here, before anything is locked
    asked = time.time()
    paths.ensure_dir(ctx.dir)
    extra: dict = {}
    outcome: WakeOutcome
    # One evaluation at a time per session, machine-wide: the lock makes the debounce exact.
    with paths.state_lock(ctx.files.wake_lock, timeout=cfg["lock_timeout_s"]):
        state = read_state(home, name)
        if state.get("last_eval_end", 0) > asked and state.get("last_outcome") in _ADOPTABLE and not force:
            outcome, extra = state["last_outcome"], {"coalesced": True}
        elif not ctx.outbox.has_pending():
            outcome = "skipped_empty"
        elif (time.time() - state.get("last_sent", 0)) * 1000 < cfg["debounce_ms"]:
            outcome = "skipped_debounced"
        else:
            outcome, extra = _try_nudge(ctx, sess, force)
        state.update(last_outcome=outcome, last_eval_end=time.time())
        if outcome == "sent":
            state["last_sent"] = time.time()
        paths.atomic_write(ctx.files.wake, json.dumps(state).encode())
    events.log_event(home, "wake_outcome", name, outcome=outcome, **extra)
    if details is not None:
        details.update(extra)
    return outcome


def _try_nudge(ctx: SessionContext, sess: registry.Session, force: bool = False) -> tuple[WakeOutcome, dict]:
    from termbridge import targets

    try:
        tgt = targets.resolve_session(ctx.home, sess)
    except NoTarget as e:
        return "skipped_no_target", {"reason": str(e)}
    with ctx.delivery_lock():
        return _nudge_locked(ctx, tgt, force)


def _nudge_locked(ctx: SessionContext, tgt, force: bool = False) -> tuple[WakeOutcome, dict]:
    from termbridge import submit, surface
    from termbridge.errors import TargetBusy

    home, sess, cfg = ctx.home, ctx.session, ctx.cfg

    try:
        s = surface.read_surface(home, sess, tgt, cfg=cfg)
        if s.kind == "ours" and not surface.auto_enter(s.typed):
            return "skipped_busy", {"surface": "ours", "reason": "text `termbridge submit` typed waits in the composer"}
        if s.kind == "ours":  # termbridge's own earlier text: Enter only, never a second paste
            try:
                out, n, _ = submit.enter_over_ours(ctx, tgt, s.typed or {})
            except TargetBusy as e:
                return "skipped_busy", {"surface": "ours", "reason": str(e)}
            return ("sent" if out.confirmed else "skipped_busy"), {
                "target": tgt.target,
                "surface": "ours",
                "confirmed": out.confirmed,
                "messages": n,
            }
        forced = force and s.kind == "working" and not s.reason.startswith("pane is in")
        if s.kind != "idle" and not forced:
            return "skipped_busy", {"surface": s.kind, "reason": s.reason}
        out = submit.type_and_confirm(home, sess, tgt, nudge_line(sess, cfg), [], "nudge", cfg["gap_ms"], cfg)
    except BackendError as e:  # the terminal went away between resolve and typing
        return "skipped_no_target", {"reason": str(e)}
    return "sent", {"target": tgt.target, "confirmed": out.confirmed, "enter_presses": out.enter_presses}
