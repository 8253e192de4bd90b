"""Real tier: the surface reader and receipts against the REAL Codex, Claude Code and Gemini CLI
with COLORTERM=truecolor TERM=xterm-256color, offline (scratch HOME, model API on loopback:
tests/agent_stub.py). Claude Code runs in manual permission mode (2.1.332's default, auto
mode, runs a low-risk command with no dialog). Checked per agent:

- a person's draft is protected: `drain`, `drain --force` exit 4, `wake` is skipped_busy,
  the draft is still in the composer, and no request reached the model;
- a real permission dialog (the stub answers with a shell tool call) is `dialog` in
  `status --json`, its reason names the command, and nothing termbridge does approves it:
  `drain`, `drain --force`, `wake`, `submit x`, `submit --enter-only` exit 4 / skip, the
  command never runs and no tool result reaches the model;
- a folder-trust dialog at start-up is `dialog` too, and never answered;
- receipts: a message drained into the idle agent becomes `received` via the agent's
  own transcript (read from the agent process's HOME / CODEX_HOME);
- with the agent's hooks installed, a turn the person interrupts (Esc; the stub never answers)
  leaves a busy mark that no Stop hook clears: the screen overrules it within seconds, and a
  message sent during the turn is delivered once;
- Claude Code 2.1.332's own screens: the placeholder after a failed request is idle (a drain
  delivers into it), messages queued during a turn are `working`, the one-time auto-mode
  selection is a `dialog` and never answered;
- real Codex with termbridge's text in its composer while it works: `working`, no Enter
  (`submit --enter-only` exits 4) until the turn ends, then one Enter submits it once.

    TERMBRIDGE_REAL_AGENTS=/root/.cache/termbridge-agents/node_modules/.bin \\
        .venv/bin/python -m pytest tests/test_real_surface.py
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from helpers import retry_until, tb, tb_json
from real_agent_lab import DIALOG, READY, TERMS, agent_setup, tui_pid
from real_kitty_lab import Stub, claude_manual_mode, drained_turns, real_tier, turns_of

from termbridge import idle, record, registry
from termbridge.backends import Screen
from termbridge.sanitize import strip_sgr
from termbridge.surface import BUILTIN_KINDS, judge_screen

pytestmark = [pytest.mark.timeout(400), *real_tier()]
KINDS = ["codex", "claude", "gemini"]
TRUST_QUESTION = {
    "codex": "Trust this folder?",
    "claude": "Is this a project you created or one you trust?",
    "gemini": "Do you trust the files in this folder?",
}
WHERE = {  # where each agent records a submitted prompt (docs/agents.md)
    "claude": lambda f: f.parent.parent.name == "projects" and f.suffix == ".jsonl",
    "codex": lambda f: "sessions" in f.parts and f.name.startswith("rollout-") and f.suffix == ".jsonl",
    "gemini": lambda f: "tmp" in f.parts and (f.name == "logs.json" or f.parent.name == "chats"),
}
DRAFT = "do not send this yet"


class Agent:
    def __init__(self, lab, short_tmp, kind, trusted=True, hooks=False, ready=None, nudge=False):
        self.lab, self.kind = lab, kind
        self.stub = Stub()
        self.home, self.work = short_tmp / f"{kind}-home", short_tmp / ("work" if trusted else "untrusted")
        self.home.mkdir()
        self.work.mkdir(exist_ok=True)
        if not trusted:  # Codex asks about trust in a git repository
            subprocess.run(["git", "init", "-q", str(self.work)], check=True)
        cmd = agent_setup(kind, self.home, self.work, self.stub.port, trusted)
        if kind == "claude":
            claude_manual_mode(self.home, self.work, nudge)
        if hooks:  # termbridge's hooks, as `hooks install` writes them for this HOME
            env = {**os.environ, "HOME": str(self.home), "CODEX_HOME": str(self.home / ".codex")}
            p = tb("hooks", "install", "--agent", kind, env=env)
            assert p.returncode == 0, p.err
            if kind == "codex":
                cmd += " --dangerously-bypass-hook-trust"  # tests only: trusting new hooks is a person's act
        self.pane = lab.pane(f"cd {self.work} && exec {TERMS['truecolor']} {cmd}")
        self.id = self.pane.pane_id
        retry_until(lambda: (ready or (READY[kind] if trusted else TRUST_QUESTION[kind])) in self.plain(), 90, 0.3)
        time.sleep(1.5)
        self.pid = tui_pid(int(self.pane.pane_pid), kind)  # (Codex's daemon starts as the TUI's child)
        p = tb("register", kind, "--pid", self.pid, "--kind", kind, "--lane", "terminal")  # screens and typing
        assert p.returncode == 0, p.err

    def plain(self) -> str:
        return self.lab.tmux("capture-pane", "-p", "-t", self.id)

    def judged(self):
        """What the surface reader makes of the pane right now (one sample, as status does)."""
        styled = self.lab.tmux("capture-pane", "-p", "-e", "-t", self.id)
        x, y = map(int, self.lab.tmux("display-message", "-p", "-t", self.id, "#{cursor_x} #{cursor_y}").split())
        return judge_screen(Screen(strip_sgr(styled), styled, (x, y)), BUILTIN_KINDS[self.kind])

    def type_slowly(self, text: str) -> None:
        """A person typing, one key at a time. Codex in daemon mode shows its composer before its
        start-up is done, and keys typed then are lost: as a person would, clear and type again."""
        for _ in range(3):
            for ch in text:
                self.lab.tmux("send-keys", "-t", self.id, "-l", ch)
                time.sleep(0.06)
            time.sleep(1.0)
            if text in self.lab.tmux("capture-pane", "-p", "-t", self.id):
                return
            self.lab.tmux("send-keys", "-t", self.id, "C-u")
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
        assert row["surface"] == "dialog" and row["reason"].startswith("trust dialog"), (row, agent.plain())
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
    # An agent just started can still redraw (exit 4, "the screen changed"): drain again then.
    retry_until(lambda: tb("drain", agent.kind).returncode == 0 or agent.stub.seen(mid), 30, 1.0)
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


def settle(agent: Agent) -> None:
    """Wait until the agent's turn is over (its composer idle again)."""
    retry_until(lambda: agent.judged().kind == "idle", 60, 0.3)


