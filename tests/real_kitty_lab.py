"""A real agent in a real kitty under Xvfb, offline: for tests/test_real_kitty.py and the screen captures.

The agent runs in kitty's only window (160x45 cells, no tab bar), with its scratch HOME and
model stub from tests/real_agent_lab.py; Claude Code in manual permission mode (so a shell
command raises its permission dialog; docs/agents.md). kitty is driven through its
remote-control socket with termbridge's own client.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from agent_stub import AgentStub
from helpers import retry_until
from kittylab import KittyLab
from real_agent_lab import READY, agent_setup

from termbridge import proctree
from termbridge.backends import Target
from termbridge.backends import kitty as kitty_backend
from termbridge.surface import BUILTIN_KINDS, Surface, judge_screen

# No tab bar: a second tab (to take the focus away) must not resize the agent's window.
KITTY_CONF = """remember_window_size no
initial_window_width 160c
initial_window_height 45c
tab_bar_style hidden
enable_audio_bell no
"""
# Claude Code 2.1.332 in manual mode shows "⏸ manual mode on · ? for shortcuts"; in auto mode
# (its default) no "? for shortcuts" at all.
KITTY_READY = {**READY, "claude": "? for shortcuts", "gemini": "Type your message"}


def real_tier() -> list:
    """The marks that gate a real-agent tier, as tests/real_agent_lab.py decides where the agents
    are (BIN): the one place this tier follows the lab's switch."""
    from real_agent_lab import needs_agents

    return [needs_agents]  # skips only when the agents could not be installed, saying why


_CODEX_TITLE = "Generate a concise, single-line task title"


class Stub(AgentStub):
    """The model stub, able to fail the next turn request (HTTP 500), as a model API outage would."""

    def __init__(self) -> None:
        self.failures = 0
        super().__init__()

    def fail_next(self, n: int = 1) -> None:
        self.failures = n

    def _answer(self, h, path: str, body) -> None:
        if self.failures and self._is_main(path, body):
            self.failures -= 1
            h._json(500, {"type": "error", "error": {"type": "api_error", "message": "stub failure"}})
            return
        if path.startswith("/v1/responses") and _CODEX_TITLE in json.dumps(body):
            # Codex asks for a task title on the same endpoint as its turns, a moment after the first
            # turn: it must not take the tool call meant for the next turn.
            h._stream(self._responses(None))
            return
        super()._answer(h, path, body)


def claude_manual_mode(home: Path, work: Path, nudge: bool = False) -> None:
    """Claude Code 2.1.332 in manual permission mode: `permissions.defaultMode: "default"` in the
    project's local settings, with the one-time auto-mode selection marked as seen; NUDGE: in the
    user's settings instead, which makes Claude ask "Make auto mode your default permission mode?"
    first (it asks only when the user settings, and no project settings, set a mode)."""
    manual = json.dumps({"permissions": {"defaultMode": "default"}})
    if nudge:
        (home / ".claude" / "settings.json").write_text(manual)
        return
    (work / ".claude").mkdir(exist_ok=True)
    (work / ".claude" / "settings.local.json").write_text(manual)
    state = json.loads((home / ".claude.json").read_text())
    state.update(hasSeenAutoDefaultNudge=True, hasResetAutoModeOptInForDefaultOffer=True)
    (home / ".claude.json").write_text(json.dumps(state))


