"""Terminal-level submit: sanitized text as one paste, Enter as its own key after a gap, and then
proof: the surface is read again, and only text that left the composer counts as submitted."""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from termbridge import events, outcome, proctree, registry, targets
from termbridge.backends import Target
from termbridge.context import SessionContext
from termbridge.errors import BadInput, TargetBusy
from termbridge.sanitize import sanitize_text

if TYPE_CHECKING:
    from termbridge.paths import StrPath

CANONICAL_LINE_MAX = 4000  # the kernel's line discipline cuts canonical input at 4095 bytes
GAP_MS_MAX = 10000


def check_gap(gap_ms: Any) -> int:
    """GAP_MS if it is an integer in 0..10000, else BadInput -- checked before anything is typed."""
    if isinstance(gap_ms, bool) or not isinstance(gap_ms, int) or not 0 <= gap_ms <= GAP_MS_MAX:
        raise BadInput(f"--gap-ms must be an integer from 0 to {GAP_MS_MAX}")
    return gap_ms


def check_canonical(sess: registry.Session, tgt: Target, text: str) -> None:
    """Refuse a line the target's canonical-mode terminal would silently truncate."""
    longest = max((len(line.encode("utf-8")) for line in text.split("\n")), default=0)
    if longest <= CANONICAL_LINE_MAX:
        return
    tty = target_tty(sess, tgt)
    if tty and proctree.is_canonical(tty):
        raise BadInput(
            f"a line of {longest} bytes is over {CANONICAL_LINE_MAX} and {tgt.target} is in canonical (line) mode, "
            "where the kernel would cut it; split the text"
        )


def target_tty(sess: registry.Session, tgt: Target) -> str | None:
    """The terminal device the agent reads from (its stdin), else the pane's tty."""
    return proctree.tty_of(sess.pid) or tgt.info.get("tty")


