"""kitty watcher: when a window gains focus, drain whatever termbridge session it hosts.

Load it globally from kitty.conf (see termbridge.conf): ``watcher termbridge/termbridge_watcher.py``.
kitty prints and ignores a watcher's exceptions, but a slow watcher would freeze kitty,
so this only starts `termbridge drain --pane <window id>` in the background and returns.
The drain itself verifies the window, waits for nothing and never types into a busy
window or over a draft.

Which termbridge runs: $TERMBRIDGE_COMMAND (kitty's own environment, or ``env
TERMBRIDGE_COMMAND=...`` in kitty.conf), else the termbridge installed beside this file
(recorded when kitty loads it: kitty's PATH often lacks ~/.local/bin), else PATH's.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from typing import Any

_children: list[subprocess.Popen] = []


def _installed_beside(path: str) -> str:
    """The termbridge that ships this file: <prefix>/lib/pythonX.Y/site-packages/termbridge/data/kitty
    -> <prefix>/bin/termbridge; a clone's kitty/ -> the clone's .venv (./dev.sh); else ""."""
    here = os.path.dirname(os.path.realpath(path))  # through the link in kitty's config directory
    m = re.fullmatch(r"(.*)/lib/python[^/]*/[^/]*-packages/termbridge/data/kitty", here)
    candidate = (
        os.path.join(m.group(1), "bin", "termbridge")
        if m
        else os.path.join(os.path.dirname(here), ".venv", "bin", "termbridge")
    )
    return candidate if os.path.isfile(candidate) and os.access(candidate, os.X_OK) else ""


try:
    _RECORDED = _installed_beside(__file__)
except NameError:  # no __file__ (kitty runs kittens with exec): the watcher imported by path has one
    _RECORDED = ""


def _kitty_env() -> dict:
    """kitty.conf's `env` settings (for the windows kitty starts; we read them as options)."""
    try:
        from kitty.fast_data_types import get_options

        return dict(get_options().env)
    except Exception:  # noqa: BLE001 - outside kitty, or an older kitty
        return {}


def command() -> list[str]:
    """The termbridge command to run, or [] when none is found."""
    value = os.environ.get("TERMBRIDGE_COMMAND") or _kitty_env().get("TERMBRIDGE_COMMAND")
    if value:
        return shlex.split(value)
    if _RECORDED:
        return [_RECORDED]
    found = shutil.which("termbridge")
    return [found] if found else []


def start_drain(boss: Any, window_id: int) -> str:
    """Start `termbridge drain --pane kitty:<socket>:<id>` in the background and return at once:
    "" when started, else why not (one line)."""
    _children[:] = [c for c in _children if c.poll() is None]  # reap finished drains
    env = dict(os.environ)
    address = getattr(boss, "listening_on", "") or env.get("KITTY_LISTEN_ON", "")
    if not address:
        return "kitty has no remote-control socket: include termbridge/termbridge.conf in kitty.conf"
    cmd = command()
    if not cmd:
        return (
            "termbridge not found: install it (pipx install /path/to/termbridge), "
            "or set env TERMBRIDGE_COMMAND=/path/to/termbridge "
            "in kitty.conf (`termbridge paths command` prints it)"
        )
    env["TERMBRIDGE_KITTY_SOCKET"] = address
    try:
        _children.append(
            subprocess.Popen(
                [*cmd, "drain", "--pane", f"kitty:{address}:{int(window_id)}"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                close_fds=True,
            )
        )
    except OSError as e:
        return f"termbridge: cannot run {shlex.join(cmd)}: {e.strerror or e}"
    return ""


def on_focus_change(boss: Any, window: Any, data: dict) -> None:
    """Drain the newly focused window in the background; never raise into kitty."""
    try:
        if data.get("focused"):
            start_drain(boss, window.id)
    except Exception:  # noqa: BLE001 - a watcher must never break kitty
        pass
