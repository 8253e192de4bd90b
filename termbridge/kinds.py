"""The one list of agent kinds and delivery modes, as types and as tuples (imported by the CLI and
`send`'s hot path: no termbridge imports here; `typing` is loaded on both paths before this)."""

from typing import Literal, get_args

Kind = Literal["claude", "codex", "gemini", "shell", "other"]
AgentKind = Literal["claude", "codex", "gemini"]  # the agents whose hooks and screens termbridge knows
DeliveryMode = Literal["push", "pull"]  # push: framed messages into the idle composer; pull: only the nudge
Lane = Literal["auto", "terminal", "native"]  # auto: the agent's own channel when it answers, else typing
KINDS: tuple[Kind, ...] = get_args(Kind)
AGENT_KINDS: tuple[AgentKind, ...] = get_args(AgentKind)
DELIVERY_MODES: tuple[DeliveryMode, ...] = get_args(DeliveryMode)
LANES: tuple[Lane, ...] = get_args(Lane)
