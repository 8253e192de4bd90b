"""The one list of agent kinds and delivery modes, as types and as tuples (imported by the CLI and
`send`'s hot path: no termbridge imports here, and no `typing` at run time -- importing it costs
`send --no-wake` ~2 ms of its ~25; tests/test_watcher.py checks the tuples against the types)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads this name the same)
if TYPE_CHECKING:
    from typing import Literal

    Kind = Literal["claude", "codex", "gemini", "shell", "other"]
    AgentKind = Literal["claude", "codex", "gemini"]  # the agents whose hooks and screens termbridge knows
    DeliveryMode = Literal["push", "pull"]  # push: framed messages into the idle composer; pull: only the nudge
    Lane = Literal["auto", "terminal", "native"]  # auto: the agent's own channel when it answers, else typing
KINDS: tuple[Kind, ...] = ("claude", "codex", "gemini", "shell", "other")
AGENT_KINDS: tuple[AgentKind, ...] = ("claude", "codex", "gemini")
DELIVERY_MODES: tuple[DeliveryMode, ...] = ("push", "pull")
LANES: tuple[Lane, ...] = ("auto", "terminal", "native")
