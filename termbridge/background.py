"""The detached helpers termbridge starts and finds again: the tmux watcher (watcher.py), the kitty /
wrapper waiter (session_waiter.py) and the per-host forwarder (forward.py).

Each runs as `python -m …` in a session of its own (no terminal, no inherited descriptors, cwd
`/`), with TERMBRIDGE_HOME set, and names itself in an info file (`{"pid", "start", "since", …}`)
while it holds its lock; a helper is live only while that PID runs with that start time (a PID
reused by another process is not it).
"""

from __future__ import annotations

import os
import subprocess
import sys

from termbridge import paths, proctree

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath


def live(info_path: StrPath) -> dict | None:
    """The info file at INFO_PATH when the helper it names still runs, else None."""
    info = paths.read_json(info_path)
    if not isinstance(info, dict) or not isinstance(info.get("pid"), int):
        return None
    if not proctree.is_alive(info["pid"], info.get("start")):
        return None
    return info


def spawn(home: StrPath, args: list[str]) -> None:
    """Start `python ARGS` detached, for the state home HOME."""
    subprocess.Popen(
        [sys.executable, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        env=dict(os.environ, TERMBRIDGE_HOME=str(home)),
        cwd="/",
    )
