"""Every pane of one tmux server in one tmux process: the listing and the screens.

The server watcher (watcher.py) polls a whole server with one `list-panes -a` and reads the
screens of many panes with one more tmux process; `status` reads the screens of every session
on a server the same way. One tmux process per server, however many sessions it hosts.
"""

from __future__ import annotations

from dataclasses import dataclass

from termbridge.backends import Screen, Target
from termbridge.errors import TmuxError
from termbridge.tmux_cmd import SEP, no_server, run_tmux

# What a pane shows changes only when one of these does (the cursor moves, lines scroll into
# the history, the window sees output, a mode starts or ends); the watcher reads a screen only then.
_FIELDS = [
    "#{pane_id}",
    "#{pane_pid}",
    "#{pane_tty}",
    "#{pane_dead}",
    "#{session_name}",
    "#{pid}",
    "#{pane_in_mode}",
    "#{pane_mode}",
    "#{cursor_x}",
    "#{cursor_y}",
    "#{cursor_character}",
    "#{history_size}",
    "#{window_activity}",
    "#{alternate_on}",
]
_MARK = f"{SEP}termbridge-screen{SEP}"


@dataclass
class Pane:
    """One live pane: its target (as the tmux backend lists it) and the signature of what it shows."""

    target: Target
    mode: str | None  # the pane's mode ("copy-mode"...), None when in none
    signature: tuple[str, ...]

    @property
    def pane_id(self) -> str:
        return str(self.target.info["pane"])


def list_panes(socket: str, timeout: float = 5.0) -> dict[int, Pane] | None:
    """pane_pid -> Pane for every live pane of the server at SOCKET; None when no server runs there."""
    try:
        out = run_tmux(
            "list-panes", "-a", "-F", SEP.join(_FIELDS), env={"TERMBRIDGE_TMUX_SOCKET": socket}, timeout=timeout
        )
    except TmuxError as e:
        if no_server(e):
            return None
        raise
    panes: dict[int, Pane] = {}
    for line in out.splitlines():
        parts = line.split(SEP)
        if len(parts) != len(_FIELDS) or not parts[0].startswith("%") or not parts[1].isdigit() or parts[3] == "1":
            continue
        info = {
            "pane": parts[0],
            "tty": parts[2],
            "tmux_session": parts[4],
            "socket": socket,
            "server_pid": int(parts[5]) if parts[5].isdigit() else None,
        }
        tgt = Target("tmux", f"tmux:{parts[0]}", int(parts[1]), info)
        mode = (parts[7] or "copy-mode") if parts[6] == "1" else None
        panes[int(parts[1])] = Pane(tgt, mode, tuple(parts[6:]))
    return panes


def screens(socket: str, pane_ids: list[str], styled: bool = True, timeout: float = 5.0) -> dict[str, Screen]:
    """pane id -> Screen for each of PANE_IDS, all read by one tmux process (as the tmux backend's
    `screen` reads one: the cursor, the mode, the visible lines; with STYLED, their SGR too).

    TmuxError when any of them is gone (tmux stops at the first failing command): the caller
    reads them again one by one, or on its next poll."""
    if not pane_ids:
        return {}
    from termbridge.sanitize import strip_sgr

    head = SEP.join(["#{pane_id}", "#{cursor_x}", "#{cursor_y}", "#{pane_in_mode}", "#{pane_mode}"])
    args: list[str] = []
    for p in pane_ids:
        if args:
            args.append(";")
        args += ["display-message", "-p", "-t", p, _MARK + head, ";", "capture-pane", "-p", "-t", p]
        if styled:
            args.insert(len(args) - 2, "-e")
    out = run_tmux(*args, env={"TERMBRIDGE_TMUX_SOCKET": socket}, timeout=timeout)
    found: dict[str, Screen] = {}
    for chunk in out.split(_MARK)[1:]:
        first, _, body = chunk.partition("\n")
        p, x, y, in_mode, mode = (first.split(SEP) + ["", "0", "0", "0", ""])[:5]
        text = strip_sgr(body) if styled else body
        found[p] = Screen(
            text,
            body if styled else None,
            (int(x or 0), int(y or 0)),
            (mode or "copy-mode") if in_mode == "1" else None,
        )
    return found
