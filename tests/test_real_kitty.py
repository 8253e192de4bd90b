"""Real tier: Codex, Claude Code and Gemini CLI in a REAL kitty under Xvfb, offline (scratch HOME,
model API on loopback), driven by termbridge's kitty backend through kitty's remote-control
socket. Per agent:

- it reaches its composer, and its empty composer reads `idle` (`status`), focused or not
  (Claude and Gemini draw their own cursor cell, and only while the window has focus);
- `submit` of one line and of several lines each arrive as ONE submission (one model turn
  whose user message is exactly the text), confirmed, with one Enter;
- a drain into the idle agent, while another tab holds kitty's focus, delivers the message once;
- a person's draft is left alone (`drain`, `drain --force` exit 4, `wake` skips it, nothing
  reaches the model) and a real permission dialog reads `dialog`, naming the command, and
  nothing termbridge does answers it.

    TERMBRIDGE_REAL_AGENTS=/root/.cache/termbridge-agents/node_modules/.bin \\
        .venv/bin/python -m pytest tests/test_real_kitty.py
"""

from __future__ import annotations

import threading
import time

import pytest
from helpers import retry_until, tb, tb_json
from real_agent_lab import DIALOG
from real_kitty_lab import KittyAgent, drained_turns, real_tier, turns_of

pytestmark = [pytest.mark.timeout(600), *real_tier()]
KINDS = ["codex", "claude", "gemini"]
DRAFT = "do not send this yet"


@pytest.fixture
def agent(request, short_tmp, home, monkeypatch):
    a = KittyAgent(short_tmp, request.param)
    monkeypatch.setenv("TERMBRIDGE_KITTY_SOCKET", a.address)
    p = tb("register", a.kind, "--pid", a.pid, "--kind", a.kind, "--lane", "terminal")  # typed into kitty
    assert p.returncode == 0, p.err
    yield a
    a.close()


def status(kind: str) -> dict:
    return next(r for r in tb_json("status")["sessions"] if r["name"] == kind)


def settle(agent: KittyAgent) -> None:
    """Wait until the agent's turn is over (its composer idle again)."""
    retry_until(lambda: agent.judged().kind == "idle", 60, 0.3)


@pytest.mark.parametrize("agent", KINDS, indirect=True)
def test_submit_and_drain_into_the_idle_agent_arrive_once_each(agent):
    assert agent.judged().kind == "idle"
    row = status(agent.kind)
    assert (row["backend"], row["surface"]) == ("kitty", "idle"), row
    one = "one line from termbridge"
    res = tb_json("submit", agent.kind, one)
    assert res["submitted"] and res["confirmed"] == "screen", res
    print(agent.kind, "one line: Enter presses", res["enter_presses"])
    retry_until(lambda: turns_of(agent.stub, one), 60, 0.3)
    settle(agent)
    assert turns_of(agent.stub, one) == 1

    several = "first line from termbridge\nsecond line\nthird line, the last"
    res = tb_json("submit", agent.kind, several)
    assert res["submitted"] and res["confirmed"] == "screen", res
    print(agent.kind, "three lines: Enter presses", res["enter_presses"])
    retry_until(lambda: turns_of(agent.stub, several), 60, 0.3)
    settle(agent)
    assert turns_of(agent.stub, several) == 1
    assert not any(turns_of(agent.stub, line) for line in several.split("\n"))  # no line went on its own

    agent.focus_away()  # the agent's own cursor cell goes: no change of content between samples
    assert status(agent.kind)["surface"] == "idle"
    mid = tb_json("send", agent.kind, "a peer note for the drain", "--from", "peer", "--no-wake")["id"]
    p = tb("drain", agent.kind)
    assert p.returncode == 0, p.err
    retry_until(lambda: drained_turns(agent.stub, mid), 60, 0.3)
    agent.focus_back()
    settle(agent)
    assert drained_turns(agent.stub, mid) == 1
    assert tb("drain", agent.kind).returncode == 0  # nothing pending: nothing typed
    time.sleep(1.0)
    assert drained_turns(agent.stub, mid) == 1 and status(agent.kind)["pending"] == 0


