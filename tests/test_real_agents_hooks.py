"""termbridge's hooks in REAL turns of Codex, Claude Code and Gemini CLI, offline, on the pinned
releases, each as it ships: Codex in its daemon mode (its hooks run as children of a background
`codex app-server --managed-daemon`, not of the TUI), Claude Code in its default (auto) mode.

The hooks are installed by `termbridge hooks install` into a scratch HOME, the model API is a
loopback stub (tests/agent_stub.py), so the agents finish real turns and run their hooks.
Checked per agent: SessionStart registers the agent's own TUI (its PID in `status`, its pane in
`resolve`); a message sent while it works is handed over by Stop/AfterAgent and reaches the
model; a drained message's receipt turns `received` through prompt-submit; no hook call fails.
Codex: two TUIs on one daemon are two sessions with their own PIDs and panes; a fresh install
meets Codex's own "Hooks need review" screen (termbridge never trusts them for the user).

Run by `./dev.sh test` (it installs the agents); skipped only when they could not be installed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from agent_stub import AgentStub
from helpers import retry_until, tb, tb_json
from real_agent_lab import (
    KINDS,
    READY,
    TERMS,
    ModuleState,
    RealAgent,
    agent_env,
    agent_setup,
    codex_daemons,
    needs_agents,
    reap_codex_daemons,
)

from termbridge import agents, proctree

pytestmark = [needs_agents, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def state():
    tmp = Path(tempfile.mkdtemp(prefix="tbrh", dir="/tmp"))
    st = ModuleState(tmp)
    st.stub = AgentStub()
    yield st
    st.stub.close()
    st.close()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def agent(state, request):
    """One agent of the kind the test is parametrized with, shared by the module's tests."""
    a = RealAgent(state.lab, state.stub, state.tmp, request.param, hooks=True)
    yield a
    a.close()


def session(name: str) -> dict | None:
    return next((s for s in tb_json("sessions")["sessions"] if s["name"] == name), None)


def status_row(name: str) -> dict:
    return next(s for s in tb_json("status")["sessions"] if s["name"] == name)


def receipts_log(name: str) -> list[dict]:
    path = Path(os.environ["TERMBRIDGE_HOME"]) / "sessions" / name / "receipts.log"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def hook_errors() -> list[dict]:
    return [e for e in map(json.loads, tb("events", "--json").out.splitlines()) if e["event"] == "hook_error"]


@pytest.mark.parametrize("agent", KINDS, indirect=True)
def test_session_start_registers_the_agents_own_tui(agent):
    agent.stub.hold()
    try:
        agent.prompt("start working")
        retry_until(agent.stub.waiting.is_set, 60, 0.2)  # in its turn (Codex: SessionStart has run by now)
        s = retry_until(lambda: session(agent.name), 30, 0.2)
        assert (s["pid"], s["kind"]) == (agent.pid, agent.kind), (s, agent.pid)
        assert status_row(agent.name)["pid"] == agent.pid
        r = tb_json("resolve", agent.name)
        assert (r["backend"], r["target"]) == ("tmux", f"tmux:{agent.id}")
        # A message sent while it works is handed over when the turn ends, and reaches the model.
        before = len(agent.stub.main_requests())
        mid = tb_json("send", agent.name, "peer note: please also check the README", "--from", "peer", "--no-wake")[
            "id"
        ]
    finally:
        agent.stub.release()
    hit = retry_until(lambda: [q for q in agent.stub.main_requests()[before:] if mid in json.dumps(q["body"])], 60, 0.2)
    assert "please also check the README" in json.dumps(hit[0]["body"])
    assert status_row(agent.name)["pending"] == 0
    assert any(e["id"] == mid and e["via"] == "hook" and e["state"] == "submitted" for e in receipts_log(agent.name))
    assert hook_errors() == []  # every hook call understood its agent's input


@pytest.mark.parametrize("agent", KINDS, indirect=True)
def test_a_drained_message_is_received_through_prompt_submit(agent):
    retry_until(lambda: session(agent.name), 60, 0.2)
    retry_until(lambda: status_row(agent.name)["surface"] == "idle", 60, 0.3)
    mid = tb_json("send", agent.name, "drained note", "--from", "peer", "--no-wake")["id"]
    retry_until(lambda: tb("drain", agent.name).returncode == 0, 30, 0.5)
    retry_until(
        lambda: any(
            e["id"] == mid and e["state"] == "received" and e["via"] == f"hook:{agent.kind}"
            for e in receipts_log(agent.name)
        ),
        60,
        0.3,
    )
    assert retry_until(lambda: agent.stub.seen(mid), 30, 0.3)
    assert hook_errors() == []