class KittyAgent:
    """KIND in a real kitty: its screen, as termbridge's kitty backend reads it, and a person's keys."""

    def __init__(self, directory: Path, kind: str, nudge: bool = False, ready: str | None = None):
        self.dir, self.kind = Path(directory), kind
        self.stub = Stub()
        self.home, self.work = self.dir / f"{kind}-home", self.dir / "work"
        self.home.mkdir()
        self.work.mkdir(exist_ok=True)
        cmd = agent_setup(kind, self.home, self.work, self.stub.port)
        if kind == "claude":
            claude_manual_mode(self.home, self.work, nudge)
        (self.dir / "kitty.conf").write_text(KITTY_CONF)
        try:
            self.kitty = KittyLab(self.dir, ["sh", "-c", f"cd {self.work} && exec env {cmd}"])
        except BaseException:
            self.stub.close()
            raise
        self.client = self.kitty.client
        self.address = self.kitty.address
        self.wid = int(self.kitty.windows()[0]["id"])
        retry_until(lambda: (ready or KITTY_READY[kind]) in self.plain(), 90, 0.3)
        time.sleep(1.5)  # let it finish drawing

    @property
    def pid(self) -> int:
        """The agent's TUI: the deepest process under the window's."""
        root = int(next(w["pid"] for w in self.kitty.windows() if w["id"] == self.wid))
        kids = proctree.descendants(root)
        return kids[-1] if kids else root

    @property
    def target(self) -> Target:
        return Target("kitty", f"kitty:{self.address}:{self.wid}", 0, {"address": self.address, "window_id": self.wid})

    def plain(self) -> str:
        return self.client.get_text(self.wid)

    def styled(self) -> str:
        return self.client.get_text(self.wid, ansi=True)

    def judged(self, typed: dict | None = None) -> Surface:
        """What the surface reader makes of the window right now (one sample)."""
        return judge_screen(kitty_backend.screen(self.target), BUILTIN_KINDS[self.kind], typed)

    def type_slowly(self, text: str) -> None:
        for ch in text:  # a person typing: one key at a time
            self.client.send_text(self.wid, ch, bracketed=False)
            time.sleep(0.06)
        time.sleep(1.0)

    def prompt(self, text: str) -> None:
        self.client.send_text(self.wid, text, bracketed=False)
        time.sleep(0.5)  # past every agent's paste-burst Enter window
        self.client.press_enter(self.wid)

    def key(self, data: str) -> None:
        """Raw bytes a key sends (Esc is "\\x1b", Ctrl-U "\\x15")."""
        self.client.send_text(self.wid, data, bracketed=False)

    def focused(self) -> bool:
        """The agent's window has kitty's focus (its tab is the active one: `is_focused` of a window
        only says it is its tab's active window)."""
        tabs = [t for osw in self.client.ls() for t in osw["tabs"] if t["is_focused"]]
        return any(w["id"] == self.wid and w["is_focused"] for t in tabs for w in t["windows"])

    def focus_away(self) -> None:
        """Another tab takes the focus (no tab bar: the agent's window keeps its size)."""
        self.client.command("launch", {"args": ["sleep", "3600"], "type": "tab", "keep_focus": False})
        retry_until(lambda: not self.focused(), 10)

    def focus_back(self) -> None:
        self.client.command("focus-window", {"match": f"id:{self.wid}"})
        retry_until(self.focused, 10)

    def close(self) -> None:
        self.kitty.close()
        self.stub.close()


# ---------------------------------------------------------------- what reached the model
def last_user_blocks(req: dict) -> list[str]:
    """The text blocks of the last user message of one model request (Anthropic, OpenAI Responses, Gemini)."""
    body = req["body"] if isinstance(req["body"], dict) else {}
    if "messages" in body:  # Anthropic Messages
        content = next((m["content"] for m in reversed(body["messages"]) if m.get("role") == "user"), "")
    elif "input" in body:  # OpenAI Responses
        content = next((i for i in reversed(body["input"]) if i.get("role") == "user"), {}).get("content", "")
    else:  # Gemini
        content = next((c for c in reversed(body.get("contents", [])) if c.get("role") == "user"), {}).get("parts", [])
    blocks = [content] if isinstance(content, str) else [b.get("text", "") for b in content if isinstance(b, dict)]
    return [b for b in blocks if isinstance(b, str)]


def turns_of(stub: AgentStub, text: str) -> int:
    """How many model turns had TEXT as their new user message: each submission is one such turn
    (side requests, such as Codex's title, quote it inside a prompt of their own)."""
    return sum(any(b.strip() == text for b in last_user_blocks(r)) for r in stub.main_requests())


def drained_turns(stub: AgentStub, mid: str) -> int:
    """How many model turns had termbridge's framed messages with MID in their new user message
    (Claude Code 2.1.332 wraps a bracketed paste in `<pasted_content id=…>`)."""
    return sum(any("[termbridge] " in b and mid in b for b in last_user_blocks(r)) for r in stub.main_requests())
