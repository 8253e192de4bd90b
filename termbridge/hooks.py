"""Agent hook entry points. They never raise: a hook must not break the agent that calls it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from termbridge import events, framing, paths, registry
from termbridge.config import DEFAULTS


def _budget_path(home: Path, name: str) -> Path:
    return registry.session_dir(home, name) / "stop_hook.json"


def _blocks(home: Path, name: str) -> int:
    state = paths.read_json(_budget_path(home, name), {})
    try:
        return int(state.get("consecutive_blocks", 0))
    except (ValueError, AttributeError, TypeError):
        return 0


def _set_blocks(home: Path, name: str, n: int) -> None:
    paths.atomic_write(_budget_path(home, name), json.dumps({"consecutive_blocks": n}).encode())


def claude_stop(home: Path, session: str | None, stdin: bytes, write: Callable[[str], None]) -> None:
    """Claude Code's Stop hook: block with the framed messages while the budget lasts, else let it stop.

    The consecutive-block budget is durable per session and resets when
    stop_hook_active is false (a fresh user turn); an absent or malformed flag counts
    as true, so a confused hook can never loop forever.
    """
    name = session
    try:
        try:
            data = json.loads(stdin.decode("utf-8") or "null")
        except ValueError as e:
            events.log_event(home, "hook_error", name, hook="claude-stop", error=f"malformed hook JSON: {e}")
            return
        if not isinstance(data, dict):
            events.log_event(home, "hook_error", name, hook="claude-stop", error="hook input is not a JSON object")
            return
        if not name:
            events.log_event(home, "hook_error", None, hook="claude-stop",
                             error="no session: pass --session NAME or set TERMBRIDGE_SESSION")
            return
        paths.validate_name(name)
        registry.lookup(home, name)
        from termbridge.config import load_config
        from termbridge.idle import set_mark
        from termbridge.outbox import Outbox

        try:
            cfg = load_config()
        except Exception as e:  # noqa: BLE001 - a bad config must not break the agent: use the defaults
            events.log_event(home, "hook_error", name, hook="claude-stop", error=f"config: {e}")
            cfg = dict(DEFAULTS)
        budget = cfg["block_budget"]
        active = data.get("stop_hook_active")
        fresh_turn = active is False  # absent or malformed counts as true (fail safe)
        blocks = 0 if fresh_turn else _blocks(home, name)
        box = Outbox(home, name, cfg)
        claim = box.claim() if blocks < budget else None
        if claim is None:
            if fresh_turn:
                _set_blocks(home, name, 0)
            set_mark(home, name, "idle")
            events.log_event(home, "hook_stop", name, blocked=False, consecutive_blocks=blocks,
                             budget_spent=blocks >= budget)
            return
        out = json.dumps({"decision": "block", "reason": framing.render_messages(claim.records)}, ensure_ascii=False)
        try:
            write(out + "\n")
        except BaseException:
            box.release(claim, "hook output failed", count_attempt=False)
            raise
        box.commit(claim, via="hook")
        _set_blocks(home, name, blocks + 1)
        set_mark(home, name, "busy")  # Claude goes on working on the delivered messages
        events.log_event(home, "hook_stop", name, blocked=True, messages=len(claim.records), consecutive_blocks=blocks + 1)
    except Exception as e:  # noqa: BLE001 - never break the agent: log and let it stop
        events.log_event(home, "hook_error", name, hook="claude-stop", error=f"{type(e).__name__}: {e}")
