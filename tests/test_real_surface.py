"""Opt-in tier: the surface reader and receipts against the REAL Codex, Claude Code and Gemini CLI
with COLORTERM=truecolor TERM=xterm-256color, offline (scratch HOME, model API on loopback:
tests/agent_stub.py). Checked per agent:

- a person's draft is protected: `drain`, `drain --force` exit 4, `wake` is skipped_busy,
  the draft is still in the composer, and no request reached the model;
- a real permission dialog (the stub answers with a shell tool call) is `dialog` in
  `status --json`, and nothing termbridge does approves it: `drain`, `drain --force`,
  `wake`, `submit x`, `submit --enter-only` exit 4 / skip, the command never runs and no
  tool result reaches the model;
- a folder-trust dialog at start-up is `dialog` too, and never answered;
- receipts: a message drained into the idle agent becomes `received` via the agent's
  own transcript (read from the agent process's HOME / CODEX_HOME).

    npm install --prefix /tmp/agents @openai/codex@0.171.0 @anthropic-ai/claude-code@2.1.197 @google/gemini-cli@0.61.0
    TERMBRIDGE_REAL_AGENTS=/tmp/agents/node_modules/.bin .venv/bin/python -m pytest tests/test_real_surface.py
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from agent_stub import AgentStub
from conftest import retry_until, tb, tb_json
from real_agent_lab import DIALOG, READY, TERMS, agent_setup, needs_agents, tui_pid

from termbridge import record, registry
from termbridge.backends import Screen
from termbridge.sanitize import strip_sgr
from termbridge.surface import BUILTIN_KINDS, judge_screen

pytestmark = [
    pytest.mark.timeout(400),
    needs_agents,  # the one gate of every real tier (real_agent_lab)
]
KINDS = ["codex", "claude", "gemini"]
TRUST_QUESTION = {
    "codex": "Trust this folder?",
    "claude": "Is this a project you created or one you trust?",
    "gemini": "Do you trust the files in this folder?",
}
WHERE = {  # where each agent records a submitted prompt (REAL_AGENTS.md)
    "claude": lambda f: f.parent.parent.name == "projects" and f.suffix == ".jsonl",
    "codex": lambda f: "sessions" in f.parts and f.name.startswith("rollout-") and f.suffix == ".jsonl",
    "gemini": lambda f: "tmp" in f.parts and (f.name == "logs.json" or f.parent.name == "chats"),
}
DRAFT = "do not send this yet"


class Agent:
    def __init__(self, lab, short_tmp, kind, trusted=True):
        self.lab, self.kind = lab, kind
        self.stub = AgentStub()
        self.home, self.work = short_tmp / f"{kind}-home", short_tmp / ("work" if trusted else "untrusted")
        self.home.mkdir()
        self.work.mkdir(exist_ok=True)
        if not trusted:  # Codex asks about trust in a git repository
            subprocess.run(["git", "init", "-q", str(self.work)], check=True)
        cmd = agent_setup(kind, self.home, self.work, self.stub.port, trusted, manual=True)
        self.pane = lab.pane(f"cd {self.work} && exec {TERMS['truecolor']} {cmd}")
        self.id = self.pane.pane_id
        retry_until(lambda: (READY[kind] if trusted else TRUST_QUESTION[kind]) in self.plain(), 90, 0.3)
        time.sleep(1.5)
        self.pid = tui_pid(int(self.pane.pane_pid), kind)  # (Codex's daemon starts as the TUI's child)
        p = tb("register", kind, "--pid", self.pid, "--kind", kind)
        assert p.returncode == 0, p.err

    def plain(self) -> str:
        return self.lab.tmux("capture-pane", "-p", "-t", self.id)

    def judged(self):
        """What the surface reader makes of the pane right now (one sample, as status does)."""
        styled = self.lab.tmux("capture-pane", "-p", "-e", "-t", self.id)
        x, y = map(int, self.lab.tmux("display-message", "-p", "-t", self.id, "#{cursor_x} #{cursor_y}").split())
        return judge_screen(Screen(strip_sgr(styled), styled, (x, y)), BUILTIN_KINDS[self.kind])

    def type_slowly(self, text: str) -> None:
        for ch in text:  # a person typing: one key at a time
            self.lab.tmux("send-keys", "-t", self.id, "-l", ch)
            time.sleep(0.06)
        time.sleep(1.0)

    def prompt(self, text: str) -> None:
        self.lab.tmux("send-keys", "-t", self.id, "-l", text)
        time.sleep(0.5)  # past every agent's paste-burst Enter window
        self.lab.tmux("send-keys", "-t", self.id, "Enter")

    def status(self) -> dict:
        return tb_json("status")["sessions"][0]


@pytest.fixture
def agent(lab, short_tmp, request):
    a = Agent(lab, short_tmp, request.param)
    yield a
    a.stub.close()


@pytest.mark.parametrize("agent", KINDS, indirect=True)
def test_a_persons_draft_is_never_typed_over(agent):
    agent.type_slowly(DRAFT)
    before = agent.judged()
    assert (before.kind, before.text) == ("draft", DRAFT)
    n = len(agent.stub.requests)
    mid = tb_json("send", agent.kind, "peer note", "--from", "peer", "--no-wake")["id"]
    row = agent.status()
    assert (row["surface"], row["pending"]) == ("draft", 1), row
    for args in (["drain", agent.kind], ["drain", agent.kind, "--force"]):
        p = tb(*args)
        assert p.returncode == 4 and "draft" in p.err, (args, p.returncode, p.err)
    assert tb_json("wake", agent.kind)["outcome"] == "skipped_busy"
    time.sleep(1.0)
    after = agent.judged()
    assert (after.kind, after.text) == ("draft", DRAFT)  # exactly the person's text, nothing added
    assert "peer note" not in agent.plain()
    assert len(agent.stub.requests) == n  # nothing was submitted
    assert tb_json("receipt", mid)["state"] == "queued"
    assert agent.status()["pending"] == 1


@pytest.mark.parametrize("agent", KINDS, indirect=True)
def test_a_real_permission_dialog_is_reported_and_never_approved(agent, short_tmp):
    marker = short_tmp / "approved"
    agent.stub.next_tool_call(f"touch {marker}")
    agent.prompt("run the command")
    retry_until(lambda: DIALOG[agent.kind] in agent.plain(), 90, 0.3)
    time.sleep(1.5)
    n = len(agent.stub.main_requests())
    tb("send", agent.kind, "a peer message arrives during the dialog", "--from", "peer", "--no-wake")
    row = agent.status()
    assert row["surface"] == "dialog" and str(marker) in row["reason"], row
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
    assert not marker.exists()  # nothing approved it
    assert len(agent.stub.main_requests()) == n  # no tool result went back to the model
    assert agent.status()["pending"] == 1  # the message waits, not lost


@pytest.mark.parametrize("kind", KINDS)
def test_a_folder_trust_dialog_is_a_dialog_and_never_answered(lab, short_tmp, kind):
    agent = Agent(lab, short_tmp, kind, trusted=False)
    try:
        tb("send", kind, "a peer message arrives before the user trusted the folder", "--from", "peer", "--no-wake")
        row = agent.status()
        assert row["surface"] == "dialog" and row["reason"].startswith("trust dialog"), row
        for args in (
            ["drain", kind],
            ["drain", kind, "--force"],
            ["submit", kind, "x"],
            ["submit", kind, "--enter-only"],
        ):
            p = tb(*args)
            assert p.returncode == 4 and "dialog" in p.err, (args, p.returncode, p.err)
        assert tb_json("wake", kind)["outcome"] == "skipped_busy"
        time.sleep(2.0)
        assert TRUST_QUESTION[kind] in agent.plain()  # still asking its human
        assert READY[kind] not in agent.plain()
        assert agent.stub.requests == [] and agent.status()["pending"] == 1
    finally:
        agent.stub.close()


@pytest.mark.parametrize("agent", KINDS, indirect=True)
def test_a_drained_message_is_received_via_the_agents_transcript(agent):
    assert agent.status()["surface"] == "idle"
    mid = tb_json("send", agent.kind, "please read the release notes", "--from", "peer", "--no-wake")["id"]
    p = tb("drain", agent.kind)
    assert p.returncode == 0, p.err
    assert tb_json("receipt", mid)["state"] in ("submitted", "received")
    retry_until(lambda: agent.stub.seen(mid), 60, 0.3)  # it reached the model
    r = retry_until(lambda: (lambda r: r if r["state"] == "received" else None)(tb_json("receipt", mid)), 60, 1.0)
    assert r["via"] == "record", r
    assert agent.status()["receipts"]["received"] == 1
    assert r["at"]["submitted"] <= r["at"]["received"]
    # Its own record, found from its PID alone (no hooks here), under the agent process's own HOME.
    sess = registry.lookup(Path(os.environ["TERMBRIDGE_HOME"]), agent.kind)
    path = record.path_of(Path(os.environ["TERMBRIDGE_HOME"]), sess)
    assert path is not None and path.is_relative_to(agent.home) and WHERE[agent.kind](path), path
    assert mid in path.read_text(errors="replace")
    assert agent.status()["record"] == str(path)
    print(agent.kind, "record:", path.relative_to(agent.home))