@pytest.mark.parametrize("agent", KINDS, indirect=True)
def test_a_persons_draft_and_a_real_dialog_are_never_typed_into(agent, short_tmp):
    agent.type_slowly(DRAFT)
    s = agent.judged()
    assert (s.kind, s.text) == ("draft", DRAFT)
    n = len(agent.stub.main_requests())
    mid = tb_json("send", agent.kind, "peer note", "--from", "peer", "--no-wake")["id"]
    assert status(agent.kind)["surface"] == "draft"
    for args in (["drain", agent.kind], ["drain", agent.kind, "--force"], ["submit", agent.kind, "x"]):
        p = tb(*args)
        assert p.returncode == 4 and "draft" in p.err, (args, p.returncode, p.err)
    assert tb_json("wake", agent.kind)["outcome"] == "skipped_busy"
    time.sleep(1.0)
    s = agent.judged()
    assert (s.kind, s.text) == ("draft", DRAFT)  # exactly the person's text
    assert len(agent.stub.main_requests()) == n and tb_json("receipt", mid)["state"] == "queued"

    agent.key("\x7f" * (len(DRAFT) + 2))  # the person clears it
    retry_until(lambda: agent.judged().kind == "idle", 10, 0.3)
    assert tb("drain", agent.kind).returncode == 0  # the peer note goes now, before the dialog
    retry_until(lambda: drained_turns(agent.stub, mid), 60, 0.3)
    settle(agent)

    marker = short_tmp / "approved"
    agent.stub.next_tool_call(f"touch {marker}")
    agent.prompt("run the command")
    retry_until(lambda: DIALOG[agent.kind] in agent.plain(), 90, 0.3)
    time.sleep(1.5)
    n = len(agent.stub.main_requests())
    tb("send", agent.kind, "a peer message arrives during the dialog", "--from", "peer", "--no-wake")
    row = status(agent.kind)
    assert row["surface"] == "dialog" and str(marker) in row["reason"], row
    for args in (
        ["drain", agent.kind],
        ["drain", agent.kind, "--force"],
        ["submit", agent.kind, "x"],
        ["submit", agent.kind, "--enter-only"],
    ):
        p = tb(*args)
        assert p.returncode == 4 and "dialog" in p.err, (args, p.returncode, p.err)
    assert tb_json("wake", agent.kind)["outcome"] == "skipped_busy"
    time.sleep(2.0)
    assert DIALOG[agent.kind] in agent.plain() and status(agent.kind)["surface"] == "dialog"
    assert not marker.exists()  # nothing approved it
    assert len(agent.stub.main_requests()) == n and status(agent.kind)["pending"] == 1


@pytest.mark.parametrize("agent", ["claude", "gemini"], indirect=True)
def test_a_window_gaining_and_losing_focus_between_samples_is_no_change(agent):
    """Claude and Gemini draw their own cursor cell, only while the window has focus; kitty keeps
    Claude's as a trailing space in the plain text. A drain's two idle samples 350 ms apart, with
    the focus moving in between, still read `idle` (compared by content, not by the cursor cell)."""
    agent.focus_away()
    other = next(w["id"] for w in agent.kitty.windows() if w["id"] != agent.wid)
    stop = threading.Event()

    def flap() -> None:  # a person clicking between two tabs, about once per sample gap
        while not stop.is_set():
            for wid in (agent.wid, other):
                agent.client.command("focus-window", {"match": f"id:{wid}"})
                stop.wait(0.35)

    flapper = threading.Thread(target=flap, daemon=True)
    flapper.start()
    try:
        for i in range(3):
            mid = tb_json("send", agent.kind, f"peer note {i}", "--from", "peer", "--no-wake")["id"]
            p = tb("drain", agent.kind)
            assert p.returncode == 0, (i, p.err)
            retry_until(lambda: drained_turns(agent.stub, mid), 60, 0.3)  # noqa: B023 - used at once
            settle(agent)
    finally:
        stop.set()
        flapper.join()
    assert status(agent.kind)["pending"] == 0
