"""tmux panes: one `list-panes -a` per resolution; paste + separate Enter for submit."""

from __future__ import annotations

import os
import re
import time
from typing import Mapping

from termbridge.backends import Screen, Target
from termbridge.tmux_cmd import SEP, TmuxError, available, no_server, run_tmux

PANE_ID = re.compile(r"%\d+")
_SHORT = 512  # longer or multi-line text goes through a paste buffer


def list_hosts(home=None, env: Mapping[str, str] | None = None) -> dict[int, Target]:
    """pane_pid -> Target for every live pane of the server (one tmux process)."""
    if not available(env):
        return {}
    fmt = SEP.join(["#{pane_id}", "#{pane_pid}", "#{pane_tty}", "#{pane_dead}", "#{session_name}"])
    try:
        out = run_tmux("list-panes", "-a", "-F", fmt, env=env)
    except TmuxError as e:
        if no_server(e):
            return {}
        raise
    hosts: dict[int, Target] = {}
    for line in out.splitlines():
        parts = line.split(SEP)
        if len(parts) != 5 or not PANE_ID.fullmatch(parts[0]) or not parts[1].isdigit() or parts[3] == "1":
            continue
        pid = int(parts[1])
        hosts[pid] = Target("tmux", f"tmux:{parts[0]}", pid, {"pane": parts[0], "tty": parts[2], "tmux_session": parts[4]})
    return hosts


def type_text(target: Target, text: str, env: Mapping[str, str] | None = None) -> None:
    """Paste TEXT: bracketed if the app asked for it, LF kept as LF (never a submitting CR)."""
    pane = target.info["pane"]
    if "\n" not in text and len(text) <= _SHORT:
        run_tmux("send-keys", "-t", pane, "-l", "--", text, env=env)
        return
    buf = f"termbridge-{os.getpid()}-{time.monotonic_ns()}"
    # One tmux process: load the uniquely named buffer from stdin, paste it (-p bracketed,
    # -r no LF->CR), and delete it (-d).
    run_tmux("load-buffer", "-b", buf, "-", ";", "paste-buffer", "-p", "-r", "-d", "-b", buf, "-t", pane,
             input=text.encode("utf-8"), env=env)


def press_enter(target: Target, env: Mapping[str, str] | None = None) -> None:
    """Enter as its own key event."""
    run_tmux("send-keys", "-t", target.info["pane"], "Enter", env=env)


def screen(target: Target, env: Mapping[str, str] | None = None) -> Screen:
    """The visible pane: plain text, styled text (SGR), cursor position, and the pane's mode if any."""
    pane = target.info["pane"]
    out = run_tmux(
        "display-message", "-p", "-t", pane, SEP.join(["#{cursor_x}", "#{cursor_y}", "#{pane_in_mode}", "#{pane_mode}"]),
        ";", "capture-pane", "-p", "-e", "-t", pane, env=env,
    )
    head, _, styled = out.partition("\n")
    x, y, in_mode, mode = (head.split(SEP) + ["0", "0", "0", ""])[:4]
    from termbridge.sanitize import strip_sgr

    return Screen(strip_sgr(styled), styled, (int(x or 0), int(y or 0)), (mode or "copy-mode") if in_mode == "1" else None)
