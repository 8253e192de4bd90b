"""Real tier: Codex, Claude Code and Gemini CLI under `termbridge run` (the PTY wrapper), offline.

Each agent runs as `termbridge run --name KIND --kind KIND -- <agent>` in a tmux pane (the
person's terminal), with a scratch HOME and its model API on loopback (tests/agent_stub.py), so
it finishes real turns and raises real permission dialogs. termbridge reaches it through the
wrapper alone: its emulated screen, its socket. Checked per agent:

- it starts under the wrapper and reaches its composer, and the wrapper's screen reads `idle`;
- `submit` of a one-line and of a multi-line text each arrive as ONE submission (one new turn
  at the model, holding the whole text), recorded in the agent's own transcript;
- `send` + `drain` into the idle agent delivers once;
- a person's draft (typed with tmux send-keys) is left alone: drain exits 4, the draft stays;
- a real permission dialog is `dialog`, nothing termbridge does approves it, the command never runs.

The tier is gated as every real tier is (see `real_tier`). To run it:

    TERMBRIDGE_REAL_AGENTS=/root/.cache/termbridge-agents/node_modules/.bin \\
        .venv/bin/python -m pytest tests/test_real_wrapper.py
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import real_agent_lab
from agent_stub import AgentStub
from helpers import retry_until, tb, tb_json
from lab import PY
from real_agent_lab import BIN, DIALOG, READY, TERMS, VERSIONS, agent_setup
from test_wrapper_bytes import wrapper_info

from termbridge.agent_versions import version_tuple

KINDS = ["codex", "claude", "gemini"]
DRAFT = "do not send this yet"
TRANSCRIPTS = {  # where each agent records a submitted prompt, under its HOME (docs/agents.md)
    "claude": lambda f: f.parent.parent.name == "projects" and f.suffix == ".jsonl",
    "codex": lambda f: "sessions" in f.parts and f.name.startswith("rollout-") and f.suffix == ".jsonl",
    "gemini": lambda f: "tmp" in f.parts and (f.name == "logs.json" or f.parent.name == "chats"),
}


def real_tier():
    """The gate of this tier: the lab's own gate for every real tier where it has one, else the
    lab's opt-in (TERMBRIDGE_REAL_AGENTS). One place, so the tier follows the lab's switch."""
    gate = getattr(real_agent_lab, "needs_agents", None)
    if gate is not None:
        return gate
    return pytest.mark.skipif(
        not BIN, reason="opt-in: set TERMBRIDGE_REAL_AGENTS to a dir with codex, claude and gemini"
    )


pytestmark = [pytest.mark.timeout(400), real_tier()]


def _manual_permissions(kind: str, home: Path, work: Path) -> None:
    """Claude Code 2.1.332 runs low-risk tool calls with no dialog in its default (auto) mode: put it in
    manual mode, with its one-time "make auto mode your default?" question already seen (docs/agents.md)."""
    if kind != "claude":
        return
    cfg = home / ".claude.json"
    data = json.loads(cfg.read_text())
    data.update(hasSeenAutoDefaultNudge=True, hasResetAutoModeOptInForDefaultOffer=True)
    cfg.write_text(json.dumps(data))
    (work / ".claude").mkdir(exist_ok=True)
    (work / ".claude" / "settings.local.json").write_text(json.dumps({"permissions": {"defaultMode": "default"}}))


def _side_request(body) -> bool:
    """Codex 0.171 asks for a task title after the first prompt on /v1/responses too, with a JSON
    schema for the answer (`text.format`): a side question, not a turn."""
    return isinstance(body, dict) and isinstance(body.get("text"), dict) and "format" in body["text"]


def _escaped(text: str) -> str:
    """TEXT as it stands inside a JSON string (requests, transcripts)."""
    return json.dumps(text)[1:-1]


class Wrapped:
    """One real agent under `termbridge run` in a tmux pane, offline against its own stub."""

    def __init__(self, lab, tb_home: Path, short_tmp: Path, kind: str):
        self.lab, self.tb_home, self.kind = lab, tb_home, kind
        self.stub = AgentStub()
        self.home, self.work = short_tmp / f"{kind}-home", short_tmp / "work"
        self.home.mkdir()
        self.work.mkdir(exist_ok=True)
        cmd = agent_setup(kind, self.home, self.work, self.stub.port)
        _manual_permissions(kind, self.home, self.work)
        self.pane = lab.pane(
            f"cd {self.work} && exec {PY} -m termbridge run --name {kind} --kind {kind} -- {TERMS['truecolor']} {cmd}"
        )
        self.id = self.pane.pane_id
        retry_until(lambda: READY[kind] in self.plain(), 90, 0.3)
        # These tests are about typing through the wrapper's PTY: the terminal lane, always (by
        # default Claude Code and Codex would take messages through their own channels).
        pid = retry_until(lambda: next((s["pid"] for s in tb_json("sessions")["sessions"] if s["name"] == kind), None))
        assert tb("register", kind, "--pid", pid, "--kind", kind, "--lane", "terminal").returncode == 0

    def plain(self) -> str:
        """What the person sees: the tmux pane that holds the wrapper."""
        return self.lab.tmux("capture-pane", "-p", "-t", self.id)

    def status(self) -> dict:
        (row,) = tb_json("status")["sessions"]
        return row

    def wrapper_screen(self) -> str:
        """The wrapper's own emulated screen (what the surface reader judges)."""
        return str(wrapper_info(self.tb_home, self.kind)["text"])

    def wait_surface(self, surface: str, seconds: float = 30) -> dict:
        def reached():
            row = self.status()
            return row if row["surface"] == surface else None

        try:
            return retry_until(reached, seconds, 0.3)
        except AssertionError:
            row = self.status()
            raise AssertionError(
                f"{self.kind}: surface {row['surface']!r} ({row['reason']}), not {surface!r}; "
                f"the wrapper's screen:\n{self.wrapper_screen()}"
            ) from None

    def type_slowly(self, text: str) -> None:
        for ch in text:  # a person typing: one key at a time
            self.lab.tmux("send-keys", "-t", self.id, "-l", ch)
            time.sleep(0.06)

    def prompt(self, text: str) -> None:
        """A person's prompt: typed at once, Enter after every agent's paste-burst window; Enter again
        while the model was not asked (Codex in daemon mode shows its composer before its start-up
        is done and loses an Enter typed then: the text stays in the composer)."""
        before = len(self.stub.seen(text))
        self.lab.tmux("send-keys", "-t", self.id, "-l", text)
        time.sleep(0.5)
        for _ in range(3):
            self.lab.tmux("send-keys", "-t", self.id, "Enter")
            try:
                retry_until(lambda: len(self.stub.seen(text)) > before, 3, 0.1)
                return
            except AssertionError:
                continue

    def turns(self) -> list[dict]:
        """The model requests that are the agent's turns (not its side questions)."""
        return [r for r in self.stub.main_requests() if not _side_request(r["body"])]

    def recorded(self, text: str) -> list[Path]:
        """The agent's own transcript files that hold TEXT."""
        needle = _escaped(text)
        return [
            f
            for f in self.home.rglob("*")
            if f.is_file() and TRANSCRIPTS[self.kind](f) and needle in f.read_text(errors="replace")
        ]

    def one_turn_with(self, text: str, before: int) -> None:
        """TEXT reached the model whole, in exactly one new turn since BEFORE, and the agent's transcript."""
        needle = _escaped(text)
        retry_until(lambda: any(needle in json.dumps(r["body"]) for r in self.turns()[before:]), 60, 0.3)
        self.wait_surface("idle", 60)  # the turn is over
        new = self.turns()[before:]
        assert len(new) == 1 and needle in json.dumps(new[0]["body"]), [json.dumps(r["body"])[-300:] for r in new]
        retry_until(lambda: self.recorded(text), 30, 0.3)

    def close(self) -> None:
        self.stub.close()
        reap = getattr(real_agent_lab, "reap_codex_daemons", None)  # Codex's daemon mode outlives its TUI
        if reap is not None and self.kind == "codex":
            reap(self.home)


