"""Terminal backends (tmux, kitty, PTY wrapper) behind one small interface.

Each backend module offers:
  list_hosts(home, env) -> {host_pid: Target}   the processes at the root of each terminal
  type_text(target, text)                        type TEXT at terminal level, as one paste
  press_enter(target)                            press Enter as its own key event
  screen(target) -> Screen | None                what the terminal shows now
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Target:
    """A verified place to type: backend name, contract target string, and how to reach it."""

    backend: str  # "tmux" | "kitty" | "pty"
    target: str  # "tmux:%3" | "kitty:unix:/tmp/k:2" | "pty:NAME"
    host_pid: int  # the process at the root of that terminal (pane pid, window pid, wrapper child)
    info: dict[str, Any] = field(default_factory=dict)
    chain: list[int] = field(default_factory=list)  # session pid .. host_pid: the proof


@dataclass
class Screen:
    """A sample of what the target shows: plain text and, where the backend gives them, SGR styles,
    the cursor, the pane's mode (tmux), and the PTY wrapper's output timing and prompt marks."""

    text: str
    styled: str | None = None
    cursor: tuple[int, int] | None = None  # (x, y) when known
    mode: str | None = None  # a tmux pane mode the pane is in ("copy-mode", "view-mode"...), else None
    quiet_ms: int | None = None  # PTY wrapper: milliseconds since the program's last output
    osc133: str | None = None  # PTY wrapper: the last OSC 133 mark (A/B prompt, C running, D done)