def interrupted_turn(agent: Agent, home: Path, send: str | None = None) -> str | None:
    """A turn the model never answers, which the person interrupts (Esc); SEND: a message sent
    during the turn (its id). Ends when the agent shows its empty composer again."""
    kind = agent.kind
    agent.stub.hold()
    agent.prompt("a long task the person will interrupt")
    retry_until(agent.stub.waiting.is_set, 60, 0.2)
    retry_until(lambda: (idle.read_mark(home, kind) or {}).get("state") == "busy", 30, 0.2)
    assert agent.status()["surface"] == "working"
    mid = tb_json("send", kind, send, "--from", "peer")["id"] if send else None  # the idle waiter waits
    agent.lab.tmux("send-keys", "-t", agent.id, "Escape")
    if kind == "claude":  # Claude puts the unanswered prompt back: the person's own draft
        retry_until(lambda: agent.judged().kind == "draft", 10, 0.2)
        assert agent.status()["surface"] == "draft"
        agent.lab.tmux("send-keys", "-t", agent.id, "C-u")  # ... which the person clears
    retry_until(lambda: agent.judged().kind == "idle", 10, 0.2)  # the turn is over on screen
    agent.stub.release()  # the dropped request's answer goes nowhere
    return mid


@pytest.mark.parametrize("kind", KINDS)
def test_an_interrupted_turn_leaves_a_busy_mark_that_the_screen_overrules(lab, short_tmp, home, kind):
    """The prompt hook marks the session busy; Esc ends the turn with no Stop hook (Codex, Claude):
    within seconds of the agent going idle, `status` reads the screen's `idle`."""
    agent = Agent(lab, short_tmp, kind, hooks=True)
    try:
        interrupted_turn(agent, home)
        retry_until(lambda: agent.status()["surface"] == "idle", 10, 0.3)
        if kind != "gemini":  # Gemini runs AfterAgent on Esc: its hook marks idle itself
            assert idle.read_mark(home, kind)["state"] == "busy"  # no Stop hook ran: the screen won
    finally:
        agent.stub.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_message_sent_during_an_interrupted_turn_is_delivered_once(lab, short_tmp, home, kind):
    """A person who interrupts a turn gets the queued messages within seconds of the agent going idle
    (the idle waiter, over the busy mark no Stop hook cleared), exactly once. Gemini runs AfterAgent
    on Esc: no hand-over then (it would go into the cancelled turn), the waiter delivers."""
    agent = Agent(lab, short_tmp, kind, hooks=True)
    try:
        mid = interrupted_turn(agent, home, send="sent during the turn")
        retry_until(lambda: drained_turns(agent.stub, mid), 20, 0.3)
        settle(agent)
        time.sleep(1.0)
        assert drained_turns(agent.stub, mid) == 1 and agent.status()["pending"] == 0
    finally:
        agent.stub.close()


