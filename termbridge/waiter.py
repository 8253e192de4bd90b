"""Waiting for idle: who waits for a session whose message could not be delivered at once.

A session on a tmux server, or in a kitty, is marked and waited for by that terminal's watcher
(watcher.py: one process per tmux server or kitty, however many sessions wait there); any other
(the PTY wrapper, a terminal of its own) by its own idle waiter (session_waiter.py), as before
0.3. Both deliver the same way (idle_delivery.py), and both are shown by `status` as the
session's `waiter`.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath


def server_of(home: StrPath, name: str) -> str | None:
    """The key of the watcher for NAME: the tmux server it was registered from, when one answers
    on its socket; else the kitty it was registered from (`kitty:<address>`); else None. A
    watcher that finds the session elsewhere hands it over."""
    from termbridge import registry, tmux_cmd, watcher
    from termbridge.errors import TermbridgeError

    try:
        sess = registry.lookup(home, name)
    except TermbridgeError:
        return None
    if sess.tmux_socket and tmux_cmd.answers(sess.tmux_socket):
        return os.path.abspath(sess.tmux_socket)
    if sess.kitty_socket:
        from termbridge.kitty_rc import parse_address

        try:
            parse_address(sess.kitty_socket)
        except TermbridgeError:
            return None  # no kitty can listen there: its own waiter finds where it is
        return watcher.kitty_key(sess.kitty_socket)
    return None


def live_waiter(home: StrPath, name: str) -> dict | None:
    """What waits for NAME to go idle, or None: {"pid", "since"}, and "server" (the tmux socket, or
    kitty:<address>) when that is its terminal's watcher."""
    from termbridge import session_waiter, watcher

    m = watcher.read_mark(home, name)
    if m is not None:
        w = watcher.live_watcher(home, m["server"])
        if w is not None:
            return {"pid": w["pid"], "since": m["since"], "server": m["server"]}
    return session_waiter.live_waiter(home, name)


def start_waiter(home: StrPath, name: str) -> bool:
    """Have NAME waited for: marked for its tmux server's or kitty's watcher (started unless it runs),
    else its own waiter (started unless one runs); True when a process was started."""
    from termbridge import session_waiter, watcher

    m = watcher.read_mark(home, name)
    if m is not None and watcher.live_watcher(home, m["server"]):
        return False  # already waited for there (a watcher it was handed to, maybe not its registered one)
    sock = server_of(home, name)
    if sock is None or session_waiter.live_waiter(home, name):  # (a watcher handed it over: it is elsewhere)
        return session_waiter.start_waiter(home, name)
    watcher.mark(home, name, sock)  # before looking for the watcher: one that is leaving looks again
    return watcher.start_watcher(home, sock)


def run_waiter(home: StrPath, name: str) -> str:
    """`termbridge waiter NAME`, in the foreground: NAME marked and its terminal's watcher run here
    (at once back when one runs), else NAME's own waiter; returns why it stopped."""
    from termbridge import watcher

    sock = server_of(home, name)
    if sock is None:
        from termbridge import session_waiter

        return session_waiter.run_waiter(home, name)
    watcher.mark(home, name, sock)
    return watcher.run_watcher(home, sock)