@pytest.fixture
def agent(lab, home, short_tmp, request):
    a = Wrapped(lab, home, short_tmp, request.param)
    yield a
    a.close()


@pytest.mark.parametrize("kind", KINDS)
def test_the_agents_are_the_verified_releases(kind):
    out = subprocess.run([f"{BIN}/{kind}", "--version"], capture_output=True, text=True, timeout=60).stdout
    assert version_tuple(out) == version_tuple(VERSIONS[kind]), (kind, out, VERSIONS[kind])


@pytest.mark.parametrize("agent", KINDS, indirect=True)
def test_submits_and_a_drain_each_arrive_once(agent):
    agent.wait_surface("idle")  # it started under the wrapper and reached its composer
    assert agent.status()["target"] == f"pty:{agent.kind}"
    for text in ("please list the files", "first line of the note\nsecond line of the note"):
        before = len(agent.turns())
        p = tb("submit", agent.kind, text)
        assert p.returncode == 0, (text, p.err)
        agent.one_turn_with(text, before)
    before = len(agent.turns())
    mid = tb_json("send", agent.kind, "a peer note to read", "--from", "peer", "--no-wake")["id"]
    p = tb("drain", agent.kind)
    assert p.returncode == 0, p.err
    agent.one_turn_with(mid, before)
    assert tb_json("receipt", mid)["state"] in ("submitted", "received")
    assert agent.status()["pending"] == 0


