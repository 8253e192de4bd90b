"""Terminal backends (tmux, kitty, PTY wrapper) behind one small interface, `Backend`.

Each backend module implements it with the same signatures; each owns the parsing of
its own target strings. Resolution (targets.py) lists hosts, the surface reader reads
screens, submit types and presses Enter -- none of them branches on the backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from termbridge.paths import StrPath

BACKENDS = ("pty", "tmux", "kitty")  # order only breaks ties at the same pid


@dataclass
class Target:
    """A verified place to type: backend name, public target string, and how to reach it."""

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


@runtime_checkable
class Backend(Protocol):
    """What every backend module offers (termbridge.backends.tmux, .kitty, .pty)."""

    def list_hosts(self, home: StrPath, env: Mapping[str, str] | None = None, **where: Any) -> dict[int, Target]:
        """host pid -> Target for every live terminal of one source (a tmux server, a kitty, the wrappers)."""

    def type_text(self, target: Target, text: str, env: Mapping[str, str] | None = None) -> None:
        """Type already-sanitized TEXT at terminal level, as one paste."""

    def press_enter(self, target: Target, env: Mapping[str, str] | None = None) -> None:
        """Press Enter as its own key event."""

    def screen(self, target: Target, env: Mapping[str, str] | None = None) -> Screen:
        """What the terminal shows now."""

    def parse_target(self, spec: str, env: Mapping[str, str] | None = None) -> str | None:
        """SPEC in the public form ('tmux:%3', 'kitty:<addr>:<id>', 'pty:NAME') if this backend's, else None."""


def backend(name: str) -> Backend:
    """The backend module NAME ('tmux', 'kitty', 'pty')."""
    import importlib

    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}")
    return importlib.import_module(f"termbridge.backends.{name}")
