"""The terminal lane into the REAL Codex, Claude Code and Gemini CLI in tmux, offline (scratch HOME,
model API on loopback: tests/agent_stub.py), on the pinned releases (termbridge/agent_versions.py),
each as it ships (Codex in its daemon mode; Claude Code in manual permission mode so a tool call
raises its dialog). One agent of each kind serves the whole module; every test leaves it back
at its empty composer. Per agent:

- `submit` delivers text verbatim, shortcut keys and all (`?`, `!`, `@`, `\\`), and multi-line
  text as one prompt, as the agent's own record shows;
- `drain` into the idle agent: one framed submission, `received` from the agent's own record;
- a person's draft is left alone (`drain`, `drain --force`, `wake` refuse; nothing reaches the model);
- a working agent gets nothing until it is idle again;
- a real permission dialog is never typed into, and the message waits for it.

Run by `./dev.sh test` (it installs the agents); skipped only when they could not be installed.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pytest
from agent_stub import AgentStub
from helpers import retry_until, tb, tb_json
from real_agent_lab import DIALOG, KINDS, ModuleState, RealAgent, needs_agents

pytestmark = [needs_agents, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def state():
    tmp = Path(tempfile.mkdtemp(prefix="tbra", dir="/tmp"))
    st = ModuleState(tmp)
    st.stub = AgentStub()
    yield st
    st.stub.close()
    st.close()
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module", params=KINDS)
def agent(state, request):
    a = RealAgent(state.lab, state.stub, state.tmp, request.param, manual=True)
    p = tb("register", a.kind, "--pid", a.pid, "--kind", a.kind, "--lane", "terminal")  # the typed way in
    assert p.returncode == 0, p.stderr
    yield a
    a.close()


@pytest.fixture
def idle(agent):
    """The shared agent at its empty composer, as termbridge reads it."""
    try:
        retry_until(lambda: row(agent)["surface"] == "idle", 60, 0.3)
    except AssertionError:
        raise AssertionError(f"{agent.kind} never idle: {row(agent)}\n{agent.plain()}") from None
    yield agent
    agent.stub.release()


def row(agent) -> dict:
    return next(s for s in tb_json("status")["sessions"] if s["name"] == agent.name)


def received(mid: str) -> dict | None:
    r = tb_json("receipt", mid)
    return r if r["state"] == "received" else None


def test_submit_arrives_verbatim_shortcut_keys_and_all(idle):
    token = f"token-{time.monotonic_ns()}"
    # Gemini CLI reads `?` typed as a key as "show shortcuts" and `!` as "shell mode" (dropping them).
    text = f"will you send? {token} ! not a shell, @ not a file, back\\slash"
    p = tb("submit", idle.kind, text)
    assert p.returncode == 0, p.stderr
    hit = retry_until(lambda: [x for x in idle.recorded() if token in x], 60, 0.3)
    assert text in hit, hit  # exactly as sent, in its own record
    assert retry_until(lambda: idle.stub.seen(token), 60, 0.3)


def test_submit_keeps_a_slash_at_the_start(idle):
    """Text that starts with `/` is a command line to every agent: typed verbatim it reaches the
    composer verbatim (the agent then runs its own command, which is the sender's choice)."""
    text = "/tb-no-such-command x?"
    p = tb("submit", idle.kind, text, "--no-enter")
    assert p.returncode == 0, p.stderr
    retry_until(lambda: text in idle.plain(), 10, 0.2)
    idle.keys("C-u")
    retry_until(lambda: text not in idle.plain(), 10, 0.2)


def test_multi_line_submit_is_one_prompt(idle):
    token = f"token-{time.monotonic_ns()}"
    text = f"first line {token}\nsecond line\n    indented third?"
    p = tb("submit", idle.kind, text)
    assert p.returncode == 0, p.stderr
    hit = retry_until(lambda: [x for x in idle.recorded() if token in x], 60, 0.3)
    assert any(text in x for x in hit), hit  # one prompt, its newlines kept


def test_drain_into_the_idle_agent_is_received_from_its_own_record(idle):
    ids = [
        tb_json("send", idle.kind, body, "--from", "peer", "--no-wake")["id"] for body in ("first note", "second\nnote")
    ]
    p = tb("drain", idle.kind)
    assert p.returncode == 0, p.stderr
    retry_until(lambda: all(received(i) for i in ids), 60, 0.5)
    assert all(tb_json("receipt", i)["via"] == "record" for i in ids)
    # One framed submission carries both.
    assert any(all(i in x for i in ids) for x in idle.recorded())


def test_a_persons_draft_is_left_alone(idle):
    draft = "my own draft, not yet sent"
    idle.type_slowly(draft)
    retry_until(lambda: row(idle)["surface"] == "draft", 10, 0.3)
    n = len(idle.stub.requests)
    mid = tb_json("send", idle.kind, "peer note", "--from", "peer", "--no-wake")["id"]
    for args in (["drain", idle.kind], ["drain", idle.kind, "--force"]):
        p = tb(*args)
        assert p.returncode == 4 and "draft" in p.err, (args, p.returncode, p.err)
    assert tb_json("wake", idle.kind)["outcome"] == "skipped_busy"
    assert draft in idle.plain() and "peer note" not in idle.plain()  # exactly as the person left it
    assert len(idle.stub.requests) == n  # nothing submitted
    assert tb_json("receipt", mid)["state"] == "queued"
    idle.keys("C-u")  # the person clears it: the message goes in
    retry_until(lambda: row(idle)["surface"] == "idle", 30, 0.3)
    retry_until(lambda: tb("drain", idle.kind).returncode == 0 or received(mid), 30, 1.0)
    retry_until(lambda: received(mid), 60, 0.5)


def test_a_working_agent_gets_nothing_until_idle(idle):
    idle.stub.hold()
    try:  # the stub is the module's: a failure here must not leave every later turn waiting
        idle.prompt("start working")
        retry_until(idle.stub.waiting.is_set, 60, 0.2)
        retry_until(lambda: row(idle)["surface"] == "working", 30, 0.3)
        mid = tb_json("send", idle.kind, "must wait", "--from", "peer", "--no-wake")["id"]
        assert tb_json("wake", idle.kind)["outcome"] == "skipped_busy"
        p = tb("drain", idle.kind)
        assert p.returncode == 4 and "busy" in p.err, p.err
        assert tb_json("receipt", mid)["state"] == "queued"
    finally:
        idle.stub.release()
    retry_until(lambda: row(idle)["surface"] == "idle", 60, 0.3)
    retry_until(lambda: tb("drain", idle.kind).returncode == 0 or received(mid), 30, 1.0)
    retry_until(lambda: received(mid), 60, 0.5)


def test_a_real_dialog_is_never_typed_into(idle, state):
    marker = state.tmp / f"approved-{idle.kind}"
    idle.stub.next_tool_call(f"touch {marker}")
    idle.prompt("run the command")
    idle.wait_for(DIALOG[idle.kind], 60)
    retry_until(lambda: row(idle)["surface"] == "dialog", 10, 0.3)
    n = len(idle.stub.main_requests())
    mid = tb_json("send", idle.kind, "a peer message during the dialog", "--from", "peer", "--no-wake")["id"]
    for args in (
        ["drain", idle.kind],
        ["drain", idle.kind, "--force"],
        ["submit", idle.kind, "y"],
        ["submit", idle.kind, "--enter-only"],
    ):
        p = tb(*args)
        assert p.returncode == 4 and "dialog" in p.err, (args, p.returncode, p.err)
    assert tb_json("wake", idle.kind)["outcome"] == "skipped_busy"
    time.sleep(1.0)  # let anything typed land before looking (it must not have been)
    assert DIALOG[idle.kind] in idle.plain()  # still waiting for its person
    assert not marker.exists()  # nothing approved it
    assert len(idle.stub.main_requests()) == n  # no tool result went back to the model
    assert tb_json("receipt", mid)["state"] == "queued"
    idle.keys("Escape")  # the person declines; Claude Code puts the prompt back: clear it
    retry_until(lambda: DIALOG[idle.kind] not in idle.plain(), 10, 0.2)
    time.sleep(0.5)
    idle.keys("C-u")
    retry_until(lambda: row(idle)["surface"] == "idle", 30, 0.3)
    retry_until(lambda: tb("drain", idle.kind).returncode == 0 or received(mid), 30, 1.0)
    retry_until(lambda: received(mid), 60, 0.5)
    assert not marker.exists()
    assert json.dumps(idle.stub.main_requests()).count("a peer message during the dialog") >= 1
