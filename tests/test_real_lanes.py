"""The native lanes into the REAL agents (pinned newest releases, offline: tests/agent_stub.py):
Claude Code 2.1.332's messaging socket and Codex 0.171's `codex queue` in its stock daemon mode.
Per agent with a channel: a message goes in through it while a person's draft sits in the
composer (the model gets it, the draft is still there, lane `native`, receipt `submitted` via
`native:<kind>` and then `received` from the session's own record). `--lane terminal` types and
holds at the draft; Gemini CLI has no channel (lane `terminal`); a real dialog holds a native
message until the person answers it; the socket going away between the lane's choice and the
send falls back to typing, and the model gets the message once.

Opt-in: TERMBRIDGE_REAL_TIERS=1 (tests/real_agent_lab.py)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import pytest
from agent_stub import AgentStub
from helpers import retry_until, tb, tb_json
from real_agent_lab import DIALOG, ModuleState, RealAgent, needs_agents

pytestmark = [needs_agents, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def state():
    tmp = Path(tempfile.mkdtemp(prefix="tbrl", dir="/tmp"))
    st = ModuleState(tmp)
    st.stub = AgentStub()
    st.agents = {}
    yield st
    for a in st.agents.values():
        a.close()
    st.stub.close()
    st.close()
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)


def _agent(state, kind: str) -> RealAgent:
    """One agent of KIND for the module (Claude Code in manual mode: a tool call raises its dialog)."""
    if kind not in state.agents:
        a = RealAgent(state.lab, state.stub, state.tmp, kind, manual=kind == "claude")
        p = tb("register", kind, "--pid", a.pid, "--kind", kind)
        assert p.returncode == 0, p.stderr
        state.agents[kind] = a
    a = state.agents[kind]
    state.stub.release()
    retry_until(lambda: row(kind)["surface"] == "idle", 60, 0.3)
    return a


@pytest.fixture
def claude(state):
    return _agent(state, "claude")


@pytest.fixture
def codex(state):
    a = _agent(state, "codex")
    if not getattr(a, "had_a_turn", False):  # codex queue needs a thread with a turn
        a.prompt("a first turn")
        retry_until(lambda: row("codex")["surface"] == "idle", 60, 0.3)
        a.had_a_turn = True
    return a


def row(name: str) -> dict:
    return next(s for s in tb_json("status")["sessions"] if s["name"] == name)


def receipt(mid: str) -> dict:
    return tb_json("receipt", mid)


def _transcript_entries(claude: RealAgent, mid: str) -> list[dict]:
    """The entries of Claude Code's own transcripts that carry MID."""
    out = []
    for f in (claude.home / ".claude" / "projects").glob("*/*.jsonl"):
        for line in f.read_text().splitlines():
            if mid in line:
                out.append(json.loads(line))
    return out


def _clear(agent: RealAgent) -> None:
    agent.keys("C-u")
    retry_until(lambda: row(agent.kind)["surface"] == "idle", 30, 0.3)


@pytest.mark.parametrize("kind", ["claude", "codex"])
def test_a_message_goes_in_by_the_agents_own_channel_with_a_draft_in_the_composer(state, kind, request):
    agent = request.getfixturevalue(kind)
    retry_until(lambda: row(kind)["lane"] == "native", 30, 0.5)
    draft = f"a person's draft for {kind}, not sent"
    agent.type_slowly(draft)
    retry_until(lambda: row(kind)["surface"] == "draft", 10, 0.3)
    sent = tb_json("send", kind, f"native note to {kind}", "--from", "peer", "--reply-to", "01PREVIOUS")
    mid = sent["id"]
    assert sent["wake"] == "sent", sent
    r = receipt(mid)
    assert (r["state"], r["via"]) in {
        ("submitted", f"native:{kind}"),
        ("received", "record"),
        ("received", f"hook:{kind}"),
    }
    hits = retry_until(lambda: agent.stub.seen(mid), 60, 0.2)  # the model got it, framed
    assert f"native note to {kind}" in json.dumps(hits[-1]["body"]) and "01PREVIOUS" in json.dumps(hits[-1]["body"])
    retry_until(lambda: receipt(mid)["state"] == "received", 60, 0.5)
    retry_until(lambda: row(kind)["surface"] == "draft", 30, 0.3)
    assert draft in agent.plain()  # never touched: still the person's
    assert row(kind)["lane"] == "native"
    _clear(agent)