def wait_input_drained(tty: str | None, settle: float = 0.03, timeout: float = 10.0) -> None:
    """Wait until the app has read everything typed so far (the tty input queue stays empty).

    A large paste reaches a slow raw-mode TUI over many reads; an Enter sent a fixed
    time after *our* last write can still arrive inside its paste burst. The gap is
    therefore counted from when the queue drained, i.e. from the app's last read.
    """
    if not tty:
        return
    try:
        fd = os.open(tty, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return
    try:
        deadline = time.monotonic() + timeout
        empty_since = None
        while time.monotonic() < deadline:
            try:
                waiting = struct.unpack("i", fcntl.ioctl(fd, termios.TIOCINQ, b"\0\0\0\0"))[0]
            except OSError:
                return
            now = time.monotonic()
            if waiting:
                empty_since = None
            elif empty_since is None:
                empty_since = now
            elif now - empty_since >= settle:
                return
            time.sleep(0.01)
    finally:
        os.close(fd)


def deliver_text(
    tgt: Target, text: str, enter: bool, gap_ms: int, tty: str | None = None, env: Mapping[str, str] | None = None
) -> None:
    """Type already-sanitized TEXT as one paste, then Enter as its own key GAP_MS after the app read it."""
    if text:
        targets.backend_module(tgt.backend).type_text(tgt, text, env=env)
    if enter:
        enter_after_gap(tgt, gap_ms if text else None, tty, env)


def enter_after_gap(tgt: Target, gap_ms: int | None, tty: str | None, env: Mapping[str, str] | None = None) -> float:
    """Press Enter as its own key, GAP_MS after the app read what was typed (None: at once); its time."""
    if gap_ms is not None:
        wait_input_drained(tty)
        time.sleep(gap_ms / 1000.0)  # raw-mode TUIs drop an Enter that follows a paste burst too closely
    pressed = time.time()
    targets.backend_module(tgt.backend).press_enter(tgt, env=env)
    return pressed


# ---------------------------------------------------------------- confirmation
@dataclass
class Confirmation:
    """What one submission achieved: confirmed by "screen", "hook" or not at all (None)."""

    confirmed: str | None
    enter_presses: int
    after: str  # the surface seen last ("" when confirmed by a hook)
    reason: str = ""
    observable: bool = True  # False when the target shows no composer or prompt to confirm by


def confirm(
    home: StrPath,
    sess: registry.Session,
    tgt: Target,
    typed: dict,
    cfg: Mapping[str, Any],
    enter_at: float,
    presses: int = 1,
    env: Mapping[str, str] | None = None,
    observable: bool = True,
    max_presses: int | None = None,
) -> Confirmation:
    """After Enter: watch the surface until the typed text left the composer (or a hook says the
    prompt arrived); while it is still there, press Enter only again, a bounded number of times
    (confirm_retries, and never past MAX_PRESSES in all). A `working` screen counts the
    submission: no Enter ever goes into a working agent.

    OBSERVABLE: the target showed a composer or prompt before typing, so a screen on which
    it is gone means the text left it; otherwise an unreadable screen proves nothing."""
    from termbridge import idle, surface

    spec = surface.kind_spec(sess.kind, cfg)
    composer = bool(spec.get("composer"))
    # An agent's screen with no composer in sight proves nothing (a tall paste scrolled it away, a
    # redraw): keep looking. A prompt-driven program's prompt line going away means it ran the line.
    unsure = ("ours", "unknown") if composer else ("ours",)
    backend = targets.backend_module(tgt.backend)
    retries, wait = cfg.get("confirm_retries", 3), cfg.get("confirm_wait_ms", 400) / 1000.0
    if max_presses is not None:
        retries = max(0, min(retries, max_presses - presses))
    s = None
    for attempt in range(retries + 1):
        deadline = time.monotonic() + wait * (attempt + 1)  # a short back-off between Enter-only retries
        while True:
            time.sleep(0.04)
            m = idle.read_mark(home, sess.name)
            if m and m["state"] == "busy" and m["t"] >= enter_at:
                return Confirmation("hook", presses, "", "the agent's prompt hook saw the submission")
            s = surface.judge_screen(surface.screen_of(tgt, env), spec, typed, sess.is_shell(), 0)
            if s.kind not in unsure or time.monotonic() >= deadline:
                break
        if s.kind in ("idle", "working", "dialog") or (s.kind == "unknown" and observable and not composer):
            return Confirmation("screen", presses, s.kind, f"the text left the composer ({s.reason})")
        if s.kind == "unknown" and composer:
            # Never an Enter into a screen we cannot read: it could be a dialog's.
            return Confirmation(None, presses, s.kind, s.reason)
        if s.kind != "ours":
            return Confirmation(None, presses, s.kind, s.reason, observable=s.kind != "unknown")
        if attempt < retries:
            backend.press_enter(tgt, env=env)  # Enter only: never a second paste
            presses += 1
            enter_at = time.time()
            events.log_event(home, "enter_retry", sess.name, target=tgt.target, enter_presses=presses)
    return Confirmation(None, presses, "ours", s.reason if s else "")


def type_and_confirm(
    home: StrPath,
    sess: registry.Session,
    tgt: Target,
    text: str,
    ids: list[str],
    what: str,
    gap_ms: int,
    cfg: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    observable: bool = True,
    max_presses: int | None = None,
) -> Confirmation:
    """Type TEXT (remembered first as ours), press Enter after the gap, and confirm."""
    from termbridge import surface

    surface.remember_typed(home, sess.name, tgt.target, text, ids, what)
    try:
        deliver_text(tgt, text, False, gap_ms, env=env)
    except BaseException:
        surface.forget_typed(home, sess.name)  # nothing (or not all) reached the composer
        raise
    enter_at = enter_after_gap(tgt, gap_ms, target_tty(sess, tgt), env)
    typed = surface.read_typed(home, sess.name) or {"text": text}
    return finish(home, sess, tgt, typed, cfg, enter_at, 1, env, observable, max_presses)


def finish(
    home: StrPath,
    sess: registry.Session,
    tgt: Target,
    typed: dict,
    cfg: Mapping[str, Any],
    enter_at: float,
    presses: int,
    env: Mapping[str, str] | None = None,
    observable: bool = True,
    max_presses: int | None = None,
) -> Confirmation:
    """Confirm, log the outcome, and forget the typed text once it is submitted."""
    from termbridge import surface

    out = confirm(home, sess, tgt, typed, cfg, enter_at, presses, env, observable, max_presses)
    if out.confirmed:
        surface.forget_typed(home, sess.name)
        events.log_event(
            home, "confirmed", sess.name, target=tgt.target, via=out.confirmed, enter_presses=out.enter_presses
        )
    else:
        events.log_event(
            home,
            "unconfirmed",
            sess.name,
            target=tgt.target,
            enter_presses=out.enter_presses,
            surface=out.after,
            reason=out.reason,
        )
    return out


def enter_over_ours(
    ctx: SessionContext, tgt: Target, typed: dict, env: Mapping[str, str] | None = None
) -> tuple[Confirmation, int, list[str]]:
    """Termbridge's own unsubmitted text is in the composer: press Enter only, and confirm.

    When that text was a drain's framed messages, their ids are claimed first (so no
    other drain hands them over meanwhile) and committed once the Enter is confirmed;
    unconfirmed, they go back to the queue with the presses they got (dead-lettered past
    max_enter_presses). Returns the outcome, how many messages that delivered, and the ids
    dead-lettered.
    """
    home, sess, cfg = ctx.home, ctx.session, ctx.cfg
    ids = typed.get("ids") or []
    with ctx.outbox.delivering(only=ids) if ids else nullcontext() as d:
        if ids and d is None:
            raise TargetBusy(
                f"{sess.name}: termbridge's earlier text is in the composer, but its messages were "
                "delivered another way meanwhile; submit or clear it yourself. Nothing typed"
            )
        used = max((int(r.get("enter_presses") or 0) for r in d.records), default=0) if d is not None else 0
        enter_at = enter_after_gap(tgt, None, None, env)
        out = finish(home, sess, tgt, typed, cfg, enter_at, 1, env, max_presses=max(1, cfg["max_enter_presses"] - used))
        if d is None:
            return out, 0, []
        if not out.confirmed:
            dead = d.release("typed but not submitted", count_attempt=False, enter_presses=out.enter_presses)
            return out, 0, dead
        d.commit(out.confirmed)
        return out, len(d.records), []


def not_submitted(name: str) -> str:
    return f"typed but not submitted: the text is in {name}'s composer"


# ---------------------------------------------------------------- `termbridge submit`
class Submitted(outcome.Outcome):
    """What `submit` did: `submit --json`'s object (`result`); exit 1 and a note when the Enter could
    not be confirmed (exit 0, with a note, when the screen shows nothing to confirm it by)."""

    __slots__ = ("result",)

    def __init__(self, result: dict):
        super().__init__()
        self.result = result


def submit_text(
    home: StrPath,
    name: str,
    text: str | None,
    enter: bool = True,
    gap_ms: int | None = None,
    env: Mapping[str, str] | None = None,
    enter_only: bool = False,
) -> Submitted:
    """Type TEXT into NAME's verified target and press Enter; confirm it left the composer.

    Direct: no wait for idle, but never into a draft, a dialog, a pane mode, or over
    termbridge's own unsubmitted text (ENTER_ONLY presses Enter only, and only over that).
    Its `result` is `submit --json`'s object (docs/commands.md); "submitted" is true only when confirmed.
    """
    ctx = SessionContext(home, name)
    cfg = ctx.cfg
    gap = check_gap(cfg["gap_ms"] if gap_ms is None else gap_ms)
    if enter_only and text:
        raise BadInput("--enter-only presses Enter alone: give no TEXT")
    clean = sanitize_text(text or "")
    if not enter_only and not clean.strip():
        raise BadInput("nothing printable is left of TEXT after removing control characters")
    if enter:
        clean = clean.rstrip("\n")  # a trailing newline would only add an empty line before the submit
    sess = ctx.session
    if sess.is_shell() and not enter_only:
        raise BadInput(
            f"{name} is a shell: it never receives peer text (read messages with: termbridge drain {name} --print)"
        )
    tgt = targets.resolve_session(home, sess, env)
    if not enter_only:
        check_canonical(sess, tgt, clean)
    with ctx.delivery_lock():
        return _submit_locked(ctx, tgt, clean, enter, gap, env, enter_only)


def _submit_locked(
    ctx: SessionContext,
    tgt: Target,
    clean: str,
    enter: bool,
    gap: int,
    env: Mapping[str, str] | None,
    enter_only: bool,
) -> Submitted:
    from termbridge import surface

    home, name, sess, cfg = ctx.home, ctx.name, ctx.session, ctx.cfg
    s = surface.read_surface(home, sess, tgt, sample=False, cfg=cfg, env=env)
    row = {"session": name, "backend": tgt.backend, "target": tgt.target}
    if enter_only:
        if s.kind != "ours":
            raise TargetBusy(
                f"{name}: {s.kind} ({s.reason}); --enter-only presses Enter only over "
                "termbridge's own unsubmitted text, nothing typed"
            )
        out, _, _ = enter_over_ours(ctx, tgt, s.typed or {}, env)
        chars = 0
    else:
        # An agent whose composer is out of sight is typed into blind: it could be showing a dialog.
        blind = s.kind == "unknown" and bool(surface.kind_spec(sess.kind, cfg).get("composer"))
        if (
            blind
            or s.kind in ("draft", "dialog", "ours")
            or (s.kind == "working" and s.reason.startswith("pane is in"))
        ):
            events.log_event(home, "submit_refused", name, target=tgt.target, surface=s.kind, reason=s.reason)
            raise TargetBusy(f"{name} is busy ({s.kind}: {s.reason}); nothing typed")
        if not enter:
            surface.remember_typed(home, name, tgt.target, clean, [], "text")
            deliver_text(tgt, clean, False, gap, env=env)
            events.log_event(
                home, "submit", name, backend=tgt.backend, target=tgt.target, chars=len(clean), enter=False
            )
            return Submitted({**row, "chars": len(clean), "submitted": False, "confirmed": None, "enter_presses": 0})
        out = type_and_confirm(home, sess, tgt, clean, [], "text", gap, cfg, env, observable=s.kind != "unknown")
        chars = len(clean)
    events.log_event(
        home,
        "submit",
        name,
        backend=tgt.backend,
        target=tgt.target,
        chars=chars,
        enter=True,
        confirmed=out.confirmed,
        enter_presses=out.enter_presses,
    )
    res = Submitted(
        {
            **row,
            "chars": chars,
            "submitted": bool(out.confirmed),
            "confirmed": out.confirmed,
            "enter_presses": out.enter_presses,
        }
    )
    if not out.confirmed:  # one line, and exit 1 unless nothing could be observed
        if out.observable:
            res.fail(1, not_submitted(name))
        else:
            res.tell(f"{name}: Enter pressed; the screen shows no composer or prompt to confirm the submission by")
    return res
