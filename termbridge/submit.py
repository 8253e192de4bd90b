"""Terminal-level submit: sanitized text as one paste, then Enter as its own key after a gap."""

from __future__ import annotations

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
    tty = proctree.tty_of(sess.pid) or tgt.info.get("tty")
    if tty and proctree.is_canonical(tty):
        raise BadInput(
            f"a line of {longest} bytes is over {CANONICAL_LINE_MAX} and {tgt.target} is in canonical (line) mode, "
            "where the kernel would cut it; split the text"
        )


def deliver_text(tgt: Target, text: str, enter: bool, gap_ms: int, env: Mapping[str, str] | None = None) -> None:
    """Hand already-sanitized TEXT to the target's backend."""
    targets.backend_module(tgt.backend).submit(tgt, text, enter, gap_ms / 1000.0, env=env)


def submit_text(home: Path, name: str, text: str | None, enter: bool = True, gap_ms: int | None = None,
                env: Mapping[str, str] | None = None) -> dict:
    """Type TEXT into NAME's verified target and (unless ENTER is False) press Enter."""
    cfg = load_config()
    gap = cfg["gap_ms"] if gap_ms is None else gap_ms
    if gap < 0:
        raise BadInput("--gap-ms must be >= 0")
    clean = sanitize_text(text or "")
    if enter:
        clean = clean.rstrip("\n")  # a trailing newline would only add an empty line before the submit
    sess = registry.lookup(home, name)
    try:
        tgt = targets.resolve_session(home, sess, env)
    except Exception as e:
        events.log_event(home, "resolve_failed", name, error=str(e))
        raise
    check_canonical(sess, tgt, clean)
    if clean or enter:
        deliver_text(tgt, clean, enter, gap, env)
    events.log_event(home, "submit", name, backend=tgt.backend, target=tgt.target, chars=len(clean), enter=enter)
    return {"session": name, "backend": tgt.backend, "target": tgt.target, "chars": len(clean), "submitted": enter}