def test_lane_terminal_types_and_holds_at_the_draft(state, claude):
    pid = row("claude")["pid"]  # the TUI registered at start (Claude runs helpers of its own kind)
    p = tb("register", "claude", "--pid", pid, "--kind", "claude", "--lane", "terminal")
    assert p.returncode == 0, p.stderr
    try:
        assert row("claude")["lane"] == "terminal"
        claude.type_slowly("my own draft")
        retry_until(lambda: row("claude")["surface"] == "draft", 10, 0.3)
        mid = tb_json("send", "claude", "typed, not by socket", "--from", "peer", "--no-wake")["id"]
        p = tb("drain", "claude")
        assert p.returncode == 4 and "draft" in p.err, p.err
        assert receipt(mid)["state"] == "queued" and not claude.stub.seen(mid)
        _clear(claude)
        retry_until(lambda: tb("drain", "claude").returncode == 0 or receipt(mid)["state"] != "queued", 30, 1.0)
        retry_until(lambda: receipt(mid)["state"] == "received", 60, 0.5)
        assert receipt(mid)["via"] == "record"
        events = [json.loads(line) for line in (state.home / "events.log").read_text().splitlines()]
        sub = [e for e in events if e["event"] == "submit" and e.get("session") == "claude"][-1]
        assert sub.get("lane") != "native" and sub.get("enter_presses", 0) >= 1  # typed, Enter pressed
    finally:
        tb("register", "claude", "--pid", pid, "--kind", "claude", "--lane", "auto")


def test_gemini_has_only_the_terminal_lane(state):
    _agent(state, "gemini")
    r = row("gemini")
    assert r["lane"] == "terminal" and "no channel of its own" in r["lane_reason"]
    p = tb("register", "gemini", "--pid", row("gemini")["pid"], "--kind", "gemini", "--lane", "native")
    assert p.returncode == 2 and "no channel" in p.err


def test_a_dialog_holds_a_native_message_until_the_person_answers(state, claude):
    marker = state.tmp / "approved-by-person"
    claude.stub.next_tool_call(f"touch {marker}")
    claude.prompt("run the command")
    claude.wait_for(DIALOG["claude"], 60)
    retry_until(lambda: row("claude")["surface"] == "dialog", 10, 0.3)
    mid = tb_json("send", "claude", "a native message during the dialog", "--from", "peer")["id"]
    # Claude's transcript records the held message as queued at once: that is no receipt yet.
    retry_until(lambda: {e.get("type") for e in _transcript_entries(claude, mid)} == {"queue-operation"}, 10, 0.2)
    r = receipt(mid)
    assert (r["state"], r["via"]) == ("submitted", "native:claude"), r
    time.sleep(1.5)  # Claude starts a socket turn within 0.25 s when free: it must not have
    assert DIALOG["claude"] in claude.plain() and not marker.exists()  # the dialog still waits for its person
    assert not claude.stub.seen(mid)
    claude.keys("Enter")  # the person approves
    retry_until(marker.exists, 30, 0.2)
    retry_until(lambda: claude.stub.seen(mid), 60, 0.3)  # then the message goes in
    retry_until(lambda: receipt(mid)["state"] == "received", 60, 0.5)
    retry_until(lambda: row("claude")["surface"] == "idle", 60, 0.3)


def test_the_socket_gone_before_the_send_falls_back_to_typing_once(state, claude):
    from termbridge.lanes import claude_socket

    ch, why = claude_socket.find(row("claude")["pid"])
    assert ch is not None, why
    away = ch.socket_path + ".away"
    os.rename(ch.socket_path, away)  # the session file still names it: the lane is chosen, the send fails
    try:
        mid = tb_json("send", "claude", "falls back once", "--from", "peer")["id"]
        retry_until(lambda: receipt(mid)["state"] == "received", 60, 0.5)
        assert receipt(mid)["via"] == "record"
        events = [json.loads(line) for line in (state.home / "events.log").read_text().splitlines()]
        assert any(e["event"] == "lane_fallback" and "gone" in e.get("reason", "") for e in events)
        sub = [e for e in events if e["event"] == "submit" and e.get("session") == "claude"][-1]
        assert sub.get("lane") != "native"
        # Once: one user entry in Claude's own transcript carries it.
        entries = [e for e in _transcript_entries(claude, mid) if e.get("type") == "user"]
        assert len(entries) == 1, entries
        assert "gone" in row("claude")["lane_reason"]
    finally:
        os.rename(away, ch.socket_path)
    assert row("claude")["lane"] == "native"
