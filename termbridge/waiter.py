"""Waiting for idle: who waits for a session whose message could not be delivered at once.

A session on a tmux server is marked and waited for by that server's watcher (watcher.py:
one process per server, however many sessions wait there); any other (a kitty window, the
PTY wrapper) by its own idle waiter (session_waiter.py), as before 0.3. Both deliver the
same way (idle_delivery.py), and both are shown by `status` as the session's `waiter`.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath


def server_of(home: StrPath, name: str) -> str | None:
    """The tmux server NAME was registered from, when one answers on its socket; else None."""
    from termbridge import registry, tmux_cmd
    from termbridge.errors import TermbridgeError

    try:
        sock = registry.lookup(home, name).tmux_socket
    except TermbridgeError:
        return None
    return os.path.abspath(sock) if sock and tmux_cmd.answers(sock) else None


def live_waiter(home: StrPath, name: str) -> dict | None:
    """What waits for NAME to go idle, or None: {"pid", "since"}, and "server" (the tmux socket)
    when that is its server's watcher."""
    from termbridge import session_waiter, watcher

    m = watcher.read_mark(home, name)
    if m is not None:
        w = watcher.live_watcher(home, m["server"])
        if w is not None:
            return {"pid": w["pid"], "since": m["since"], "server": m["server"]}
    return session_waiter.live_waiter(home, name)


def start_waiter(home: StrPath, name: str) -> bool:
    """Have NAME waited for: marked for its tmux server's watcher (started unless it runs), else its
    own waiter (started unless one runs); True when a process was started."""
    from termbridge import session_waiter, watcher

    sock = server_of(home, name)
    if sock is None or session_waiter.live_waiter(home, name):  # (a watcher handed it over: it is elsewhere)
        return session_waiter.start_waiter(home, name)
    watcher.mark(home, name, sock)  # before looking for the watcher: one that is leaving looks again
    return watcher.start_watcher(home, sock)


def run_waiter(home: StrPath, name: str) -> str:
    """`termbridge waiter NAME`, in the foreground: NAME marked and its server's watcher run here
    (at once back when one runs), else NAME's own waiter; returns why it stopped."""
    from termbridge import watcher

    sock = server_of(home, name)
    if sock is None:
        from termbridge import session_waiter

        return session_waiter.run_waiter(home, name)
    watcher.mark(home, name, sock)
    return watcher.run_watcher(home, sock)
