"""tmux panes: one `list-panes -a` per resolution; paste + separate Enter for submit."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Mapping

from termbridge.backends import Screen, Target
from termbridge.errors import TmuxError
from termbridge.tmux_cmd import SEP, answers, no_server, run_tmux, socket_path

PANE_ID = re.compile(r"%\d+")


def list_hosts(
    home=None, env: Mapping[str, str] | None = None, socket: str | None = None, timeout: float = 5.0
) -> dict[int, Target]:
    """pane_pid -> Target for every live pane of one server (one tmux process): SOCKET, else the caller's.

    Each Target carries the server's socket (info["socket"]) so later tmux calls for it go
    to that server, and the server's pid (info["server_pid"]). A socket with no server
    behind it lists nothing.
    """
    sock = socket or socket_path(env)
    if not sock or shutil.which("tmux") is None or not answers(sock):
        return {}
    fmt = SEP.join(["#{pane_id}", "#{pane_pid}", "#{pane_tty}", "#{pane_dead}", "#{session_name}", "#{pid}"])
    try:
        out = run_tmux("list-panes", "-a", "-F", fmt, env={"TERMBRIDGE_TMUX_SOCKET": sock}, timeout=timeout)
    except TmuxError as e:
        if no_server(e):
            return {}
        raise
    hosts: dict[int, Target] = {}
    for line in out.splitlines():
        parts = line.split(SEP)
        if len(parts) != 6 or not PANE_ID.fullmatch(parts[0]) or not parts[1].isdigit() or parts[3] == "1":
            continue
        pid = int(parts[1])
        hosts[pid] = Target(
            "tmux",
            f"tmux:{parts[0]}",
            pid,
            {
                "pane": parts[0],
                "tty": parts[2],
                "tmux_session": parts[4],
                "socket": sock,
                "server_pid": int(parts[5]) if parts[5].isdigit() else None,
            },
        )
    return hosts


def _env_for(target: Target, env: Mapping[str, str] | None) -> Mapping[str, str] | None:
    """ENV pointed at the tmux server TARGET was found on (it may not be the caller's)."""
    sock = target.info.get("socket")
    if not sock:
        return env
    return {**(os.environ if env is None else env), "TERMBRIDGE_TMUX_SOCKET": sock}


def type_text(target: Target, text: str, env: Mapping[str, str] | None = None) -> None:
    """Paste TEXT: bracketed if the app asked for it, LF kept as LF (never a submitting CR).

    Always through a paste buffer, never `send-keys -l`: send-keys delivers each character as
    a key press, and a TUI reads some keys as shortcuts when they are not inside a bracketed
    paste (Gemini CLI 0.61 shows its shortcut help on `?` and enters shell mode on `!`,
    dropping the character). A bracketed paste reaches the composer verbatim.
    """
    env = _env_for(target, env)
    pane = target.info["pane"]
    buf = f"termbridge-{os.getpid()}-{time.monotonic_ns()}"
    # One tmux process: load the uniquely named buffer from stdin, paste it (-p bracketed,
    # -r no LF->CR), and delete it (-d).
    run_tmux(
        "load-buffer",
        "-b",
        buf,
        "-",
        ";",
        "paste-buffer",
        "-p",
        "-r",
        "-d",
        "-b",
        buf,
        "-t",
        pane,
        input=text.encode("utf-8"),
        env=env,
    )


def press_enter(target: Target, env: Mapping[str, str] | None = None) -> None:
    """Enter as its own key event."""
    env = _env_for(target, env)
    run_tmux("send-keys", "-t", target.info["pane"], "Enter", env=env)


def screen(target: Target, env: Mapping[str, str] | None = None) -> Screen:
    """The visible pane: plain text, styled text (SGR), cursor position, and the pane's mode if any."""
    env = _env_for(target, env)
    pane = target.info["pane"]
    out = run_tmux(
        "display-message",
        "-p",
        "-t",
        pane,
        SEP.join(["#{cursor_x}", "#{cursor_y}", "#{pane_in_mode}", "#{pane_mode}"]),
        ";",
        "capture-pane",
        "-p",
        "-e",
        "-t",
        pane,
        env=env,
    )
    head, _, styled = out.partition("\n")
    x, y, in_mode, mode = (head.split(SEP) + ["0", "0", "0", ""])[:4]
    from termbridge.sanitize import strip_sgr

    return Screen(
        strip_sgr(styled), styled, (int(x or 0), int(y or 0)), (mode or "copy-mode") if in_mode == "1" else None
    )


def parse_target(spec: str, env: Mapping[str, str] | None = None) -> str | None:
    """'%3' or 'tmux:%3' -> 'tmux:%3'; None when SPEC is no tmux pane."""
    bare = spec[5:] if spec.startswith("tmux:") else spec
    return f"tmux:{bare}" if PANE_ID.fullmatch(bare) else None
