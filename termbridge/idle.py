"""Agent hooks' idle/busy marks (`termbridge mark`, the hooks): one signal the surface reader weighs.

The judgement of a target as a whole lives in surface.py; a fresh `busy` mark makes an
otherwise idle-looking screen `working` (unknown counts as busy, never as idle) -- but it is a
hint, not a verdict: an interrupt (Esc) runs no Stop hook, so a mark can outlive its turn.
When the screen reads idle (empty composer, no busy marker) in samples at least
SCREEN_IDLE_S apart, with the same content and nothing else read in between, the mark is
overruled: a small per-session stamp ("the screen read idle under mark T since S") lets
repeated reads (the idle waiter's, `status`) reach that verdict without sleeping.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from termbridge import paths, registry
from termbridge.session_files import SessionFiles

if TYPE_CHECKING:
    from termbridge.paths import StrPath


def mark_path(home: StrPath, name: str) -> str:
    return SessionFiles.of(home, name).mark


def set_mark(home: StrPath, name: str, state: str) -> None:
    """Record an agent hook's idle/busy report (time-stamped)."""
    paths.ensure_dir(registry.session_dir(home, name))
    paths.atomic_write(mark_path(home, name), json.dumps({"state": state, "t": time.time()}).encode())


def read_mark(home: StrPath, name: str) -> dict | None:
    """The latest mark ({"state", "t"}) or None when there is none or it is malformed."""
    m = paths.read_json(mark_path(home, name))
    if not isinstance(m, dict) or m.get("state") not in ("idle", "busy") or not isinstance(m.get("t"), (int, float)):
        return None
    return m


def busy_mark(home: StrPath, name: str, cfg: Mapping[str, Any]) -> str | None:
    """A reason if the latest hook mark says busy, is not stale, and the screen has not overruled it."""
    m = fresh_busy_mark(home, name, cfg)
    return busy_reason(m) if m else None


def fresh_busy_mark(home: StrPath, name: str, cfg: Mapping[str, Any]) -> dict | None:
    """The latest mark if it says busy, is younger than busy_mark_stale_s and was not overruled."""
    m = read_mark(home, name)
    if not m or m["state"] != "busy" or time.time() - float(m["t"]) >= cfg["busy_mark_stale_s"]:
        return None
    st = read_screen_idle(home, name)
    if st and st["mark_t"] == m["t"] and st.get("overruled"):
        return None
    return m


def busy_reason(mark: dict) -> str:
    return f"agent hook marked busy {max(time.time() - float(mark['t']), 0):.0f}s ago"


# ---------------------------------------------------------------- the screen overrules a busy mark
SCREEN_IDLE_S = 1.0  # docs/surfaces.md: two idle samples at least one second apart


def screen_idle_path(home: StrPath, name: str) -> str:
    return SessionFiles.of(home, name).screen_idle


def read_screen_idle(home: StrPath, name: str) -> dict | None:
    """The stamp {"mark_t", "since", "screen", "overruled"} or None when there is none or it is malformed."""
    st = paths.read_json(screen_idle_path(home, name))
    if not isinstance(st, dict) or not all(isinstance(st.get(k), (int, float)) for k in ("mark_t", "since")):
        return None
    return st


def screen_idle_under(home: StrPath, name: str, mark: dict, screen: str) -> float:
    """The screen (its content key SCREEN) reads idle while busy MARK holds: how long it has read
    so (0.0 when this read starts the count). At SCREEN_IDLE_S or more the mark is overruled for
    good: its turn ended without a Stop hook (an interrupt), and the next turn brings a new mark."""
    now = time.time()
    st = read_screen_idle(home, name)
    if st and st["mark_t"] == mark["t"] and st.get("screen") == screen:
        held = now - float(st["since"])
        if held >= SCREEN_IDLE_S and not st.get("overruled"):
            paths.atomic_write(screen_idle_path(home, name), json.dumps(dict(st, overruled=now)).encode())
        return max(held, 0.0)
    paths.ensure_dir(registry.session_dir(home, name))
    stamp = {"mark_t": mark["t"], "since": now, "screen": screen}
    paths.atomic_write(screen_idle_path(home, name), json.dumps(stamp).encode())
    return 0.0


def screen_not_idle(home: StrPath, name: str) -> None:
    """The screen read anything but idle: an idle count under a busy mark starts over (an
    overruled mark stays overruled)."""
    path = screen_idle_path(home, name)
    if not os.path.lexists(path):
        return
    st = read_screen_idle(home, name)
    if st is None or not st.get("overruled"):
        paths.unlink_durable(path)