def test_two_codex_tuis_on_one_daemon_are_two_sessions(state):
    """A second Codex TUI in the same directory on the same CODEX_HOME: the same daemon runs both
    threads and both TUIs' hooks; each registers its own TUI, by its own TERMBRIDGE_SESSION.

    The pair is the test's own (not the module's agent), so a rerun starts from a new daemon."""
    one = RealAgent(state.lab, state.stub, state.tmp, "codex", "codex-one", hooks=True)
    two = None
    try:
        one.prompt("hello from the first window")  # Codex runs SessionStart at its first turn
        first = retry_until(lambda: session("codex-one"), 60, 0.2)
        two = RealAgent(state.lab, state.stub, state.tmp, "codex", "codex-two", home=one.home, hooks=True)
        try:  # one daemon serves both; say which Codex processes there were when there was none
            daemons = retry_until(lambda: [p for p in codex_daemons(one.home) if agents.is_codex_daemon(p)], 30, 0.2)
        except AssertionError:
            pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
            codex = {p: proctree.cmdline(p) for p in pids if agents.agent_kind(p) == "codex"}
            raise AssertionError(f"no Codex daemon for {one.home}; Codex processes: {codex}") from None
        assert len(daemons) == 1
        both = sorted([one.pid, two.pid])
        retry_until(lambda: sorted(agents.daemon_clients(daemons[0])) == both, 30, 0.2)
        two.prompt("hello from the second window")
        s = retry_until(lambda: session("codex-two"), 60, 0.2)
        assert s["pid"] == two.pid != one.pid
        assert tb_json("resolve", "codex-two")["target"] == f"tmux:{two.id}"
        assert session("codex-one")["pid"] == first["pid"] == one.pid  # the first one kept its own
        assert tb_json("resolve", "codex-one")["target"] == f"tmux:{one.id}"
        # Each one's hooks act for its own session: a message to the second reaches the second thread.
        retry_until(lambda: status_row("codex-two")["surface"] == "idle", 60, 0.3)
        mid = tb_json("send", "codex-two", "for the second window", "--from", "peer", "--no-wake")["id"]
        retry_until(lambda: tb("drain", "codex-two").returncode == 0, 30, 0.5)
        retry_until(
            lambda: any(e["id"] == mid and e["via"] == "hook:codex" for e in receipts_log("codex-two")), 60, 0.3
        )
        assert not any(e["id"] == mid for e in receipts_log("codex-one"))
        assert hook_errors() == []
    finally:
        if two is not None:
            two.close()
        one.close()  # the TUI, then the daemon both shared


def test_codex_asks_its_user_to_trust_the_installed_hooks(state):
    """termbridge never writes Codex's trust state: a fresh install meets Codex's own review screen."""
    trial = Path(tempfile.mkdtemp(prefix="trust", dir=state.tmp))  # a rerun starts anew
    home, work = trial / "home", trial / "work"
    home.mkdir()
    work.mkdir()
    cmd = agent_setup("codex", home, work, state.stub.port)
    env = agent_env("codex", home)
    assert tb("hooks", "install", "--agent", "codex", env=env).returncode == 0
    pane = state.lab.pane(f"cd {work} && exec {TERMS['screen']} TERMBRIDGE_SESSION=trusting {cmd}")
    plain = lambda: state.lab.tmux("capture-pane", "-p", "-t", pane.pane_id)  # noqa: E731
    try:
        retry_until(lambda: "Hooks need review" in plain(), 60, 0.2)
        config = (home / ".codex" / "config.toml").read_text()
        assert "\nhooks = true" in config and "codex_hooks" not in config and "trusted_hash" not in config
        assert session("trusting") is None  # nothing ran before the user trusted the hooks
        doctor = lambda: {c["name"]: c for c in json.loads(tb("doctor", "--json", env=env).out)["checks"]}  # noqa: E731
        assert "not trusted yet" in doctor()["codex hooks"]["detail"]
        state.lab.tmux("send-keys", "-t", pane.pane_id, "2")  # the user picks "Trust all and continue"
        retry_until(lambda: "› 2." in plain(), 10, 0.1)
        state.lab.tmux("send-keys", "-t", pane.pane_id, "Enter")
        retry_until(lambda: "trusted_hash" in (home / ".codex" / "config.toml").read_text(), 30, 0.2)
        assert doctor()["codex hooks"]["status"] == "ok"  # doctor reads Codex's own trust records
        retry_until(lambda: READY["codex"] in plain(), 30, 0.2)
    finally:
        state.lab.tmux("kill-pane", "-t", pane.pane_id)
        reap_codex_daemons(home)
