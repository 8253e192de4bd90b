"""Dialogs that hold messages: since when a session's dialog has held one (for the tmux status
line's `#{termbridge_attention}` and for `top`).

Nobody is told when an agent raises a dialog, so the hold is stamped by whoever reads the
session's surface: `note_surface` with a `dialog` while messages are pending writes
`dialog_hold.json` once (the first sighting is when the hold began, as far as anyone saw),
and anything else -- another surface, nothing pending, the session gone -- removes it.
The file changes only when that state changes: a reader that sees the same thing again
costs one small read. Readers today: `top` on each refresh and `statusline attention`; the
idle waiter, which samples a held session's surface every 0.5 s, would make the stamp exact
to half a second with one call after its sample.
"""

from __future__ import annotations

import json
import math
import os
import time

from termbridge import paths
from termbridge.errors import StateError
from termbridge.session_files import SessionFiles

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath


def hold_path(home: StrPath, name: str) -> str:
    return SessionFiles.of(home, name).dialog_hold


def read_hold(home: StrPath, name: str) -> dict | None:
    """{"since", "reason"} while NAME's dialog holds messages (as last seen), else None."""
    try:
        rec = paths.read_json(hold_path(home, name), {})
    except OSError:
        return None
    since = rec.get("since")
    if isinstance(since, bool) or not isinstance(since, (int, float)) or not math.isfinite(since):
        return None  # missing or damaged: no hold known
    reason = rec.get("reason")
    return {"since": float(since), "reason": reason if isinstance(reason, str) else "dialog"}


def note_surface(
    home: StrPath, name: str, surface: str | None, reason: str, pending: int, now: float | None = None
) -> dict | None:
    """Record what a reader saw of NAME: a dialog with PENDING > 0 starts (or continues) a hold,
    anything else ends it. Returns the hold, or None. Best-effort: a state directory that went
    away or is refused leaves things as they were."""
    held = read_hold(home, name)
    try:
        if surface == "dialog" and pending > 0:
            if held is None:
                held = {"since": round(time.time() if now is None else now, 3), "reason": reason[:200]}
                paths.atomic_write(hold_path(home, name), json.dumps(held, ensure_ascii=False).encode())
            return held
        if held is not None or os.path.lexists(hold_path(home, name)):
            paths.unlink_durable(hold_path(home, name))
    except (OSError, StateError):
        pass
    return None


def held_for(hold: dict | None, now: float | None = None) -> float | None:
    """Seconds the hold has lasted (None when there is none)."""
    if hold is None:
        return None
    return max(0.0, (time.time() if now is None else now) - hold["since"])


def needs_person(hold: dict | None, after_s: float, now: float | None = None) -> bool:
    """The dialog has held messages longer than AFTER_S (the config's `attention_after_s`)."""
    lasted = held_for(hold, now)
    return lasted is not None and lasted > after_s