@pytest.mark.parametrize("agent", KINDS, indirect=True)
def test_a_persons_draft_is_left_alone(agent):
    agent.wait_surface("idle")
    agent.type_slowly(DRAFT)
    agent.wait_surface("draft")
    before = len(agent.stub.requests)
    mid = tb_json("send", agent.kind, "peer note", "--from", "peer", "--no-wake")["id"]
    for args in (["drain", agent.kind], ["drain", agent.kind, "--force"]):
        p = tb(*args)
        assert p.returncode == 4 and "draft" in p.err, (args, p.returncode, p.err)
    assert tb_json("wake", agent.kind)["outcome"] == "skipped_busy"
    time.sleep(1.0)
    assert DRAFT in agent.plain() and DRAFT in agent.wrapper_screen()  # exactly as the person left it
    assert "peer note" not in agent.plain()
    assert len(agent.stub.requests) == before  # nothing was submitted
    row = agent.status()
    assert (row["surface"], row["pending"]) == ("draft", 1), row
    assert tb_json("receipt", mid)["state"] == "queued"


@pytest.mark.parametrize("agent", KINDS, indirect=True)
def test_a_real_permission_dialog_is_never_typed_into(agent, short_tmp):
    agent.wait_surface("idle")
    marker = short_tmp / "approved"
    agent.stub.next_tool_call(f"touch {marker}")
    agent.prompt("run the command")
    retry_until(lambda: DIALOG[agent.kind] in agent.plain(), 90, 0.3)
    time.sleep(1.5)
    n = len(agent.turns())
    tb("send", agent.kind, "a peer message arrives during the dialog", "--from", "peer", "--no-wake")
    row = agent.wait_surface("dialog", 10)
    assert str(marker) in row["reason"] or "dialog" in row["reason"], row
    for args in (
        ["drain", agent.kind],
        ["drain", agent.kind, "--force"],
        ["submit", agent.kind, "x"],
        ["submit", agent.kind, "--enter-only"],
    ):
        p = tb(*args)
        assert p.returncode == 4 and "dialog" in p.err, (args, p.returncode, p.err)
        time.sleep(0.5)
    assert tb_json("wake", agent.kind)["outcome"] == "skipped_busy"
    time.sleep(2.0)
    assert DIALOG[agent.kind] in agent.plain()  # still waiting for its human
    assert agent.status()["surface"] == "dialog"
    assert not marker.exists()  # nothing approved it: the command never ran
    assert len(agent.turns()) == n  # no tool result went back to the model
    assert agent.status()["pending"] == 1  # the message waits, not lost