def test_claude_placeholder_queued_messages_and_auto_mode_selection(lab, short_tmp):
    """Claude Code 2.1.332: `❯ ` + its cursor over `R` + faint `esend your message to try again`
    after a failed request is an empty composer; `Press up to edit queued messages` is a turn."""
    agent = Agent(lab, short_tmp, "claude")
    try:
        agent.stub.fail_next()
        agent.prompt("this request fails")
        retry_until(lambda: "esend your message to try again" in agent.plain(), 30, 0.3)
        retry_until(lambda: agent.status()["surface"] == "idle", 10, 0.3)
        mid = tb_json("send", "claude", "delivered into the placeholder", "--from", "peer", "--no-wake")["id"]
        p = tb("drain", "claude")
        assert p.returncode == 0, p.err
        retry_until(lambda: drained_turns(agent.stub, mid), 30, 0.3)
        settle(agent)

        agent.stub.hold()
        agent.prompt("start working")
        retry_until(agent.stub.waiting.is_set, 60, 0.2)
        agent.prompt("a queued idea")
        retry_until(lambda: "Press up to edit queued messages" in agent.plain(), 30, 0.3)
        row = agent.status()
        assert row["surface"] == "working", row
        mid = tb_json("send", "claude", "waits for the turn", "--from", "peer", "--no-wake")["id"]
        p = tb("drain", "claude")
        assert p.returncode == 4 and "working" in p.err, p.err
        assert tb_json("wake", "claude")["outcome"] == "skipped_busy"
        assert "waits for the turn" not in agent.plain() and tb_json("receipt", mid)["state"] == "queued"
        agent.stub.release()
    finally:
        agent.stub.close()


def test_claude_auto_mode_selection_is_a_dialog_never_answered(lab, short_tmp):
    agent = Agent(lab, short_tmp, "claude", nudge=True, ready="Make auto mode your default permission mode?")
    try:
        tb("send", "claude", "arrives while Claude asks its person", "--from", "peer", "--no-wake")
        row = agent.status()
        assert row["surface"] == "dialog" and "Make auto mode your default" in row["reason"], row
        for args in (["drain", "claude"], ["drain", "claude", "--force"], ["submit", "claude", "x"]):
            p = tb(*args)
            assert p.returncode == 4 and "dialog" in p.err, (args, p.returncode, p.err)
        assert tb_json("wake", "claude")["outcome"] == "skipped_busy"
        time.sleep(2.0)
        assert "Make auto mode your default permission mode?" in agent.plain()  # still asking
        settings = json.loads((agent.home / ".claude" / "settings.json").read_text())
        assert settings["permissions"]["defaultMode"] == "default"  # nothing chose for the person
        assert agent.stub.main_requests() == [] and agent.status()["pending"] == 1
    finally:
        agent.stub.close()


def test_codex_gets_no_enter_on_termbridge_text_while_it_works(lab, short_tmp):
    """Termbridge's text in the composer of a working Codex (`› TEXT` with `• Working` on screen) is
    `working`: no Enter goes into the turn. Once the turn ends it is `ours`: one Enter submits it."""
    agent = Agent(lab, short_tmp, "codex")
    text = "termbridge text typed during a turn"
    try:
        agent.stub.hold()
        agent.prompt("start working")
        retry_until(agent.stub.waiting.is_set, 60, 0.2)
        p = tb("submit", "codex", text, "--no-enter")
        assert p.returncode == 0, p.err
        retry_until(lambda: text in agent.plain(), 10, 0.2)
        row = agent.status()
        assert row["surface"] == "working" and "Working" in row["reason"], row
        p = tb("submit", "codex", "--enter-only")
        assert p.returncode == 4 and "working" in p.err, p.err
        time.sleep(1.0)
        assert turns_of(agent.stub, text) == 0
        agent.stub.release()
        retry_until(lambda: agent.status()["surface"] == "ours", 30, 0.3)
        res = tb_json("submit", "codex", "--enter-only")
        assert res["submitted"] and res["enter_presses"] == 1, res
        retry_until(lambda: turns_of(agent.stub, text), 30, 0.3)
        settle(agent)
        assert turns_of(agent.stub, text) == 1
    finally:
        agent.stub.close()
