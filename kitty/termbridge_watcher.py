"""kitty watcher: when a window gains focus, drain whatever termbridge session it hosts.

Load it globally from kitty.conf (see termbridge.conf): ``watcher termbridge_watcher.py``.
kitty prints and ignores a watcher's exceptions, but a slow watcher would freeze kitty,
so this only starts `termbridge drain --pane <window id>` in the background and returns.
The drain itself verifies the window, waits for nothing and never types into a busy
window or over a draft.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import Any

_children: list[subprocess.Popen] = []


def _command() -> list[str]:
    return shlex.split(os.environ.get("TERMBRIDGE_COMMAND", "termbridge"))


def start_drain(boss: Any, window_id: int) -> None:
    """Start `termbridge drain --pane kitty:<socket>:<id>` in the background and return at once."""
    _children[:] = [c for c in _children if c.poll() is None]  # reap finished drains
    env = dict(os.environ)
    address = getattr(boss, "listening_on", "") or env.get("KITTY_LISTEN_ON", "")
    if not address:
        return  # no remote-control socket: termbridge could not reach kitty anyway
    env["TERMBRIDGE_KITTY_SOCKET"] = address
    _children.append(subprocess.Popen(
        [*_command(), "drain", "--pane", f"kitty:{address}:{int(window_id)}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=env, start_new_session=True, close_fds=True,
    ))


def on_focus_change(boss: Any, window: Any, data: dict) -> None:
    """Drain the newly focused window in the background; never raise into kitty."""
    try:
        if data.get("focused"):
            start_drain(boss, window.id)
    except Exception:  # noqa: BLE001 - a watcher must never break kitty
        pass
