"""Terminal-level submit: sanitized text as one paste, then Enter as its own key after a gap."""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import time
from pathlib import Path
from typing import Mapping

from termbridge import events, proctree, registry, targets
from termbridge.backends import Target
from termbridge.config import load_config
from termbridge.errors import BadInput
from termbridge.sanitize import sanitize_text

CANONICAL_LINE_MAX = 4000  # the kernel's line discipline cuts canonical input at 4095 bytes


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


def deliver_text(tgt: Target, text: str, enter: bool, gap_ms: int, tty: str | None = None,
                 env: Mapping[str, str] | None = None) -> None:
    """Type already-sanitized TEXT as one paste, then Enter as its own key GAP_MS after the app read it."""
    backend = targets.backend_module(tgt.backend)
    if text:
        backend.type_text(tgt, text, env=env)
    if enter:
        if text:
            wait_input_drained(tty)
            time.sleep(gap_ms / 1000.0)  # raw-mode TUIs drop an Enter that follows a paste burst too closely
        backend.press_enter(tgt, env=env)


def submit_text(home: Path, name: str, text: str | None, enter: bool = True, gap_ms: int | None = None,
                env: Mapping[str, str] | None = None) -> dict:
    """Type TEXT into NAME's verified target and (unless ENTER is False) press Enter."""
    cfg = load_config()
    gap = cfg["gap_ms"] if gap_ms is None else gap_ms
    if gap < 0:
        raise BadInput("--gap-ms must be >= 0")
    clean = sanitize_text(text or "")
    if text and not clean.strip():
        raise BadInput("nothing printable is left of TEXT after removing control characters")
    if enter:
        clean = clean.rstrip("\n")  # a trailing newline would only add an empty line before the submit
    sess = registry.lookup(home, name)
    tgt = targets.resolve_session(home, sess, env)
    check_canonical(sess, tgt, clean)
    if clean or enter:
        deliver_text(tgt, clean, enter, gap, target_tty(sess, tgt), env)
    events.log_event(home, "submit", name, backend=tgt.backend, target=tgt.target, chars=len(clean), enter=enter)
    return {"session": name, "backend": tgt.backend, "target": tgt.target, "chars": len(clean), "submitted": enter}
